#include "ranking/baselines.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "tests/ranking/test_util.h"

namespace iranker {
namespace {

TEST(Baselines, RandomIsAPermutationAndSeeded) {
  auto a = RandomRanking(20, 3), b = RandomRanking(20, 3), c = RandomRanking(20, 4);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::sort(a.begin(), a.end());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a[i], i);
}

TEST(Baselines, Bm25HandComputed) {
  // Docs: "a b", "a a c", "c"; query "a c". N = 3, avgdl = 2, k1 = 0.9, b = 0.4.
  const std::vector<std::string> docs = {"a b", "a a c", "c"};
  auto s = Bm25Scores("a c", docs);
  auto idf = [](double df) { return std::log(1 + (3 - df + 0.5) / (df + 0.5)); };
  auto term = [](double tf, double len) { return tf * 1.9 / (tf + 0.9 * (0.6 + 0.4 * len / 2)); };
  EXPECT_NEAR(s[0], idf(2) * term(1, 2), 1e-12);
  EXPECT_NEAR(s[1], idf(2) * term(2, 3) + idf(2) * term(1, 3), 1e-12);
  EXPECT_NEAR(s[2], idf(2) * term(1, 1), 1e-12);
  EXPECT_EQ(RankByScore(s), (std::vector<int>{1, 2, 0}));
}

TEST(Baselines, Bm25RankingUsesQueryOrHistoryAndKeepsTiesInOrder) {
  auto r = MakeRecord(3, 2);
  r.candidates[0].text = "red apple";
  r.candidates[1].text = "green pear";
  r.candidates[2].text = "red cherry";
  r.query = "cherry";
  EXPECT_EQ(Bm25Ranking(r).front(), 2);
  r.query = "";
  r.extra["history"] = {"pear tart"};
  EXPECT_EQ(Bm25Ranking(r).front(), 1);
  r.extra["history"] = {"nothing shared"};
  EXPECT_EQ(Bm25Ranking(r), (std::vector<int>{0, 1, 2}));
}

}  // namespace
}  // namespace iranker
