#include "ranking/convert.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

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

// tests/ranking/testdata/beir_tiny: a hand-written BEIR directory (its README) and run.
TEST(ConvertBeir, SplitQueriesRunOrderTitlesAndGrades) {
  BeirConvertOptions o;
  o.dir = TestData("beir_tiny");
  o.run = TestData("beir_tiny.run");
  o.depth = 3;
  ConvertStats stats;
  auto records = ConvertBeir(o, &stats);
  ASSERT_EQ(records.size(), 2u);  // q3 is the dev split's; q4 has no relevant document in the top 3
  EXPECT_EQ(stats.skipped, 1);
  const auto& q1 = records[0];
  EXPECT_EQ(q1.id, "q1");
  EXPECT_EQ(q1.task, "beir");
  EXPECT_EQ(q1.scenario, "passage");
  EXPECT_EQ(q1.query, "how long do fleas live");
  // Run order (score descending), the first 3; title + " " + text; an integer _id read as text.
  EXPECT_EQ(Texts(q1), (std::vector<std::string>{"Dogs Dogs need a flea treatment monthly.",
                                                 "Fleas A flea lives up to a year.",
                                                 "Integer ids are read as text."}));
  EXPECT_EQ(q1.candidates[2].id, "4");
  EXPECT_EQ(q1.relevance, (std::vector<double>{1, 2, 0}));
  EXPECT_EQ(records[1].id, "q2");
  // The run's first document for q2 is q2 itself, dropped as BEIR's evaluation does.
  EXPECT_EQ(records[1].candidates[0].text, "Cats groom themselves daily.");  // empty title
  EXPECT_EQ(records[1].size(), 2u);
  ASSERT_EQ(stats.notes.size(), 2u);
  EXPECT_NE(stats.notes[1].find("1 run entries whose document is the query itself"),
            std::string::npos);
  o.relevance_level = 2;
  EXPECT_EQ(ConvertBeir(o, nullptr)[0].relevance, (std::vector<double>{0, 2, 0}));
  o.relevance_level = 1;
  o.depth = 2;  // q2 itself is dropped before the cut: its top 2 are d2 and 4
  auto two = ConvertBeir(o, nullptr);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(Texts(two[1]), (std::vector<std::string>{"Cats groom themselves daily.",
                                                     "Integer ids are read as text."}));
  o.depth = 3;
  o.split = "dev";
  auto dev = ConvertBeir(o, nullptr);
  ASSERT_EQ(dev.size(), 1u);
  EXPECT_EQ(dev[0].id, "q3");
  EXPECT_EQ(dev[0].relevance, (std::vector<double>{1, 0}));
}

TEST(ConvertBeir, BadInputIsNamedByFileAndLine) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("beir_bad_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "qrels");
  fs::copy_file(TestData("beir_tiny/queries.jsonl"), dir / "queries.jsonl");
  fs::copy_file(TestData("beir_tiny/qrels/test.tsv"), dir / "qrels/test.tsv");
  std::ofstream(dir / "corpus.jsonl") << "{\"_id\": \"d1\", \"text\": \"ok\"}\n{\"_id\": \"d2\"}\n";
  BeirConvertOptions o;
  o.dir = dir.string();
  o.run = TestData("beir_tiny.run");
  auto message = [&] {
    try {
      ConvertBeir(o, nullptr);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message().find("corpus.jsonl:2: expected an object with \"_id\""), std::string::npos)
      << message();
  std::ofstream(dir / "qrels/test.tsv", std::ios::app) << "q9 d1 1\n";  // spaces, not tabs
  EXPECT_NE(message().find("test.tsv:6: expected 'query-id<TAB>corpus-id<TAB>score'"),
            std::string::npos)
      << message();
  o.split = "train";
  EXPECT_NE(message().find("qrels/train.tsv: cannot open"), std::string::npos) << message();
  o.run.clear();
  EXPECT_NE(message().find("needs --run"), std::string::npos) << message();
  fs::remove_all(dir);
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
// The IRanker paper's recommendation protocol on hand-made RecBole atomic files (users 1-4 have
// 22, 25, 21 and 23 interactions, user 5 has 20; rows in random order).
TEST(ConvertRecbole, PaperProtocolFirstTwentyThenTargetAndSampledUsers) {
  // The time-ordered items of each user, read independently of the converter.
  std::map<std::string, std::vector<std::pair<double, std::string>>> events;
  {
    std::ifstream in(TestData("paper.inter"));
    std::string line;
    std::getline(in, line);
    std::string u, item;
    double rating, t;
    while (in >> u >> item >> rating >> t) events[u].push_back({t, item});
    for (auto& [user, e] : events) std::sort(e.begin(), e.end());
  }
  RecboleOptions o;
  o.inter = TestData("paper.inter");
  o.item = TestData("paper.item");
  o.protocol = "paper";
  o.history = 20;
  o.candidates = 20;
  o.item_noun = "movies";
  ConvertStats stats;
  auto all = ConvertRecbole(o, &stats);
  ASSERT_EQ(all.size(), 4u);  // user 5 has 20 interactions
  EXPECT_EQ(stats.skipped, 1);
  for (const auto& r : all) {
    const auto& e = events.at(r.id);
    ASSERT_EQ(r.size(), 20u);
    ASSERT_EQ(r.extra["history"].size(), 20u);
    for (int i = 0; i < 20; ++i)
      EXPECT_EQ(r.extra["history"][i], "Movie " + e[i].second + " (" +
                                           std::to_string(1950 + std::stoi(e[i].second) - 100) +
                                           ")");
    EXPECT_EQ(r.candidates[r.positive].id, e[20].second);  // the 21st item, not the last
    for (size_t c = 0; c < r.size(); ++c) {
      if (static_cast<int>(c) == r.positive) continue;
      for (int i = 0; i <= 20; ++i) EXPECT_NE(r.candidates[c].id, e[i].second);
    }
    EXPECT_EQ(r.extra["item_noun"], "movies");
  }
  o.max_users = 3;
  auto sample = ConvertRecbole(o, &stats);
  ASSERT_EQ(sample.size(), 3u);
  EXPECT_TRUE(
      std::is_sorted(sample.begin(), sample.end(),
                     [](const QueryRecord& a, const QueryRecord& b) { return a.id < b.id; }));
  auto again = ConvertRecbole(o, nullptr);
  for (size_t i = 0; i < sample.size(); ++i)
    EXPECT_EQ(RecordToJson(again[i]), RecordToJson(sample[i]));
  std::set<std::string> drawn;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    o.seed = seed;
    std::string ids;
    for (const auto& r : ConvertRecbole(o, nullptr)) ids += r.id;
    drawn.insert(ids);
  }
  EXPECT_GT(drawn.size(), 1u);             // the user sample follows the seed
  o.inter = TestData("games.test.inter");  // sequences cannot give the first 20 items
  o.item = TestData("games.item");
  EXPECT_THROW(ConvertRecbole(o, nullptr), Error);
}

// GraphRouter's long router_data.csv, hand-written in its layout (quoted multi-line embedding
// cells, doubled quotes, a multi_news task, a query missing a model, a query with its rows in
// another model order).
TEST(ConvertGraphRouter, PreferencesPickTheFirstBestModel) {
  GraphRouterOptions o;
  o.csv = TestData("router_data.csv");
  const std::vector<std::string> models = {"LLaMA-3 (8b)", "Mixtral-8x7B", "LLaMA-3 (70b)",
                                           "Qwen-1.5 (72b)"};
  const std::map<std::string, std::vector<int>> want = {
      {"performance", {2, 0, 2}}, {"balance", {0, 0, 1}}, {"cost", {0, 0, 0}}};
  for (const auto& [pref, positives] : want) {
    o.preference = pref;
    ConvertStats stats;
    auto r = ConvertGraphRouter(o, &stats);
    ASSERT_EQ(r.size(), 3u) << pref;
    EXPECT_EQ(stats.skipped, 1);  // the train question lacks Qwen
    ASSERT_EQ(stats.notes.size(), 2u);
    EXPECT_NE(stats.notes[0].find("4 rows of task 'multi_news' dropped"), std::string::npos);
    EXPECT_EQ(r[0].id, "alpaca_data-0");
    EXPECT_EQ(r[1].id, "gsm8k-1");
    EXPECT_EQ(r[2].id, "squad-3");
    EXPECT_EQ(r[1].query, "Tom has 3 apples and buys 2 more. How many, \"in all\"?");
    for (size_t i = 0; i < r.size(); ++i) {
      EXPECT_EQ(Texts(r[i]), models);
      EXPECT_EQ(r[i].positive, positives[i]) << pref << " record " << i;
      EXPECT_EQ(GroundTruth(r[i]).size(), 1u);  // one positive even when utilities tie
      EXPECT_EQ(r[i].extra["preference"], pref);
      EXPECT_EQ(r[i].task, GraphRouterTaskName(pref));
    }
    // squad's rows list Qwen first; values follow the model, not the row.
    EXPECT_EQ(r[2].extra["cost"], nlohmann::json({0.0, 0.35, 0.8, 1.0}));
  }
  o.preference = "speed";
  EXPECT_THROW(ConvertGraphRouter(o, nullptr), Error);
  o.preference = "cost";
  o.drop_tasks.clear();
  EXPECT_EQ(ConvertGraphRouter(o, nullptr).size(), 4u);
}

TEST(ConvertGraphRouter, MissingColumnNamesFileAndColumn) {
  char path[] = "/tmp/iranker_router_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "task_id,query,llm,effect\na,q,m,1\n";
  GraphRouterOptions o;
  o.csv = path;
  try {
    ConvertGraphRouter(o, nullptr);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(std::string(path) + ":1: no 'cost' column"),
              std::string::npos)
        << e.what();
  }
  // The first query lacks a model: the others still convert, in the file's model order.
  std::ofstream(path) << "task_id,query,llm,effect,cost\na,q1,m1,1,0\na,q2,m1,1,0\na,q2,m2,0,0\n"
                         "a,q3,m1,0,0\na,q3,m2,1,0\n";
  ConvertStats stats;
  auto r = ConvertGraphRouter(o, &stats);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(Texts(r[0]), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(r[1].positive, 1);
  EXPECT_EQ(stats.skipped, 1);
  // No complete query at all, and a cell that is no finite number, are errors.
  std::ofstream(path) << "task_id,query,llm,effect,cost\na,q1,m1,1,0\na,q2,m2,1,0\n";
  EXPECT_THROW(ConvertGraphRouter(o, nullptr), Error);
  std::ofstream(path) << "task_id,query,llm,effect,cost\na,q,m1,1,0\na,q,m2,nan,0\n";
  EXPECT_THROW(ConvertGraphRouter(o, nullptr), Error);
  std::ofstream(path) << "task_id,query,llm,effect,cost\na,q,m1,1,0\na,q,m2,high,0\n";
  try {
    ConvertGraphRouter(o, nullptr);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(std::string(path) + ":3 column 'effect': 'high'"),
              std::string::npos)
        << e.what();
  }
  fs::remove(path);
}

// MS MARCO v1.1 lines, hand-written in the release's layout (one with Hugging Face's parallel
// lists): 19700 has two selected passages, 19701 seven passages, 19703 none selected; 19702 has
// 580 characters of passage text in 589 bytes.
TEST(ConvertMsMarco, PaperFiltersAndSample) {
  MsMarcoOptions o;
  o.input = TestData("msmarco_v1.1.jsonl");
  o.candidates = 5;
  o.max_chars = 585;  // characters, not bytes: 19702 stays
  ConvertStats stats;
  auto r = ConvertMsMarco(o, &stats);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(stats.skipped, 3);
  std::vector<std::string> ids;
  for (const auto& x : r) ids.push_back(x.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"19699", "19702", "19704", "19705"}));
  EXPECT_EQ(r[0].task, "Passage-5");
  EXPECT_EQ(r[0].scenario, "passage");
  EXPECT_EQ(r[0].extra["query_id"], 19699);
  EXPECT_EQ(r[0].positive, 1);  // MS MARCO's passage order is kept
  EXPECT_EQ(r[0].candidates[1].text.rfind("The Reserve Bank of Australia", 0), 0u);
  EXPECT_EQ(r[2].positive, 0);  // parallel lists
  EXPECT_EQ(r[2].candidates[0].text, "Lima is the capital and largest city of Peru.");
  o.max_chars = 579;
  EXPECT_EQ(ConvertMsMarco(o, nullptr).size(), 3u);
  o.max_chars = 2600;
  o.max_queries = 2;
  auto s = ConvertMsMarco(o, &stats);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_LT(std::stoll(s[0].id), std::stoll(s[1].id));  // file order
  EXPECT_NE(stats.notes.back().find("2 queries skipped: not drawn"), std::string::npos);
  std::set<std::string> draws;  // the sample follows the seed
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    o.seed = seed;
    auto d = ConvertMsMarco(o, nullptr);
    draws.insert(d[0].id + "," + d[1].id);
  }
  EXPECT_GT(draws.size(), 1u);
  o.seed = 42;
  o.candidates = 7;
  o.max_queries = -1;
  auto seven = ConvertMsMarco(o, nullptr);
  ASSERT_EQ(seven.size(), 1u);
  EXPECT_EQ(seven[0].id, "19701");
  EXPECT_EQ(seven[0].task, "Passage-7");
  EXPECT_EQ(seven[0].positive, 5);
}

TEST(ConvertMsMarco, ArrayFileAndErrorsNameTheLine) {
  char path[] = "/tmp/iranker_msmarco_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "[{\"query\": \"q\", \"query_id\": 7, \"passages\": [{\"is_selected\": 1, "
                         "\"url\": \"u\", \"passage_text\": \"a\"}, {\"is_selected\": 0, \"url\": "
                         "\"u\", \"passage_text\": \"b\"}]}]";
  MsMarcoOptions o;
  o.input = path;
  o.candidates = 2;
  auto r = ConvertMsMarco(o, nullptr);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].id, "7");
  std::ofstream(path) << "[{\"query\": \"q\", \"passages\": [{\"is_selected\": 1, \"url\": \"u\", "
                         "\"passage_text\": \"a\"}, {\"is_selected\": 0, \"url\": \"u\", "
                         "\"passage_text\": \"b\"}]}]";
  EXPECT_EQ(ConvertMsMarco(o, nullptr).at(0).id, "0");  // no query_id: the element's number
  std::ofstream(path)
      << "{\"query\": \"q\", \"passages\": []}\n{\"query\": \"q\", \"passages\": 3}\n";
  try {
    ConvertMsMarco(o, nullptr);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(std::string(path) + ":2: 'passages' is neither"),
              std::string::npos)
        << e.what();
  }
  std::ofstream(path) << "{\"query\": \"q\", \"passages\": [}\n";
  EXPECT_THROW(ConvertMsMarco(o, nullptr), Error);
  fs::remove(path);
}

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
  if (fs::exists(dir + "/movielens-ml-100k-recbole/ml-100k.inter")) {
    // The paper's protocol on real RecBole files: 911 of ML-100K's 943 users have >= 21 ratings.
    RecboleOptions o;
    o.inter = dir + "/movielens-ml-100k-recbole/ml-100k.inter";
    o.item = dir + "/movielens-ml-100k-recbole/ml-100k.item";
    o.protocol = "paper";
    o.history = 20;
    o.max_users = 657;
    ConvertStats stats;
    auto r = ConvertRecbole(o, &stats);
    EXPECT_EQ(r.size(), 657u);
    for (const auto& x : r) {
      EXPECT_EQ(x.size(), 20u);
      EXPECT_EQ(x.extra["history"].size(), 20u);
    }
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
