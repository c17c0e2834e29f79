#include "ranking/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace iranker {
namespace {

TEST(Metrics, ReciprocalRankAndLevel) {
  EXPECT_DOUBLE_EQ(ReciprocalRank({0, 0, 1, 1}), 1.0 / 3);
  EXPECT_DOUBLE_EQ(ReciprocalRank({0, 1, 2}, /*level=*/2), 1.0 / 3);
  EXPECT_DOUBLE_EQ(ReciprocalRank({0, 0}), 0.0);
  EXPECT_DOUBLE_EQ(ReciprocalRank({}), 0.0);
}

TEST(Metrics, NdcgHandComputed) {
  // Ranked gains 0, 1, 2; judged {2, 0, 1, 3} (3 unranked).
  const double dcg = 1 / std::log2(3.0) + 2 / std::log2(4.0);
  const double idcg = 3 + 2 / std::log2(3.0) + 1 / std::log2(4.0);
  EXPECT_NEAR(NdcgAt({0, 1, 2}, {2, 0, 1, 3}, 5), dcg / idcg, 1e-12);
  EXPECT_NEAR(NdcgAt({0, 1, 2}, {2, 0, 1, 3}, 2), (1 / std::log2(3.0)) / (3 + 2 / std::log2(3.0)),
              1e-12);
  EXPECT_DOUBLE_EQ(NdcgAt({0, 1, 2}, {2, 0, 1, 3}, 1), 0.0);
  EXPECT_DOUBLE_EQ(NdcgAt({1, 0}, {1, 0}, 10), 1.0);
  EXPECT_DOUBLE_EQ(NdcgAt({0, 0}, {0, 0}, 10), 0.0);  // nothing relevant: 0, not NaN
}

TEST(Metrics, HitAt) {
  EXPECT_DOUBLE_EQ(HitAt({0, 0, 1}, 1), 0.0);
  EXPECT_DOUBLE_EQ(HitAt({0, 0, 1}, 3), 1.0);
  EXPECT_DOUBLE_EQ(HitAt({0, 0, 1}, 20), 1.0);
}

TEST(Metrics, ScoreRankingSinglePositive) {
  // Positive (index 2) at rank 3 of 5.
  auto m = ScoreRanking({4, 0, 2, 1, 3}, {0, 0, 1, 0, 0});
  EXPECT_DOUBLE_EQ(m.recip_rank, 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.ndcg[0], 0.0);
  EXPECT_DOUBLE_EQ(m.ndcg[1], 0.5);  // 1/log2(4)
  EXPECT_DOUBLE_EQ(m.hit[0], 0.0);
  EXPECT_DOUBLE_EQ(m.hit[1], 1.0);
  auto named = MetricsByName(m);
  EXPECT_DOUBLE_EQ(named.at("mrr"), 1.0 / 3);
  EXPECT_DOUBLE_EQ(named.at("ndcg@5"), 0.5);
  EXPECT_DOUBLE_EQ(named.at("hit@1"), 0.0);
}

TEST(Metrics, SummaryMeans) {
  MetricsSummary s;
  s.Add(ScoreRanking({0, 1}, {1, 0}));
  s.Add(ScoreRanking({0, 1}, {0, 1}));
  EXPECT_EQ(s.count(), 2);
  EXPECT_DOUBLE_EQ(s.Mean().recip_rank, 0.75);
  EXPECT_DOUBLE_EQ(s.Mean().hit[0], 0.5);
}

TEST(Metrics, Routing) {
  // quality, cost; ground truth = model 1 (best trade-off); chosen = model 0 (best quality, dear).
  auto r = ScoreRouting(0, {1}, {0.9, 0.8, 0.1}, {10, 1, 0.1});
  EXPECT_DOUBLE_EQ(r.accuracy, 0.0);
  EXPECT_DOUBLE_EQ(r.quality_regret, 0.0);
  EXPECT_DOUBLE_EQ(r.cost_regret, 9.0);
  auto g = ScoreRouting(1, {1}, {0.9, 0.8, 0.1}, {10, 1, 0.1});
  EXPECT_DOUBLE_EQ(g.accuracy, 1.0);
  EXPECT_NEAR(g.quality_regret, 0.1, 1e-12);
  EXPECT_DOUBLE_EQ(g.cost_regret, 0.0);
}

}  // namespace
}  // namespace iranker
