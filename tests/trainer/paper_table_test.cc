#include "trainer/paper_table.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "base/error.h"

namespace iranker {
namespace {

QueryRecord Rec(const std::string& id, const std::string& scenario, int n, int positive) {
  QueryRecord r;
  r.id = id;
  r.task = "t";
  r.scenario = scenario;
  for (int i = 0; i < n; ++i) r.candidates.push_back({std::to_string(i), "c" + std::to_string(i)});
  r.relevance.assign(n, 0.0);
  r.relevance[positive] = 1;
  r.positive = positive;
  return r;
}

// Two passage queries (positive ranked 1st and 4th), one recommendation query (positive 2nd), in
// a config order that puts passage first.
struct Fixture {
  std::vector<Dataset> sets;
  EvalReport report;
  Fixture() {
    sets.push_back(
        {"Passage-5", "p.jsonl", {Rec("a", "passage", 5, 0), Rec("b", "passage", 5, 3)}});
    sets.push_back({"Rec-Movie", "r.jsonl", {Rec("u", "recommendation", 20, 7)}});
    report.policy_rankings = {{"Passage-5", "a", {0, 1, 2, 3, 4}, {}},
                              {"Passage-5", "b", {0, 1, 2, 3, 4}, {}},
                              {"Rec-Movie", "u", {3, 7, 0, 1, 2}, {}}};
    report.rows = {{"bm25", "Passage-5", 2, 0.5, 0, 0, 0},
                   {"random", "Rec-Movie", 1, 0.2, 0, 0, 0}};
  }
};

TEST(PaperTable, MetricsTimesHundredAtTheScenarioCutoffsInPaperOrder) {
  Fixture f;
  auto rows = BuildPaperTable(f.report, f.sets);
  ASSERT_EQ(rows.size(), 5u);  // Rec-Movie, its mean, Passage-5, its mean, the overall mean
  EXPECT_EQ(rows[0].dataset, "Rec-Movie");
  EXPECT_EQ(rows[0].cutoffs, (std::vector<int>{5, 10, 20}));
  EXPECT_NEAR(rows[0].mrr, 50.0, 1e-9);
  EXPECT_NEAR(rows[0].ndcg[0], 100.0 / std::log2(3.0), 1e-9);
  EXPECT_NEAR(rows[0].hit[0], 100.0, 1e-9);
  EXPECT_NEAR(rows[0].random_mrr, 20.0, 1e-9);
  EXPECT_TRUE(rows[1].average);
  EXPECT_EQ(rows[1].dataset, "mean recommendation");
  EXPECT_EQ(rows[2].dataset, "Passage-5");
  EXPECT_EQ(rows[2].cutoffs, (std::vector<int>{3, 5, 10}));
  EXPECT_EQ(rows[2].queries, 2);
  EXPECT_NEAR(rows[2].mrr, (1.0 + 0.25) / 2 * 100, 1e-9);
  EXPECT_NEAR(rows[2].hit[0], 50.0, 1e-9);   // hit@3: only query a
  EXPECT_NEAR(rows[2].hit[1], 100.0, 1e-9);  // hit@5: both
  EXPECT_NEAR(rows[2].ndcg[0], (1.0 + 0.0) / 2 * 100, 1e-9);
  EXPECT_NEAR(rows[2].ndcg[1], (1.0 + 1.0 / std::log2(5.0)) / 2 * 100, 1e-9);
  EXPECT_NEAR(rows[2].bm25_mrr, 50.0, 1e-9);
  EXPECT_EQ(rows[4].dataset, "mean (all datasets)");
  EXPECT_NEAR(rows[4].mrr, (50.0 + 62.5) / 2, 1e-9);  // mean over datasets, not queries
  EXPECT_EQ(rows[4].queries, 3);

  const std::string md = FormatPaperTable(rows, nlohmann::json::object());
  EXPECT_NE(md.find("| Rec-Movie | 1 | 50.00 | 0.00 | 20.00 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| nDCG@3 | nDCG@5 | nDCG@10 | Hit@3 | Hit@5 | Hit@10 |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| **mean (all datasets)** | 3 | 56.25 |"), std::string::npos) << md;
}

TEST(PaperTable, ReportedNumbersBesideOursAndBadFilesNamed) {
  Fixture f;
  auto rows = BuildPaperTable(f.report, f.sets);
  char path[] = "/tmp/iranker_reported_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << R"({"Passage-5": {"mrr": 70.1, "hit@3": 55}})";
  const nlohmann::json reported = ReadReportedNumbers(path);
  const std::string md = FormatPaperTable(rows, reported);
  EXPECT_NE(md.find("| Passage-5 | 2 | 62.50 | 70.10 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 50.00 (55.00) |"), std::string::npos) << md;
  const auto j = PaperTableJson(rows, reported);
  EXPECT_EQ(j[2]["reported"]["mrr"], 70.1);
  EXPECT_EQ(j[2]["hit@5"], 100.0);
  std::ofstream(path) << R"({"Passage-5": {"mrr": "high"}})";
  try {
    ReadReportedNumbers(path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(std::string(path) + ": 'Passage-5.mrr' is not a number"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace iranker
