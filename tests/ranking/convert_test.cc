#include "ranking/convert.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "ranking/csv.h"
#include "ranking/text.h"
#include "tests/ranking/test_util.h"

namespace iranker {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> Texts(const QueryRecord& r) {
  std::vector<std::string> out;
  for (const auto& c : r.candidates) out.push_back(c.text);
  return out;
}

TEST(ConvertRecbole, InteractionsSortedByTimeLastIsTarget) {
  RecboleOptions o;
  o.inter = TestData("tiny.inter");
  o.item = TestData("tiny.item");
  o.candidates = 5;
  ConvertStats stats;
  auto records = ConvertRecbole(o, &stats);
  ASSERT_EQ(records.size(), 2u);  // user 3 has no history
  EXPECT_EQ(stats.skipped, 1);
  const QueryRecord& u1 = records[0];
  EXPECT_EQ(u1.id, "1");
  EXPECT_EQ(u1.scenario, "recommendation");
  EXPECT_EQ(u1.size(), 5u);
  EXPECT_EQ(u1.candidates[u1.positive].text, "Toy Story (1995)");
  EXPECT_EQ(u1.extra["history"], nlohmann::json({"GoldenEye (1995)", "Four Rooms (1995)"}));
  for (size_t i = 0; i < u1.size(); ++i) {  // negatives are unseen items
    if (static_cast<int>(i) == u1.positive) continue;
    for (const char* seen : {"11", "12", "10"}) EXPECT_NE(u1.candidates[i].id, seen);
  }
  // Deterministic by seed.
  EXPECT_EQ(RecordToJson(ConvertRecbole(o, nullptr)[0]), RecordToJson(u1));
}

TEST(ConvertRecbole, SequencesWithCandidateFileAndEntities) {
  RecboleOptions o;
  o.inter = TestData("games.test.inter");
  o.item = TestData("games.item");
  o.candidates_file = TestData("games.random");
  o.candidates = 4;
  ConvertStats stats;
  auto records = ConvertRecbole(o, &stats);
  ASSERT_EQ(records.size(), 1u);  // user 8 is not in the candidates file
  const auto& r = records[0];
  EXPECT_EQ(r.candidates[r.positive].text, "Tetris");
  auto texts = Texts(r);
  std::sort(texts.begin(), texts.end());
  EXPECT_EQ(texts, (std::vector<std::string>{"Mario & Luigi", "Portal", "Tetris", "Zelda"}));
  EXPECT_EQ(r.extra["history"][2], "Halo\u00AE 3");
  EXPECT_EQ(stats.notes.size(), 1u);
}

TEST(ConvertRecbole, BadFilesNameTheProblem) {
  RecboleOptions o;
  o.inter = TestData("tiny.item");  // no user_id column
  o.item = TestData("tiny.item");
  try {
    ConvertRecbole(o, nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no 'user_id' column"), std::string::npos) << e.what();
  }
  o.item = "/nonexistent.item";
  EXPECT_THROW(ConvertRecbole(o, nullptr), Error);
}

TEST(ConvertTrec, RunTopicsPassagesQrels) {
  TrecConvertOptions o;
  o.topics = TestData("trec_topics.tsv");
  o.qrels = TestData("trec_qrels.txt");
  o.run = TestData("trec_run.trec");
  o.passages = TestData("trec_passages.tsv");
  o.depth = 3;
  ConvertStats stats;
  auto records = ConvertTrec(o, &stats);
  ASSERT_EQ(records.size(), 1u);  // 102 has no relevant document, 103 no qrels
  EXPECT_EQ(stats.skipped, 2);
  const auto& r = records[0];
  EXPECT_EQ(r.id, "101");
  EXPECT_EQ(r.query, "how long do fleas live");
  EXPECT_EQ(r.candidates[0].id, "d2");  // run order (score descending)
  EXPECT_EQ(r.candidates[1].text, "A flea lives up to a year.");
  EXPECT_EQ(r.relevance, (std::vector<double>{0, 3, 1}));
  o.relevance_level = 2;
  EXPECT_EQ(ConvertTrec(o, nullptr)[0].relevance, (std::vector<double>{0, 3, 0}));
}

TEST(ConvertTrec, RankLlmJsonMatchesRunPath) {
  TrecConvertOptions o;
  o.rankllm_json = TestData("rankllm.json");
  o.qrels = TestData("trec_qrels.txt");
  auto records = ConvertTrec(o, nullptr);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].id, "101");
  EXPECT_EQ(records[0].relevance, (std::vector<double>{0, 3, 1}));
  o.qrels.clear();
  EXPECT_THROW(ConvertTrec(o, nullptr), Error);
}

TEST(ConvertRouting, PerformanceFirstKeepsTiesAndSkipsFlatRows) {
  RoutingCsvOptions o;
  o.csv = TestData("routing.csv");
  o.models_json = TestData("routing_models.json");
  ConvertStats stats;
  auto records = ConvertRoutingCsv(o, &stats);
  ASSERT_EQ(records.size(), 2u);  // arc.2 (all right) and arc.3 (all wrong) carry no signal
  EXPECT_EQ(stats.skipped, 2);
  EXPECT_EQ(records[0].id, "arc.1");
  EXPECT_EQ(records[0].query, "Which gas do plants absorb?\nA. O2\nB. CO2");
  EXPECT_EQ(records[0].relevance, (std::vector<double>{0, 1, 1}));
  EXPECT_EQ(records[0].candidates[0].text, "small-7b: a small fast model");
  EXPECT_EQ(records[0].candidates[1].text, "mid-34b");
  EXPECT_EQ(records[1].relevance, (std::vector<double>{0, 0, 1}));
  EXPECT_EQ(records[1].query, "Another, with comma");
}

TEST(ConvertRouting, BalancedWeightsTradeQualityForCost) {
  RoutingCsvOptions o;
  o.csv = TestData("routing.csv");
  o.quality_weight = 0.5;
  o.cost_weight = 0.5;
  auto records = ConvertRoutingCsv(o, nullptr);
  ASSERT_EQ(records.size(), 4u);  // with a cost term no row is flat
  EXPECT_EQ(records[0].relevance, (std::vector<double>{0, 1, 0}));  // mid-34b
  EXPECT_EQ(records[1].relevance, (std::vector<double>{1, 0, 0}));  // all right: cheapest
  EXPECT_EQ(records[2].relevance, (std::vector<double>{1, 0, 0}));  // all wrong: cheapest
  EXPECT_NEAR(records[0].extra["utility"][1].get<double>(), 0.5 - 0.5 * 0.2, 1e-12);
}

TEST(Csv, QuotedFieldsWithCommasQuotesAndNewlines) {
  const fs::path p = fs::temp_directory_path() / ("iranker_csv_" + std::to_string(getpid()));
  std::ofstream(p) << "a,b\r\n\"x, \"\"y\"\"\",\"two\nlines\"\nlast,\n\"open";
  CsvReader csv(p.string());
  std::vector<std::string> row;
  ASSERT_TRUE(csv.Next(&row));
  EXPECT_EQ(row, (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(csv.Next(&row));
  EXPECT_EQ(row, (std::vector<std::string>{"x, \"y\"", "two\nlines"}));
  ASSERT_TRUE(csv.Next(&row));
  EXPECT_EQ(row, (std::vector<std::string>{"last", ""}));
  EXPECT_THROW(csv.Next(&row), Error);
  fs::remove(p);
}

TEST(DecodeHtmlEntities, NamedAndNumeric) {
  EXPECT_EQ(DecodeHtmlEntities("A &amp; B &#39;C&#x27; &lt;&gt; &unknown; &"),
            "A & B 'C' <> &unknown; &");
}

// Optional: the real files of ../shared/data, when present.
TEST(ConvertReal, SharedDataIfPresent) {
  const std::string dir = std::string(IRANKER_SOURCE_DIR) + "/../shared/data";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " is absent";
  if (fs::exists(dir + "/movielens-ml-100k-recbole/ml-100k.inter")) {
    RecboleOptions o;
    o.inter = dir + "/movielens-ml-100k-recbole/ml-100k.inter";
    o.item = dir + "/movielens-ml-100k-recbole/ml-100k.item";
    o.max_users = 50;
    auto r = ConvertRecbole(o, nullptr);
    EXPECT_EQ(r.size(), 50u);
    EXPECT_EQ(r[0].size(), 20u);
  }
  if (fs::exists(dir + "/trec-dl-passage-bm25-rankllm/bm25_top100_dl19.json")) {
    TrecConvertOptions o;
    o.rankllm_json = dir + "/trec-dl-passage-bm25-rankllm/bm25_top100_dl19.json";
    o.qrels = dir + "/trec-dl-passage-bm25-rankllm/qrels.dl19-passage.txt";
    auto r = ConvertTrec(o, nullptr);
    EXPECT_EQ(r.size(), 43u);  // every DL19 query has a judged-relevant passage in its top 20
  }
  if (fs::exists(dir + "/routing-routerdc/routerbench_zs/arc_challenge_test.csv")) {
    RoutingCsvOptions o;
    o.csv = dir + "/routing-routerdc/routerbench_zs/arc_challenge_test.csv";
    auto r = ConvertRoutingCsv(o, nullptr);
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(r[0].size(), 11u);
  }
}

}  // namespace
}  // namespace iranker
