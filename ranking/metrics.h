// ranking/metrics.h — ranking quality of one query and its mean over a dataset.
//
// Definitions follow trec_eval (so `iranker metrics` and trec_eval agree on TREC files):
//   relevant      relevance >= level (trec_eval's relevance_level, default 1)
//   recip_rank    1 / rank of the first relevant item in the ranking, 0 if none is ranked
//   ndcg@k        sum_{i<k} gain_i / log2(i + 2) over the ranking, divided by the same sum over
//                 the ideal order of ALL judged items (relevance sorted descending); gain = the
//                 relevance value (negative treated as 0); 0 when the ideal sum is 0
//   hit@k         1 if a relevant item is in the first k, else 0
// A ranking may be shorter than the candidate list (unranked items count as not retrieved).
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

namespace iranker {

inline constexpr std::array<int, 4> kMetricCutoffs = {1, 5, 10, 20};

struct QueryMetrics {
  double recip_rank = 0;
  std::array<double, 4> ndcg{};  // at kMetricCutoffs
  std::array<double, 4> hit{};   // at kMetricCutoffs
};

double ReciprocalRank(const std::vector<double>& ranked_relevance, double level = 1.0);
// `ranked_relevance`: relevance of the ranked items, best first; `all_relevance`: of every judged
// item of the query (the ideal ranking is built from it).
double NdcgAt(const std::vector<double>& ranked_relevance, const std::vector<double>& all_relevance,
              int k);
double HitAt(const std::vector<double>& ranked_relevance, int k, double level = 1.0);

// All metrics of one query; `ranking` holds candidate indices into `relevance`, best first.
QueryMetrics ScoreRanking(const std::vector<int>& ranking, const std::vector<double>& relevance,
                          double level = 1.0);

// Accumulates per-query metrics; Mean() averages over the queries added.
class MetricsSummary {
 public:
  void Add(const QueryMetrics& m);
  int count() const { return count_; }
  QueryMetrics Mean() const;

 private:
  QueryMetrics sum_;
  int count_ = 0;
};

// Routing: the model the ranking puts first, judged against per-candidate quality and cost.
struct RoutingMetrics {
  double accuracy = 0;        // 1 if the first-ranked model is ground truth
  double quality_regret = 0;  // best quality among candidates - quality of the chosen model
  double cost_regret = 0;     // cost of the chosen model - cost of the ground-truth model
};
RoutingMetrics ScoreRouting(int chosen, const std::vector<int>& ground_truth,
                            const std::vector<double>& quality, const std::vector<double>& cost);

// Named flat view, e.g. {"mrr", "ndcg@1", ..., "hit@20"}, for tables and JSON.
std::map<std::string, double> MetricsByName(const QueryMetrics& m);

}  // namespace iranker
