#include "actor/rollout.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "../model/test_util.h"
#include "base/error.h"
#include "model/weight_sync.h"
#include "ranking/metrics.h"
#include "ranking/synthetic.h"

namespace iranker {
namespace {

struct Fixture {
  Fixture() {
    tokenizer = Tokenizer::FromJson(ByteLevelTokenizerJson(), "byte-level");
    ModelConfig c = PresetConfig("tiny", tokenizer->vocab_size());
    torch::manual_seed(3);
    model = std::make_shared<DecoderLM>(c);
    model->eval();
    PromptOptions po;
    po.dir = std::string(IRANKER_SOURCE_DIR) + "/configs/prompts";
    po.assistant_prefill = "Let me solve this step by step.\n<think>\n...\n</think>\n<answer>\n";
    prompts = std::make_unique<PromptSet>(po);
    SyntheticOptions so;
    so.scenario = "recommendation";
    so.n = 3;
    so.candidates = 6;
    records = GenerateSynthetic(so);
    for (const auto& r : records) queries.push_back(&r);
  }
  std::unique_ptr<Tokenizer> tokenizer;
  std::shared_ptr<DecoderLM> model;
  std::unique_ptr<PromptSet> prompts;
  std::vector<QueryRecord> records;
  std::vector<const QueryRecord*> queries;
};

ActorOptions Options(EpisodeMode mode, int slots, bool reuse) {
  ActorOptions o;
  o.episode_mode = mode;
  o.group_size = 4;
  o.slots = slots;
  o.prefix_reuse = reuse;
  o.max_seq_len = 2048;
  return o;
}

TEST(Rollout, FullEpisodesProduceConsistentRecords) {
  Fixture f;
  RolloutRunner runner(*f.model, *f.tokenizer, *f.prompts, RewardOptions(),
                       Options(EpisodeMode::kFull, 8, true), 5);
  TrajectoryBatch batch;
  auto stats = runner.Run(f.queries, 42, /*version=*/7, &batch);
  EXPECT_EQ(stats.episodes, 3 * 4);
  EXPECT_EQ(batch.episodes.size(), 12u);
  // Constrained answers: every step eliminates one candidate, so each episode has N - 1 steps.
  EXPECT_EQ(batch.steps.size(), 12u * 5);
  std::map<uint64_t, std::vector<const StepRecord*>> by_episode;
  for (const auto& s : batch.steps) {
    by_episode[s.episode_id].push_back(&s);
    EXPECT_EQ(s.policy_version, 7u);
    EXPECT_EQ(s.actor_id, 5);
    EXPECT_EQ(s.response_ids.size(), s.logprobs.size());
    EXPECT_TRUE(s.valid_format) << s.answer_text;
    EXPECT_GE(s.chosen, 0);
    EXPECT_TRUE(s.reward == 1.0f || s.reward == 0.0f)
        << s.reward;  // negative removed / positive removed
  }
  for (const auto& [id, steps] : by_episode) {
    ASSERT_EQ(steps.size(), 5u);
    std::set<int> removed;
    for (size_t k = 0; k < steps.size(); ++k) {
      EXPECT_EQ(steps[k]->step, int(k));
      EXPECT_EQ(steps[k]->pool_size, 6 - int(k));
      EXPECT_TRUE(removed.insert(steps[k]->chosen).second) << "a candidate was removed twice";
      EXPECT_EQ(steps[k]->episode_done, k == 4);
    }
  }
  // Rewards and metrics against the ground truth: removing a relevant candidate earns
  // excluded_ground_truth (0), any other excluded_other (1); the episode's MRR is that of its
  // final ranking (reverse elimination order, the survivor first).
  std::map<std::string, const QueryRecord*> by_id;
  for (const auto& r : f.records) by_id[r.id] = &r;
  for (const auto& s : batch.steps) {
    const QueryRecord& r = *by_id.at(s.query_id);
    EXPECT_EQ(s.reward, r.relevance[s.chosen] > 0 ? 0.0f : 1.0f)
        << "step " << s.step << " removed " << s.chosen;
    EXPECT_EQ(s.reward_answer, s.reward);
  }
  for (const auto& e : batch.episodes) {
    const QueryRecord& r = *by_id.at(e.query_id);
    std::vector<double> ranked;
    for (int c : e.ranking) ranked.push_back(r.relevance[c]);
    EXPECT_FLOAT_EQ(e.mrr, static_cast<float>(ReciprocalRank(ranked)));
    std::set<int> all(e.ranking.begin(), e.ranking.end());
    EXPECT_EQ(all.size(), 6u) << "the final ranking is a permutation of the candidates";
  }
  for (const auto& e : batch.episodes) {
    EXPECT_EQ(e.ranking.size(), 6u);
    EXPECT_GT(e.mrr, 0.0f);
    // The last eliminated candidate is ranked second.
    const auto& steps = by_episode[e.episode_id];
    EXPECT_EQ(e.ranking[1], steps.back()->chosen);
    EXPECT_EQ(e.ranking[5], steps.front()->chosen);
  }
}

// A WeightSet holding the views' bytes, as the weight subscriber hands it to the actor.
comm::WeightSet ToWeightSet(const std::vector<comm::TensorView>& views, uint64_t version) {
  comm::WeightSet ws;
  ws.version = version;
  auto blob = std::make_shared<std::string>();
  for (const auto& v : views) {
    blob->resize((blob->size() + 63) / 64 * 64);
    comm::WeightSet::Entry e{v.name, v.dtype, v.shape, blob->size(), v.nbytes};
    blob->append(static_cast<const char*>(v.data), v.nbytes);
    ws.tensors.push_back(e);
  }
  ws.blob = blob;
  return ws;
}

TEST(Rollout, ActorSwapsWeightsBetweenBatchesAndTagsTheVersion) {
  Fixture f;
  torch::manual_seed(99);
  auto other = std::make_shared<DecoderLM>(f.model->config());
  other->eval();
  const ActorOptions o = Options(EpisodeMode::kFull, 8, true);
  RolloutRunner runner(*f.model, *f.tokenizer, *f.prompts, RewardOptions(), o, 2);
  TrajectoryBatch before, after, reference;
  runner.Run(f.queries, 17, /*version=*/0, &before);  // fills the prefix cache with the old weights
  ApplyWeights(*f.model, ToWeightSet(PolicyTensorViews(*other), 2));
  runner.InvalidateCache();
  runner.Run(f.queries, 17, /*version=*/1, &after);
  RolloutRunner fresh(*other, *f.tokenizer, *f.prompts, RewardOptions(), o, 2);
  fresh.Run(f.queries, 17, 1, &reference);
  ASSERT_EQ(after.steps.size(), reference.steps.size());
  auto key = [](const StepRecord& s) { return std::make_pair(s.seed, s.step); };
  std::map<std::pair<uint64_t, int>, const StepRecord*> ref;
  for (const auto& s : reference.steps) ref[key(s)] = &s;
  int differs_from_before = 0;
  std::map<std::pair<uint64_t, int>, const StepRecord*> old;
  for (const auto& s : before.steps) old[key(s)] = &s;
  for (const auto& s : after.steps) {
    EXPECT_EQ(s.policy_version, 1u);
    const StepRecord* r = ref.at(key(s));
    EXPECT_EQ(s.response_ids, r->response_ids);
    ASSERT_EQ(s.logprobs.size(), r->logprobs.size());
    for (size_t i = 0; i < s.logprobs.size(); ++i) EXPECT_NEAR(s.logprobs[i], r->logprobs[i], 1e-5);
    auto it = old.find(key(s));
    if (it != old.end() && !it->second->logprobs.empty() && !s.logprobs.empty())
      differs_from_before += std::abs(it->second->logprobs[0] - s.logprobs[0]) > 1e-4;
  }
  for (const auto& s : before.steps) EXPECT_EQ(s.policy_version, 0u);
  EXPECT_GT(differs_from_before, 0)
      << "the new weights did not change the behaviour log-probabilities";
}

TEST(Rollout, BatchingAndPrefixReuseDoNotChangeSamples) {
  Fixture f;
  auto run = [&](int slots, bool reuse, RolloutStats* st) {
    RolloutRunner runner(*f.model, *f.tokenizer, *f.prompts, RewardOptions(),
                         Options(EpisodeMode::kFull, slots, reuse), 0);
    TrajectoryBatch b;
    *st = runner.Run(f.queries, 9, 0, &b);
    return b;
  };
  RolloutStats a_st, b_st, c_st;
  auto a = run(1, false, &a_st), b = run(16, true, &b_st), c = run(16, false, &c_st);
  ASSERT_EQ(a.steps.size(), b.steps.size());
  // Records are emitted in completion order; compare by (episode, step).
  auto key = [](const StepRecord& s) { return std::make_pair(s.seed, s.step); };
  std::map<std::pair<uint64_t, int>, const StepRecord*> ma, mb;
  for (const auto& s : a.steps) ma[key(s)] = &s;
  for (const auto& s : b.steps) mb[key(s)] = &s;
  for (const auto& [k, s] : ma) {
    ASSERT_TRUE(mb.count(k));
    EXPECT_EQ(s->response_ids, mb[k]->response_ids);
    EXPECT_EQ(s->chosen, mb[k]->chosen);
    for (size_t i = 0; i < s->logprobs.size(); ++i)
      EXPECT_NEAR(s->logprobs[i], mb[k]->logprobs[i], 1e-4);
  }
  EXPECT_EQ(a_st.reused_tokens, 0);
  EXPECT_EQ(c_st.reused_tokens, 0);
  // The G samples share a prefill and later steps reuse their episode's prefix.
  EXPECT_GT(double(b_st.reused_tokens) / b_st.prompt_tokens, 0.6);
}

TEST(Rollout, SingleStepStatesCoverEveryPoolSize) {
  Fixture f;
  auto o = Options(EpisodeMode::kSingleStep, 8, true);
  o.group_size = 2;
  RolloutRunner runner(*f.model, *f.tokenizer, *f.prompts, RewardOptions(), o, 0);
  TrajectoryBatch batch;
  runner.Run({f.queries[0]}, 1, 0, &batch);
  std::map<int, int> sizes;
  for (const auto& s : batch.steps) {
    sizes[s.pool_size]++;
    EXPECT_TRUE(s.episode_done);
  }
  EXPECT_EQ(sizes.size(), 5u);  // pools of 2..6
  for (const auto& [n, count] : sizes) EXPECT_EQ(count, 2) << "pool " << n;
  // Group members share a group id; different states do not.
  std::map<uint64_t, int> groups;
  for (const auto& s : batch.steps) groups[s.group_id]++;
  EXPECT_EQ(groups.size(), 5u);
}

TEST(Rollout, GreedyRankingIsDeterministicAndComplete) {
  Fixture f;
  RolloutRunner runner(*f.model, *f.tokenizer, *f.prompts, RewardOptions(),
                       Options(EpisodeMode::kFull, 4, true), 0);
  auto a = runner.Rank(f.queries, 5, MatchOptions());
  auto b = runner.Rank(f.queries, 5, MatchOptions());
  ASSERT_EQ(a.size(), 3u);
  for (size_t q = 0; q < a.size(); ++q) {
    EXPECT_EQ(a[q].ranking, b[q].ranking);
    std::vector<int> sorted = a[q].ranking;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, (std::vector<int>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(a[q].responses.size(), 5u);
    EXPECT_EQ(a[q].fallbacks, 0);  // constrained answers always match
  }
}

TEST(Rollout, DRankerAnswersTheWholeRankingInOneStep) {
  Fixture f;
  ActorOptions o = Options(EpisodeMode::kDRanker, 8, true);
  o.max_new_tokens = 24;
  RolloutRunner runner(*f.model, *f.tokenizer, *f.prompts, RewardOptions(), o, 2);
  TrajectoryBatch batch;
  runner.Run(f.queries, 9, /*version=*/3, &batch);
  // One step per episode, every episode done, a full ranking (unmatched lines fill in).
  ASSERT_EQ(batch.steps.size(), 3u * 4);
  ASSERT_EQ(batch.episodes.size(), 3u * 4);
  for (const auto& s : batch.steps) {
    EXPECT_EQ(s.step, 0);
    EXPECT_TRUE(s.episode_done);
    EXPECT_EQ(s.chosen, -1);
    EXPECT_EQ(s.pool_size, 6);
    EXPECT_LE(s.response_ids.size(), 24u);
    EXPECT_EQ(s.response_ids.size(), s.logprobs.size());
  }
  for (const auto& e : batch.episodes) {
    std::set<int> seen(e.ranking.begin(), e.ranking.end());
    EXPECT_EQ(seen.size(), 6u);
    EXPECT_EQ(e.num_steps, 1);
  }
  // A random policy rarely writes a parsable ranking: the rewards are DRanker's (format penalty).
  for (const auto& s : batch.steps) EXPECT_LE(s.reward, 1.0f + 1.0f);
  // Greedy evaluation in DRanker mode ranks every candidate once.
  auto ranked = runner.Rank(f.queries, 1, MatchOptions());
  ASSERT_EQ(ranked.size(), 3u);
  for (const auto& r : ranked) {
    EXPECT_EQ(std::set<int>(r.ranking.begin(), r.ranking.end()).size(), 6u);
    EXPECT_EQ(r.responses.size(), 1u);
  }
}

// The log-probabilities of `response` after `prompt` under `m`, scored in one forward pass.
std::vector<float> Score(DecoderLM& m, const std::vector<int32_t>& prompt,
                         const std::vector<int32_t>& response) {
  torch::NoGradGuard ng;
  std::vector<int64_t> ids(prompt.begin(), prompt.end());
  ids.insert(ids.end(), response.begin(), response.end());
  auto h = m.ForwardHidden(torch::tensor(ids, torch::kInt64).unsqueeze(0));
  auto lp = torch::log_softmax(m.Logits(h)[0], -1);
  std::vector<float> out;
  for (size_t k = 0; k < response.size(); ++k)
    out.push_back(lp[prompt.size() + k - 1][response[k]].item<float>());
  return out;
}

// Options of a runner whose responses are the labels' targets (one per state).
ActorOptions TeacherOptions(EpisodeMode mode, int slots) {
  ActorOptions o = Options(mode, slots, true);
  o.group_size = 1;
  o.responses = Responses::kLabels;
  return o;
}

// actor.responses=labels (supervised fine-tuning): each step's response is the teacher's target,
// decoded under a one-sequence constraint, so the record holds the target and the policy's own
// log-probabilities of it; full episodes then keep the ground truth to the end.
TEST(RolloutTeacher, ConstrainedTargetsEliminateTheNegativesAndCarryThePolicysLogprobs) {
  Fixture f;
  ActorOptions o = TeacherOptions(EpisodeMode::kFull, 4);
  RolloutRunner runner(*f.model, *f.tokenizer, *f.prompts, RewardOptions(), o, 1);
  TrajectoryBatch batch;
  runner.Run(f.queries, 5, /*version=*/2, &batch);
  ASSERT_EQ(batch.steps.size(), 3u * 5);
  for (const auto& s : batch.steps) {
    EXPECT_EQ(s.reward, 1.0f) << s.answer_text;  // a negative was eliminated, valid format
    EXPECT_TRUE(s.valid_format);
    const auto* rec = &f.records[0];
    for (const auto& r : f.records)
      if (r.id == s.query_id) rec = &r;
    EXPECT_EQ(rec->relevance[s.chosen], 0.0);
    EXPECT_EQ(s.answer_text.substr(s.answer_text.size() - 10), "\n</answer>");
    const auto lp = Score(*f.model, s.prompt_ids, s.response_ids);
    ASSERT_EQ(lp.size(), s.logprobs.size());
    for (size_t k = 0; k < lp.size(); ++k) EXPECT_NEAR(lp[k], s.logprobs[k], 1e-4) << k;
  }
  for (const auto& e : batch.episodes) EXPECT_EQ(e.mrr, 1.0f) << "the positive survives";
  // Each step carries the other answers the constraint allowed (learner.sft_loss=choice): one per
  // other candidate of the pool, never the target.
  for (const auto& s : batch.steps) {
    int answers = 0;
    for (size_t i = 0; i < s.alternatives.size(); i += 1 + s.alternatives[i]) {
      const std::vector<int32_t> a(s.alternatives.begin() + i + 1,
                                   s.alternatives.begin() + i + 1 + s.alternatives[i]);
      EXPECT_NE(a, s.response_ids);
      ++answers;
    }
    EXPECT_EQ(answers, s.pool_size - 1);
  }
  // Evaluation is the policy's own greedy answers, as without a teacher.
  ActorOptions plain = o;
  plain.responses = Responses::kSampled;
  RolloutRunner sampler(*f.model, *f.tokenizer, *f.prompts, RewardOptions(), plain, 1);
  const auto ranked = runner.Rank(f.queries, 1, MatchOptions());
  const auto expected = sampler.Rank(f.queries, 1, MatchOptions());
  for (size_t q = 0; q < ranked.size(); ++q) {
    EXPECT_EQ(ranked[q].ranking, expected[q].ranking);
    EXPECT_EQ(ranked[q].responses, expected[q].responses);
  }
}

TEST(RolloutTeacher, FreeTextTargetsEndLikeASampledResponse) {
  Fixture f;
  const int32_t im_end = *f.tokenizer->TokenToId("<|im_end|>");
  for (const char* names : {"label", "text"}) {
    ActorOptions o = TeacherOptions(EpisodeMode::kSingleStep, 8);
    o.constrained = false;
    o.target_names = names;
    RolloutRunner runner(*f.model, *f.tokenizer, *f.prompts, RewardOptions(), o, 1);
    TrajectoryBatch batch;
    runner.Run(f.queries, 5, 0, &batch);
    ASSERT_EQ(batch.steps.size(), 3u * 5);
    for (const auto& s : batch.steps) {
      EXPECT_EQ(s.reward, 1.0f) << names << ": " << s.answer_text;
      EXPECT_EQ(s.response_ids.back(), im_end);
      if (std::string(names) == "label") {
        EXPECT_LE(s.answer_text.size(), 12u) << s.answer_text;  // "N</answer>"
      }
    }
  }
}

TEST(RolloutTeacher, DRankerTargetIsTheTeachersWholeRanking) {
  Fixture f;
  ActorOptions o = TeacherOptions(EpisodeMode::kDRanker, 8);
  RolloutRunner runner(*f.model, *f.tokenizer, *f.prompts, RewardOptions(), o, 1);
  TrajectoryBatch batch;
  runner.Run(f.queries, 5, 0, &batch);
  ASSERT_EQ(batch.episodes.size(), 3u);
  for (const auto& e : batch.episodes) {
    EXPECT_EQ(e.mrr, 1.0f);
    EXPECT_EQ(e.ndcg10, 1.0f);
  }
  for (const auto& s : batch.steps) EXPECT_TRUE(s.valid_format) << s.answer_text;
}

TEST(RolloutTeacher, ATemplateThatBreaksTheLayoutIsRefused) {
  Fixture f;
  ActorOptions o = TeacherOptions(EpisodeMode::kDRanker, 8);
  o.target_template = "<answer>{answer}</answer>";  // a second <answer> after the prefill's
  EXPECT_THROW(RolloutRunner(*f.model, *f.tokenizer, *f.prompts, RewardOptions(), o, 1), Error);
}

}  // namespace
}  // namespace iranker
