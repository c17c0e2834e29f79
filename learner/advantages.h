// learner/advantages.h — turning rewards into advantages.
//
// One "sample" is one elimination step's response with a scalar reward. Its advantage applies to
// every token of that response (GRPO, RLOO), or is computed per step by GAE over an episode's steps
// (PPO), where the reward of step k is credited to the last token of step k.
#pragma once

#include <cstdint>
#include <vector>

namespace iranker {

// GRPO: within each group (same query and step), A = (r - mean) / (std + eps) when normalize_std,
// else r - mean. A group of one gets 0. std is the population standard deviation.
std::vector<float> GrpoAdvantages(const std::vector<float>& rewards,
                                  const std::vector<uint64_t>& groups, bool normalize_std,
                                  float eps = 1e-6f);

// RLOO: A_i = r_i - mean of the other members of i's group; 0 for a group of one.
std::vector<float> RlooAdvantages(const std::vector<float>& rewards,
                                  const std::vector<uint64_t>& groups);

// GAE over one episode's step-level rewards and value estimates (values.size() == rewards.size(),
// the value after the last step is 0). Returns {advantages, returns}.
struct GaeResult {
  std::vector<float> advantages, returns;
};
GaeResult Gae(const std::vector<float>& rewards, const std::vector<float>& values, double gamma,
              double lambda);

}  // namespace iranker
