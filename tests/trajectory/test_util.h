// tests/trajectory/test_util.h — batches with recognisable content for the tests of the rooms
// that carry trajectories (trajectory, comm, trajlog).
#pragma once

#include <string>

#include "trajectory/record.h"

namespace iranker::testing {

// A batch whose every field depends on `tag`, with `steps` steps of `tokens` response tokens.
inline TrajectoryBatch MakeBatch(int tag, int steps = 2, int tokens = 16) {
  TrajectoryBatch b;
  b.actor_id = tag % 7;
  b.actor_incarnation = 1000 + tag;
  b.batch_seq = tag;
  for (int i = 0; i < steps; ++i) {
    StepRecord s;
    s.episode_id = 77 + tag;
    s.step = i;
    s.pool_size = 20 - i;
    s.query_id = "q" + std::to_string(tag);
    s.dataset = "msmarco";
    s.actor_id = b.actor_id;
    s.policy_version = 3;
    s.seed = 0xdeadbeefULL + tag;
    s.group_id = 5;
    for (int t = 0; t < tokens * 2; ++t) s.prompt_ids.push_back(t * 3 + tag);
    for (int t = 0; t < tokens; ++t) {
      s.response_ids.push_back(1000 + t + i);
      s.logprobs.push_back(-0.01f * (t + 1) - tag);
    }
    s.alternatives = {2, 7 + tag, 8 + i, 1, 9};  // two other answers (learner.sft_loss=choice)
    s.reward = 0.5f + i;
    s.reward_answer = 1;
    s.reward_format = 0.25f;
    s.reward_tags = -0.5f;
    s.answer_text = "[" + std::to_string(i) + "] > [2] — ünïcode";
    s.chosen = i;
    s.valid_format = i % 2 == 0;
    s.episode_done = i + 1 == steps;
    b.steps.push_back(s);
  }
  EpisodeSummary e;
  e.episode_id = 77 + tag;
  e.query_id = "q" + std::to_string(tag);
  e.dataset = "msmarco";
  e.actor_id = b.actor_id;
  e.policy_version = 3;
  e.ranking = {3, 1, 2, 0};
  e.mrr = 0.5f;
  e.ndcg10 = 0.75f;
  e.hit1 = 0;
  e.num_steps = steps;
  e.fallbacks = 1;
  b.episodes.push_back(e);
  return b;
}

}  // namespace iranker::testing
