#include "ranking/synthetic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "base/error.h"
#include "base/rng.h"
#include "ranking/baselines.h"
#include "ranking/jsonl.h"
#include "ranking/metrics.h"

namespace iranker {
namespace {

SyntheticOptions Opts(const std::string& scenario, int n, uint64_t seed = 1) {
  SyntheticOptions o;
  o.scenario = scenario;
  o.n = n;
  o.seed = seed;
  return o;
}

// Mean MRR of the random and BM25 rankers.
std::pair<double, double> Baselines(const std::vector<QueryRecord>& records) {
  MetricsSummary random, bm25;
  for (size_t i = 0; i < records.size(); ++i) {
    random.Add(ScoreRanking(RandomRanking(records[i].size(), i), records[i].relevance));
    bm25.Add(ScoreRanking(Bm25Ranking(records[i]), records[i].relevance));
  }
  return {random.Mean().recip_rank, bm25.Mean().recip_rank};
}

class EveryScenario : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryScenario, DeterministicValidAndSeedDependent) {
  auto a = GenerateSynthetic(Opts(GetParam(), 30, 5));
  auto b = GenerateSynthetic(Opts(GetParam(), 30, 5));
  auto c = GenerateSynthetic(Opts(GetParam(), 30, 6));
  ASSERT_EQ(a.size(), 30u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(RecordToJson(a[i]), RecordToJson(b[i]));
    EXPECT_NO_THROW(ValidateRecord(a[i]));
    EXPECT_EQ(GroundTruth(a[i]).size(), 1u);
    EXPECT_EQ(a[i].scenario, GetParam());
  }
  EXPECT_NE(RecordToJson(a[0]), RecordToJson(c[0]));
}

TEST_P(EveryScenario, CandidateCountAndUniqueTexts) {
  SyntheticOptions o = Opts(GetParam(), 10);
  o.candidates = 5;
  for (const auto& r : GenerateSynthetic(o)) {
    ASSERT_EQ(r.size(), 5u);
    std::vector<std::string> texts;
    for (const auto& c : r.candidates) texts.push_back(c.text);
    std::sort(texts.begin(), texts.end());
    EXPECT_EQ(std::unique(texts.begin(), texts.end()), texts.end());
  }
}

TEST_P(EveryScenario, PositivePositionIsUniform) {
  // Candidate order must not leak the answer.
  auto records = GenerateSynthetic(Opts(GetParam(), 600));
  std::map<int, int> at;
  for (const auto& r : records) ++at[r.positive];
  const double expected = 600.0 / records[0].size();
  for (const auto& [pos, count] : at) EXPECT_LT(count, 2.2 * expected) << pos;
}

INSTANTIATE_TEST_SUITE_P(All, EveryScenario,
                         ::testing::Values("recommendation", "routing", "passage"));

TEST(Synthetic, RecommendationTruthIsTheOnlyCandidateMatchingBothPreferences) {
  for (const auto& r : GenerateSynthetic(Opts("recommendation", 50))) {
    ASSERT_EQ(r.size(), 20u);
    const std::string genre = r.extra["preferred_genre"], era = r.extra["preferred_era"];
    const std::string decade = era.substr(0, 3);  // "1970s" -> "197"
    int both = 0;
    for (size_t i = 0; i < r.size(); ++i) {
      const std::string& t = r.candidates[i].text;
      const bool g = t.find("; " + genre + ")") != std::string::npos;
      const bool e = t.find("(" + decade) != std::string::npos;
      if (g && e) {
        ++both;
        EXPECT_EQ(static_cast<int>(i), r.positive) << t;
      }
    }
    EXPECT_EQ(both, 1);
    // The history shows the preference: at least 3 items of that genre and decade.
    int shown = 0;
    for (const auto& h : r.extra["history"])
      shown += h.get<std::string>().find("; " + genre + ")") != std::string::npos &&
               h.get<std::string>().find("(" + decade) != std::string::npos;
    EXPECT_GE(shown, 3);
  }
}

TEST(Synthetic, RoutingTruthMaximisesWeightedUtility) {
  std::map<std::string, int> tasks;
  for (const auto& r : GenerateSynthetic(Opts("routing", 60))) {
    ++tasks[r.task];
    const auto q = r.extra["quality"].get<std::vector<double>>();
    const auto w = r.extra["weights"].get<std::vector<double>>();
    std::vector<double> price;  // cost is proportional to price within a record
    const auto cost = r.extra["cost"].get<std::vector<double>>();
    const double max_cost = *std::max_element(cost.begin(), cost.end());
    int best = 0;
    for (size_t i = 0; i < q.size(); ++i) {
      const double u = w[0] * q[i] - w[1] * cost[i] / max_cost;
      if (u > w[0] * q[best] - w[1] * cost[best] / max_cost) best = static_cast<int>(i);
    }
    EXPECT_EQ(best, r.positive);
    EXPECT_NE(r.query.find("Routing preference"), std::string::npos);
  }
  EXPECT_EQ(tasks.size(), 3u);  // router-perf, router-balanced, router-cost
}

TEST(Synthetic, PassageTruthAnswersTheAskedTopic) {
  for (const auto& r : GenerateSynthetic(Opts("passage", 50))) {
    const std::string topic = r.extra["topic"];
    std::string lower = r.candidates[r.positive].text;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    EXPECT_NE(lower.find(topic), std::string::npos) << lower;
    EXPECT_NE(r.query.find(topic), std::string::npos);
  }
}

TEST(Synthetic, BaselinesAreAboveChanceButFarFromSolved) {
  for (const char* s : {"recommendation", "passage"}) {
    auto [random, bm25] = Baselines(GenerateSynthetic(Opts(s, 400)));
    EXPECT_GT(bm25, random + 0.1) << s;
    EXPECT_LT(bm25, 0.8) << s;
  }
  auto [random, bm25] = Baselines(GenerateSynthetic(Opts("routing", 400)));
  EXPECT_NEAR(random, 0.29, 0.04);  // H_10 / 10
  EXPECT_LT(bm25, 0.5);
}

TEST(Synthetic, UnknownScenarioIsAnError) {
  EXPECT_THROW(GenerateSynthetic(Opts("chess", 1)), Error);
  SyntheticOptions o = Opts("passage", 1);
  o.candidates = 1;
  EXPECT_THROW(GenerateSynthetic(o), Error);
}

}  // namespace
}  // namespace iranker

namespace iranker {
namespace {

// data/README.md states the commands that made the bundled files; regenerate and compare.
TEST(BundledData, IsReproducibleFromTheStatedCommands) {
  for (const char* scenario : {"recommendation", "routing", "passage"}) {
    for (auto [split, n, seed] :
         {std::tuple<const char*, int, uint64_t>{"train", 200, 1}, {"test", 50, 2}}) {
      const std::string path =
          std::string(IRANKER_SOURCE_DIR) + "/data/" + scenario + "/" + split + ".jsonl";
      auto file = ReadJsonl(path, BadLinePolicy::kStop);
      SyntheticOptions o;
      o.scenario = scenario;
      o.n = n;
      o.seed = seed;
      auto made = GenerateSynthetic(o);
      ASSERT_EQ(file.size(), made.size()) << path;
      for (size_t i = 0; i < made.size(); ++i)
        ASSERT_EQ(RecordToJson(file[i]), RecordToJson(made[i])) << path << " record " << i;
    }
  }
  // The quickstart's popularity-skewed recommendation data (data/README.md).
  for (auto [split, n, seed] :
       {std::tuple<const char*, int, uint64_t>{"train", 1000, 31}, {"test", 100, 32}}) {
    const std::string path =
        std::string(IRANKER_SOURCE_DIR) + "/data/quickstart/" + split + ".jsonl";
    auto file = ReadJsonl(path, BadLinePolicy::kStop);
    SyntheticOptions o;
    o.scenario = "recommendation";
    o.n = n;
    o.seed = seed;
    o.candidates = 10;
    o.genre_skew = 1.2;
    o.task = "rec-popular";
    auto made = GenerateSynthetic(o);
    ASSERT_EQ(file.size(), made.size()) << path;
    for (size_t i = 0; i < made.size(); ++i)
      ASSERT_EQ(RecordToJson(file[i]), RecordToJson(made[i])) << path << " record " << i;
  }
}

TEST(Synthetic, GenreSkewMakesPopularGenresCommon) {
  SyntheticOptions o;
  o.scenario = "recommendation";
  o.n = 2000;
  o.genre_skew = 1.2;
  std::map<std::string, int> count;
  for (const auto& r : GenerateSynthetic(o))
    ++count[r.extra.at("preferred_genre").get<std::string>()];
  int top = 0;
  for (const auto& [g, c] : count) top = std::max(top, c);
  EXPECT_EQ(count.size(), 8u);
  EXPECT_GT(top, 2000 * 0.3);  // 1/H(8, 1.2) of the mass; uniform would be 12.5%
  o.genre_skew = -1;
  EXPECT_THROW(GenerateSynthetic(o), Error);
}

}  // namespace
}  // namespace iranker
