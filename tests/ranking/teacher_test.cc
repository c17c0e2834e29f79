#include "ranking/teacher.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "base/error.h"
#include "ranking/baselines.h"
#include "test_util.h"

namespace iranker {
namespace {

std::string WriteTemp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("iranker_teacher_" + name);
  std::ofstream(path) << text;
  return path.string();
}

TEST(Teacher, RunFileGivesTheTeachersOrder) {
  // Hand-built: query q ranks candidates 3, 0, 4 (scores 9, 5, 2; lines out of order); 1 and 2
  // are not in the run and follow in candidate order. A document the record lacks is ignored.
  const auto run = WriteTemp("run.txt",
                             "q Q0 0 2 5.0 t\n"
                             "q Q0 3 1 9.0 t\n"
                             "q Q0 zz 3 4.0 t\n"
                             "q Q0 4 4 2.0 t\n"
                             "other Q0 1 1 1.0 t\n");
  Teacher t(Responses::kRun, run);
  const QueryRecord r = MakeRecord(5, 2);
  EXPECT_EQ(t.Order(r, 0), (std::vector<int>{3, 0, 4, 1, 2}));
  // IRanker: the pool's member ranked last; the pool is in display order.
  EXPECT_EQ(t.EliminationTarget(r, {0, 3, 4}, 0), 2);  // candidate 4
  EXPECT_EQ(t.EliminationTarget(r, {1, 3}, 0), 0);     // candidate 1 (unlisted, after 3)
  // DRanker: display indices in the teacher's order.
  EXPECT_EQ(t.RankingTarget(r, {4, 1, 3}, 0), (std::vector<int>{2, 0, 1}));
}

// `iranker rank --trec-run` names queries DATASET/id.
TEST(Teacher, RunFileOfTheRankCommandNamesQueriesByDataset) {
  const auto run = WriteTemp("rank_run.txt",
                             "test/q Q0 2 1 3 iranker\n"
                             "test/q Q0 0 2 2 iranker\n"
                             "test/q Q0 1 3 1 iranker\n"
                             "other/q7 Q0 1 1 1 iranker\n");
  Teacher t(Responses::kRun, run);
  EXPECT_EQ(t.Order(MakeRecord(3, 0), 0), (std::vector<int>{2, 0, 1}));  // task "test", id "q"
  QueryRecord r = MakeRecord(3, 0, "q7");
  r.task = "elsewhere";  // found by its id's unique DATASET/ form
  EXPECT_EQ(t.Order(r, 0), (std::vector<int>{1, 0, 2}));
}

TEST(Teacher, RunFileWithoutTheQueryIsAnErrorNamingIt) {
  const auto run = WriteTemp("run_other.txt", "other Q0 1 1 1.0 t\n");
  Teacher t(Responses::kRun, run);
  try {
    t.Order(MakeRecord(3, 0, "q7"), 0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(run), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("q7"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Teacher(Responses::kRun, ""), Error);
  EXPECT_THROW(Teacher(Responses::kRun, "/nonexistent/run.txt"), Error);
}

TEST(Teacher, LabelsEliminateTheLeastRelevantAndSpreadTies) {
  QueryRecord r = MakeRecord(6, 1);
  r.relevance = {0, 3, 2, 0, 1, 0};  // graded; 0, 3 and 5 tie at the bottom
  Teacher t(Responses::kLabels, "");
  std::set<int> eliminated;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    const auto order = t.Order(r, seed);
    EXPECT_EQ(std::vector<int>(order.begin(), order.begin() + 3), (std::vector<int>{1, 2, 4}));
    EXPECT_EQ(t.Order(r, seed), order) << "a seed gives one order";
    const int d = t.EliminationTarget(r, {1, 2, 3, 4, 0, 5}, seed);
    eliminated.insert(std::vector<int>{1, 2, 3, 4, 0, 5}[d]);
  }
  EXPECT_EQ(eliminated, (std::set<int>{0, 3, 5})) << "every least relevant candidate is a target";
  // Once only relevant ones are left, the least relevant of them goes.
  EXPECT_EQ(t.EliminationTarget(r, {4, 1, 2}, 0), 0);
  EXPECT_EQ(t.RankingTarget(r, {4, 1, 2}, 0), (std::vector<int>{1, 2, 0}));
}

TEST(Teacher, Bm25IsTheBaselinesOrder) {
  QueryRecord r = MakeRecord(3, 0);
  r.query = "red apple";
  r.candidates = {{"a", "green pear"}, {"b", "red apple pie"}, {"c", "apple"}};
  Teacher t(Responses::kBm25, "");
  EXPECT_EQ(t.Order(r, 5), Bm25Ranking(r));
  EXPECT_EQ(t.Order(r, 5).front(), 1);
  EXPECT_EQ(t.EliminationTarget(r, {0, 1, 2}, 0), 0);
}

}  // namespace
}  // namespace iranker
