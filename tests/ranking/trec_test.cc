#include "ranking/trec.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "base/error.h"
#include "tests/ranking/test_util.h"

namespace iranker {
namespace {
namespace fs = std::filesystem;

std::string TempFile(const std::string& name, const std::string& text) {
  fs::path p = fs::temp_directory_path() / ("iranker_trec_" + std::to_string(getpid()) + name);
  std::ofstream(p) << text;
  return p.string();
}

TEST(Trec, ReadsQrelsWithQ0OrZero) {
  Qrels q = ReadQrels(TestData("tiny.qrels"));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_DOUBLE_EQ(q["q1"]["d4"], 3);
  EXPECT_DOUBLE_EQ(q["q2"]["e1"], 1);
}

TEST(Trec, SortsLikeTrecEvalScoreDescThenDocidDesc) {
  std::vector<RunEntry> docs = {{"d1", 4}, {"d2", 5}, {"d3", 4}, {"d10", 4}};
  SortTrecOrder(&docs);
  EXPECT_EQ(docs[0].docid, "d2");
  EXPECT_EQ(docs[1].docid, "d3");
  EXPECT_EQ(docs[2].docid, "d10");  // byte order: "d10" > "d1"
  EXPECT_EQ(docs[3].docid, "d1");
}

// Hand-computed on tests/ranking/testdata/tiny.{qrels,run}:
//   q1 ordered d2(5) d3(4, tie: docid desc) d1(4) dX(3, unjudged); gains 0 1 2 0; d4 (rel 3) not
//   retrieved. RR = 1/2. DCG@5 = 1/log2 3 + 2/log2 4; IDCG@5 = 3 + 2/log2 3 + 1/log2 4.
//   q2 ordered e2 e1; gains 0 1. RR = 1/2; nDCG@5 = 1/log2 3.
//   q3 is judged but not in the run; q9 is in the run but not judged (ignored).
TEST(Trec, EvaluateHandComputedWithTiesAndMissingDocs) {
  auto r = EvaluateRun(ReadQrels(TestData("tiny.qrels")), ReadRun(TestData("tiny.run")), {});
  ASSERT_EQ(r.num_queries, 2);
  EXPECT_EQ(r.missing_from_run, 1);
  EXPECT_EQ(r.without_qrels, 1);
  const double q1_ndcg5 =
      (1 / std::log2(3.0) + 2 / std::log2(4.0)) / (3 + 2 / std::log2(3.0) + 0.5);
  const double q2_ndcg5 = 1 / std::log2(3.0);
  EXPECT_NEAR(r.per_query.at("q1").ndcg[1], q1_ndcg5, 1e-12);
  EXPECT_NEAR(r.per_query.at("q2").ndcg[1], q2_ndcg5, 1e-12);
  EXPECT_DOUBLE_EQ(r.per_query.at("q1").ndcg[0], 0.0);
  EXPECT_DOUBLE_EQ(r.mean.recip_rank, 0.5);
  EXPECT_NEAR(r.mean.ndcg[1], (q1_ndcg5 + q2_ndcg5) / 2, 1e-12);
}

TEST(Trec, CompleteCountsMissingQueriesAsZero) {
  TrecEvalOptions o;
  o.complete = true;
  auto r = EvaluateRun(ReadQrels(TestData("tiny.qrels")), ReadRun(TestData("tiny.run")), o);
  EXPECT_EQ(r.num_queries, 3);
  EXPECT_NEAR(r.mean.recip_rank, 1.0 / 3, 1e-12);
}

TEST(Trec, RelevanceLevelChangesRecipRankNotNdcg) {
  TrecEvalOptions o;
  o.relevance_level = 2;
  auto r = EvaluateRun(ReadQrels(TestData("tiny.qrels")), ReadRun(TestData("tiny.run")), o);
  EXPECT_NEAR(r.per_query.at("q1").recip_rank, 1.0 / 3, 1e-12);  // d1 (rel 2) at rank 3
  EXPECT_DOUBLE_EQ(r.per_query.at("q2").recip_rank, 0.0);
}

TEST(Trec, WriteAndReadRoundTrip) {
  TrecRun run = {{"q1", {{"a", 1.5}, {"b", 3}}}};
  const std::string path = TempFile("rt.run", "");
  WriteRun(path, run, "mine");
  TrecRun back = ReadRun(path);
  ASSERT_EQ(back["q1"].size(), 2u);
  EXPECT_EQ(back["q1"][0].docid, "b");  // written in rank order
  EXPECT_DOUBLE_EQ(back["q1"][1].score, 1.5);
  Qrels q = {{"q1", {{"a", 2}, {"b", 0}}}};
  const std::string qp = TempFile("rt.qrels", "");
  WriteQrels(qp, q);
  EXPECT_EQ(ReadQrels(qp), q);
  fs::remove(path);
  fs::remove(qp);
}

TEST(Trec, MalformedLinesNameFileAndLine) {
  const std::string bad = TempFile("bad.run", "q1 Q0 a 1 1.0 t\nq1 Q0 b 2 x t\n");
  try {
    ReadRun(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad + ":2: score 'x'"), std::string::npos) << e.what();
  }
  const std::string dup = TempFile("dup.run", "q1 Q0 a 1 1.0 t\nq1 Q0 a 2 0.5 t\n");
  EXPECT_THROW(ReadRun(dup), Error);
  const std::string short_q = TempFile("short.qrels", "q1 0 a\n");
  EXPECT_THROW(ReadQrels(short_q), Error);
  EXPECT_THROW(ReadQrels("/nonexistent/x.qrels"), Error);
  fs::remove(bad);
  fs::remove(dup);
  fs::remove(short_q);
}

TEST(Trec, RecordRankingsRoundTripThroughTrecFiles) {
  auto r = MakeRecord(4, 2, "q7");
  r.positive = -1;
  r.relevance = {0, 1, 3, 0};
  const std::vector<int> ranking = {3, 2, 0, 1};
  TrecRun run;
  Qrels qrels;
  AddToRun(r, ranking, &run);
  AddToQrels(r, &qrels);
  EXPECT_EQ(run["q7"].front().docid, "3");
  EXPECT_DOUBLE_EQ(run["q7"].front().score, 4);
  const auto direct = ScoreRanking(ranking, r.relevance);
  const auto via_trec = EvaluateRun(qrels, run, {}).per_query.at("q7");
  EXPECT_DOUBLE_EQ(via_trec.recip_rank, direct.recip_rank);
  for (size_t c = 0; c < kMetricCutoffs.size(); ++c)
    EXPECT_DOUBLE_EQ(via_trec.ndcg[c], direct.ndcg[c]);
}

// Optional: trec_eval's published figure for the BM25 run on TREC DL19 passage (0.5058).
void ExpectSameFigures(const TrecEvalResult& a, const TrecEvalResult& b) {
  ASSERT_EQ(a.per_query.size(), b.per_query.size());
  for (const auto& [qid, m] : a.per_query) {
    const auto& n = b.per_query.at(qid);
    EXPECT_EQ(m.recip_rank, n.recip_rank) << qid;
    EXPECT_EQ(m.ndcg, n.ndcg) << qid;
    EXPECT_EQ(m.hit, n.hit) << qid;
  }
  EXPECT_EQ(a.mean.ndcg, b.mean.ndcg);
  EXPECT_EQ(a.mean.recip_rank, b.mean.recip_rank);
}

// The top `depth` of each query in trec_eval's order: what `data convert --from trec` makes the
// candidates, and a re-ranker that keeps that order returns.
std::map<std::string, std::vector<std::string>> Tops(const TrecRun& run, size_t depth) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [qid, given] : run) {
    auto docs = given;
    SortTrecOrder(&docs);
    for (size_t i = 0; i < std::min(depth, docs.size()); ++i) out[qid].push_back(docs[i].docid);
  }
  return out;
}

TEST(Trec, MergeRerankedKeepsTheFirstStageBelowTheDepth) {
  const Qrels qrels = ReadQrels(TestData("tiny.qrels"));
  const TrecRun first = ReadRun(TestData("tiny.run"));
  // Unchanged order (ties in the first stage included): the first stage's figures, exactly.
  for (size_t depth : {1, 2, 3, 10})
    ExpectSameFigures(EvaluateRun(qrels, MergeReranked(first, Tops(first, depth), "tiny.run"), {}),
                      EvaluateRun(qrels, first, {}));
  // q1's top 2 reversed: only they move; the rest follows in the first stage's order.
  auto merged = MergeReranked(first, {{"q1", {"d3", "d2"}}}, "tiny.run");
  auto q1 = merged.at("q1");
  SortTrecOrder(&q1);
  std::vector<std::string> order;
  for (const auto& d : q1) order.push_back(d.docid);
  EXPECT_EQ(order, (std::vector<std::string>{"d3", "d2", "d1", "dX"}));
  EXPECT_EQ(merged.at("q2").size(), 2u);  // not re-ranked: as it was
  EXPECT_EQ(merged.at("q9").front().docid, "z");
  // Ids that are not the run's: named.
  auto message = [&](const std::map<std::string, std::vector<std::string>>& r) {
    try {
      MergeReranked(first, r, "tiny.run");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message({{"rec/q1", {"d1"}}})
                .find("query 'rec/q1' of the re-ranking is not in the "
                      "first-stage run tiny.run"),
            std::string::npos);
  EXPECT_NE(message({{"q1", {"d7"}}}).find("document 'd7' re-ranked for query 'q1'"),
            std::string::npos);
}

TEST(Trec, Dl19Bm25MatchesTrecEval) {
  const std::string dir =
      std::string(IRANKER_SOURCE_DIR) + "/../shared/data/trec-dl-passage-bm25-rankllm";
  if (!fs::exists(dir + "/qrels.dl19-passage.txt")) GTEST_SKIP() << dir << " is absent";
  auto r = EvaluateRun(ReadQrels(dir + "/qrels.dl19-passage.txt"),
                       ReadRun(dir + "/bm25_run_dl19.trec"), {});
  EXPECT_EQ(r.num_queries, 43);
  EXPECT_NEAR(r.mean.ndcg[2], 0.5058, 5e-5);
  // Re-ranking the top 20 or all 100 without changing their order reproduces it exactly.
  const auto qrels = ReadQrels(dir + "/qrels.dl19-passage.txt");
  const auto run = ReadRun(dir + "/bm25_run_dl19.trec");
  for (size_t depth : {20, 100})
    ExpectSameFigures(EvaluateRun(qrels, MergeReranked(run, Tops(run, depth), "dl19"), {}), r);
  if (fs::exists(dir + "/qrels.dl20-passage.txt")) {
    auto r20 = EvaluateRun(ReadQrels(dir + "/qrels.dl20-passage.txt"),
                           ReadRun(dir + "/bm25_run_dl20.trec"), {});
    EXPECT_NEAR(r20.mean.ndcg[2], 0.4796, 5e-5);
  }
}

}  // namespace
}  // namespace iranker
