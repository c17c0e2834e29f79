#include "ranking/episode.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "tests/ranking/test_util.h"

namespace iranker {
namespace {

TEST(Episode, ShuffleIsDeterministicAndRecorded) {
  auto r = MakeRecord(20, 4);
  auto a = StartEpisode(r, 7), b = StartEpisode(r, 7), c = StartEpisode(r, 8);
  EXPECT_EQ(a.pool, b.pool);
  EXPECT_NE(a.pool, c.pool);
  EXPECT_EQ(a.seed, 7u);
  EXPECT_EQ(a.step_budget, 19);
  auto sorted = a.pool;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(sorted[i], i);
}

TEST(Episode, FinalRankingIsSurvivorThenEliminatedReversed) {
  auto r = MakeRecord(4, 2);
  EpisodeState e = StartEpisode(r, 1);
  e.pool = {0, 1, 2, 3};  // fix the display order for the test
  Eliminate(&e, 3);       // removes candidate 3 (step 1 -> rank 4)
  Eliminate(&e, 0);       // removes candidate 0 (step 2 -> rank 3)
  EXPECT_FALSE(EpisodeDone(e));
  Eliminate(&e, 1);  // pool {1, 2}: removes candidate 2 (step 3 -> rank 2)
  EXPECT_TRUE(EpisodeDone(e));
  EXPECT_EQ(FinalRanking(e), (std::vector<int>{1, 2, 0, 3}));
}

TEST(Episode, PositiveRemovedAtStepTHasRankNMinusTPlusOne) {
  const int n = 10;
  for (int t = 1; t <= n - 1; ++t) {
    auto r = MakeRecord(n, 0);
    EpisodeState e = StartEpisode(r, 3);
    for (int step = 1; step <= n - 1; ++step) {
      auto pos = std::find(e.pool.begin(), e.pool.end(), 0) - e.pool.begin();
      int pick = step == t ? static_cast<int>(pos) : (pos == 0 ? 1 : 0);
      Eliminate(&e, pick);
    }
    auto ranking = FinalRanking(e);
    auto rank = std::find(ranking.begin(), ranking.end(), 0) - ranking.begin() + 1;
    EXPECT_EQ(rank, n - t + 1) << "t=" << t;
  }
}

TEST(Episode, StepBudgetEndsEpisodeEarly) {
  auto r = MakeRecord(6, 0);
  EpisodeState e = StartEpisode(r, 5, /*step_budget=*/2);
  Eliminate(&e, 0);
  Eliminate(&e, 0);
  EXPECT_TRUE(EpisodeDone(e));
  EXPECT_EQ(FinalRanking(e).size(), 6u);
  EXPECT_DEATH(Eliminate(&e, 0), "check failed");
}

TEST(Episode, TrainingResponseEliminatesOrCountsInvalidStep) {
  auto r = MakeRecord(3, 1);
  EpisodeState e = StartEpisode(r, 1);
  e.pool = {0, 1, 2};
  auto bad = ApplyTrainingResponse(r, &e, "<think>x</think><answer>zzz</answer>", RewardOptions{});
  EXPECT_EQ(bad.outcome, StepOutcome::kInvalid);
  EXPECT_EQ(e.pool.size(), 3u);
  EXPECT_EQ(e.steps, 1);
  auto good = ApplyTrainingResponse(r, &e, "<think>x</think><answer>c2</answer>", RewardOptions{});
  EXPECT_DOUBLE_EQ(good.total, 1.0);
  EXPECT_EQ(e.pool, (std::vector<int>{0, 1}));
  EXPECT_TRUE(EpisodeDone(e));  // budget 2 used
}

TEST(Episode, EvaluationAlwaysRemovesOneAndCountsFallbacks) {
  auto r = MakeRecord(5, 0);
  EpisodeState e = StartEpisode(r, 11);
  ApplyEvaluationAnswer(r, &e, "1", MatchOptions{});
  EXPECT_EQ(e.fallbacks, 0);
  ApplyEvaluationAnswer(r, &e, "", MatchOptions{});
  ApplyEvaluationAnswer(r, &e, "no idea at all", MatchOptions{});
  EXPECT_EQ(e.fallbacks, 2);
  EXPECT_EQ(e.pool.size(), 2u);
}

TEST(Episode, RandomEliminationMrrMatchesTheory) {
  // With uniformly random eliminations the positive's rank is uniform on 1..N, so
  // MRR = H_N / N: 0.180 for N = 20 and 0.293 for N = 10 (the random baseline).
  for (int n : {10, 20}) {
    double sum = 0;
    const int trials = 4000;
    for (int t = 0; t < trials; ++t) {
      auto r = MakeRecord(n, t % n);
      EpisodeState e = StartEpisode(r, 1000 + t);
      while (!EpisodeDone(e)) Eliminate(&e, 0);  // display order is already random
      auto ranking = FinalRanking(e);
      sum += 1.0 / (std::find(ranking.begin(), ranking.end(), t % n) - ranking.begin() + 1);
    }
    double h = 0;
    for (int k = 1; k <= n; ++k) h += 1.0 / k;
    EXPECT_NEAR(sum / trials, h / n, 0.015) << n;
  }
}

TEST(SingleStepStates, PoolSizesTwoToNNestedAndContainingTruth) {
  auto r = MakeRecord(8, 5);
  auto states = SingleStepStates(r, 42);
  ASSERT_EQ(states.size(), 7u);
  std::set<int> prev;
  for (size_t k = 0; k < states.size(); ++k) {
    const auto& s = states[k];
    EXPECT_EQ(s.pool.size(), k + 2);
    EXPECT_EQ(s.step_budget, 1);
    EXPECT_NE(std::find(s.pool.begin(), s.pool.end(), 5), s.pool.end());
    std::set<int> cur(s.pool.begin(), s.pool.end());
    EXPECT_EQ(cur.size(), s.pool.size());
    for (int x : prev) EXPECT_TRUE(cur.count(x));  // nested: each pool grows the previous one
    prev = cur;
  }
  auto again = SingleStepStates(r, 42);
  for (size_t k = 0; k < states.size(); ++k) EXPECT_EQ(states[k].pool, again[k].pool);
}

TEST(SingleStepStates, GradedRecordsUseOneTopItem) {
  auto r = MakeRecord(5, 0);
  r.positive = -1;
  r.relevance = {2, 1, 2, 0, 0};
  auto states = SingleStepStates(r, 3);
  ASSERT_EQ(states.size(), 3u);  // negatives: candidates 1, 3, 4
  const auto& full = states.back().pool;
  int tops = std::count(full.begin(), full.end(), 0) + std::count(full.begin(), full.end(), 2);
  EXPECT_EQ(tops, 1);
}

TEST(AllowedAnswers, LabelsAndTexts) {
  auto r = MakeRecord(3, 0);
  EpisodeState e = StartEpisode(r, 1);
  e.pool = {2, 0};
  EXPECT_EQ(AllowedAnswers(r, e, MatchOptions{}), (std::vector<std::string>{"1", "2", "c2", "c0"}));
}

}  // namespace
}  // namespace iranker
