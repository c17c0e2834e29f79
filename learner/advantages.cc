#include "learner/advantages.h"

#include <cmath>
#include <unordered_map>

#include "base/error.h"

namespace iranker {
namespace {
struct Moments {
  double sum = 0, sq = 0;
  int n = 0;
};
std::unordered_map<uint64_t, Moments> GroupMoments(const std::vector<float>& r,
                                                   const std::vector<uint64_t>& g) {
  IR_CHECK_EQ(r.size(), g.size());
  std::unordered_map<uint64_t, Moments> m;
  for (size_t i = 0; i < r.size(); ++i) {
    auto& x = m[g[i]];
    x.sum += r[i];
    x.sq += double(r[i]) * r[i];
    ++x.n;
  }
  return m;
}
}  // namespace

std::vector<float> GrpoAdvantages(const std::vector<float>& rewards,
                                  const std::vector<uint64_t>& groups, bool normalize_std,
                                  float eps) {
  auto m = GroupMoments(rewards, groups);
  std::vector<float> a(rewards.size());
  for (size_t i = 0; i < rewards.size(); ++i) {
    const auto& x = m[groups[i]];
    if (x.n < 2) continue;
    double mean = x.sum / x.n;
    double var = std::max(0.0, x.sq / x.n - mean * mean);
    double d = rewards[i] - mean;
    a[i] = static_cast<float>(normalize_std ? d / (std::sqrt(var) + eps) : d);
  }
  return a;
}

std::vector<float> RlooAdvantages(const std::vector<float>& rewards,
                                  const std::vector<uint64_t>& groups) {
  auto m = GroupMoments(rewards, groups);
  std::vector<float> a(rewards.size());
  for (size_t i = 0; i < rewards.size(); ++i) {
    const auto& x = m[groups[i]];
    if (x.n < 2) continue;
    a[i] = static_cast<float>(rewards[i] - (x.sum - rewards[i]) / (x.n - 1));
  }
  return a;
}

GaeResult Gae(const std::vector<float>& rewards, const std::vector<float>& values, double gamma,
              double lambda) {
  IR_CHECK_EQ(rewards.size(), values.size());
  const size_t n = rewards.size();
  GaeResult out;
  out.advantages.resize(n);
  out.returns.resize(n);
  double next_value = 0, running = 0;
  for (size_t k = n; k-- > 0;) {
    double delta = rewards[k] + gamma * next_value - values[k];
    running = delta + gamma * lambda * running;
    out.advantages[k] = static_cast<float>(running);
    out.returns[k] = static_cast<float>(running + values[k]);
    next_value = values[k];
  }
  return out;
}

}  // namespace iranker
