#include "learner/samples.h"

#include <algorithm>

namespace iranker {

std::vector<TrainSample> SamplesFromBatches(std::vector<TrajectoryBatch>& batches,
                                            nlohmann::json* rec) {
  std::stable_sort(
      batches.begin(), batches.end(),
      [](const TrajectoryBatch& a, const TrajectoryBatch& b) { return a.actor_id < b.actor_id; });
  std::vector<TrainSample> samples;
  double valid = 0, episode_mrr = 0;
  int64_t episodes = 0;
  for (auto& batch : batches) {
    for (auto& s : batch.steps) {
      valid += s.valid_format;
      TrainSample t;
      t.prompt = std::move(s.prompt_ids);
      t.response = std::move(s.response_ids);
      t.behaviour_logprobs = std::move(s.logprobs);
      t.alternatives = std::move(s.alternatives);
      t.reward = s.reward;
      t.group = s.group_id;
      t.episode = s.episode_id;
      t.step_index = s.step;
      t.policy_version = s.policy_version;
      samples.push_back(std::move(t));
    }
    for (const auto& e : batch.episodes) episode_mrr += e.mrr;
    episodes += batch.episodes.size();
  }
  if (rec) {
    (*rec)["valid_format"] = samples.empty() ? 0 : valid / samples.size();
    (*rec)["episode_mrr"] = episodes ? episode_mrr / episodes : 0;
    (*rec)["trajectories"] = samples.size();
  }
  return samples;
}

}  // namespace iranker
