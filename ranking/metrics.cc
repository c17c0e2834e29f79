#include "ranking/metrics.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace iranker {

double ReciprocalRank(const std::vector<double>& ranked, double level) {
  for (size_t i = 0; i < ranked.size(); ++i)
    if (ranked[i] >= level) return 1.0 / static_cast<double>(i + 1);
  return 0.0;
}

double NdcgAt(const std::vector<double>& ranked, const std::vector<double>& all, int k) {
  auto dcg = [k](const std::vector<double>& gains) {
    double s = 0;
    for (size_t i = 0; i < gains.size() && static_cast<int>(i) < k; ++i)
      if (gains[i] > 0) s += gains[i] / std::log2(static_cast<double>(i) + 2.0);
    return s;
  };
  std::vector<double> ideal = all;
  std::sort(ideal.begin(), ideal.end(), std::greater<double>());
  const double idcg = dcg(ideal);
  return idcg > 0 ? dcg(ranked) / idcg : 0.0;
}

double HitAt(const std::vector<double>& ranked, int k, double level) {
  for (size_t i = 0; i < ranked.size() && static_cast<int>(i) < k; ++i)
    if (ranked[i] >= level) return 1.0;
  return 0.0;
}

QueryMetrics ScoreRanking(const std::vector<int>& ranking, const std::vector<double>& relevance,
                          double level) {
  std::vector<double> ranked;
  ranked.reserve(ranking.size());
  for (int i : ranking) {
    IR_CHECK(i >= 0 && static_cast<size_t>(i) < relevance.size());
    ranked.push_back(relevance[i]);
  }
  QueryMetrics m;
  m.recip_rank = ReciprocalRank(ranked, level);
  for (size_t c = 0; c < kMetricCutoffs.size(); ++c) {
    m.ndcg[c] = NdcgAt(ranked, relevance, kMetricCutoffs[c]);
    m.hit[c] = HitAt(ranked, kMetricCutoffs[c], level);
  }
  return m;
}

void MetricsSummary::Add(const QueryMetrics& m) {
  sum_.recip_rank += m.recip_rank;
  for (size_t c = 0; c < kMetricCutoffs.size(); ++c) {
    sum_.ndcg[c] += m.ndcg[c];
    sum_.hit[c] += m.hit[c];
  }
  ++count_;
}

QueryMetrics MetricsSummary::Mean() const {
  QueryMetrics m;
  if (count_ == 0) return m;
  m.recip_rank = sum_.recip_rank / count_;
  for (size_t c = 0; c < kMetricCutoffs.size(); ++c) {
    m.ndcg[c] = sum_.ndcg[c] / count_;
    m.hit[c] = sum_.hit[c] / count_;
  }
  return m;
}

RoutingMetrics ScoreRouting(int chosen, const std::vector<int>& ground_truth,
                            const std::vector<double>& quality, const std::vector<double>& cost) {
  IR_CHECK(!ground_truth.empty());
  IR_CHECK(chosen >= 0 && static_cast<size_t>(chosen) < quality.size());
  IR_CHECK_EQ(quality.size(), cost.size());
  RoutingMetrics r;
  r.accuracy = std::find(ground_truth.begin(), ground_truth.end(), chosen) != ground_truth.end();
  r.quality_regret = *std::max_element(quality.begin(), quality.end()) - quality[chosen];
  r.cost_regret = cost[chosen] - cost[ground_truth.front()];
  return r;
}

std::map<std::string, double> MetricsByName(const QueryMetrics& m) {
  std::map<std::string, double> out;
  out["mrr"] = m.recip_rank;
  for (size_t c = 0; c < kMetricCutoffs.size(); ++c) {
    out["ndcg@" + std::to_string(kMetricCutoffs[c])] = m.ndcg[c];
    out["hit@" + std::to_string(kMetricCutoffs[c])] = m.hit[c];
  }
  return out;
}

}  // namespace iranker
