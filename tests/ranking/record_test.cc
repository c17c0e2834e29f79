#include "ranking/record.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "ranking/jsonl.h"
#include "tests/ranking/test_util.h"

namespace iranker {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

std::string ParseError(const std::string& line) {
  try {
    ParseRecord(json::parse(line));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Record, StringCandidatesAndPositiveIndex) {
  auto r = ParseRecord(json::parse(
      R"({"id":"a","task":"t","query":"q","candidates":["x","y","z"],"positive":2,"history":["h"]})"));
  EXPECT_EQ(r.candidates[1].id, "1");
  EXPECT_EQ(r.relevance, (std::vector<double>{0, 0, 1}));
  EXPECT_EQ(r.positive, 2);
  EXPECT_EQ(History(r), std::vector<std::string>{"h"});
  EXPECT_EQ(GroundTruth(r), std::vector<int>{2});
}

TEST(Record, ObjectCandidatesPositiveByIdAndNumericId) {
  auto r = ParseRecord(json::parse(
      R"({"id":7,"task":"t","query":"q","candidates":[{"id":"d1","text":"x"},{"id":"d2","text":"y"}],"positive":"d2"})"));
  EXPECT_EQ(r.id, "7");
  EXPECT_EQ(r.positive, 1);
}

TEST(Record, GradedRelevanceAndExtraRoundTrip) {
  auto r = ParseRecord(json::parse(
      R"({"id":"a","task":"t","scenario":"routing","query":"q","candidates":["x","y","z"],"relevance":[1,3,3],"cost":[1,2,3],"note":"kept"})"));
  EXPECT_EQ(r.positive, -1);
  EXPECT_EQ(GroundTruth(r), (std::vector<int>{1, 2}));
  EXPECT_TRUE(IsGroundTruth(r, 2));
  EXPECT_FALSE(IsGroundTruth(r, 0));
  auto back = ParseRecord(RecordToJson(r));
  EXPECT_EQ(back.relevance, r.relevance);
  EXPECT_EQ(back.extra["note"], "kept");
  EXPECT_EQ(back.scenario, "routing");
}

struct Bad {
  const char* line;
  const char* reason;
};
class RecordErrors : public ::testing::TestWithParam<Bad> {};

TEST_P(RecordErrors, NameTheField) {
  const std::string why = ParseError(GetParam().line);
  EXPECT_NE(why.find(GetParam().reason), std::string::npos) << why;
}

INSTANTIATE_TEST_SUITE_P(
    All, RecordErrors,
    ::testing::Values(
        Bad{R"([1,2])", "must be a JSON object"},
        Bad{R"({"task":"t","query":"q","candidates":["a","b"],"positive":0})", "missing 'id'"},
        Bad{R"({"id":"a","task":"t","query":"q","candidates":["a"],"positive":0})", "at least 2"},
        Bad{R"({"id":"a","task":"t","query":"q","candidates":["a","b"],"positive":5})",
            "out of range"},
        Bad{R"({"id":"a","task":"t","query":"q","candidates":["a","b"],"positive":"zz"})",
            "no candidate has"},
        Bad{R"({"id":"a","task":"t","query":"q","candidates":["a","b"]})", "exactly one of"},
        Bad{R"({"id":"a","task":"t","query":"q","candidates":["a","b"],"positive":0,"relevance":[1,0]})",
            "exactly one of"},
        Bad{R"({"id":"a","task":"t","query":"q","candidates":["a","b"],"relevance":[0,0]})",
            "no relevant"},
        Bad{R"({"id":"a","task":"t","query":"q","candidates":["a","b"],"relevance":[1]})",
            "'relevance' has 1"},
        Bad{R"({"id":"a","task":"t","query":"q","candidates":["a",""],"positive":0})",
            "empty text"},
        Bad{R"({"id":"a","task":"t","query":"q","candidates":[{"id":"x","text":"a"},{"id":"x","text":"b"}],"positive":0})",
            "appears twice"},
        Bad{R"({"id":"a","task":"t","query":"q","candidates":["a","b"],"positive":0,"cost":[1]})",
            "'cost' must be"},
        Bad{R"({"id":"a","task":"t","query":"q","candidates":["a","b"],"positive":0,"history":[1]})",
            "'history'"},
        Bad{R"({"id":"a","task":"t","scenario":"chess","query":"q","candidates":["a","b"],"positive":0})",
            "'scenario'"},
        Bad{R"({"id":"a","task":"t","query":3,"candidates":["a","b"],"positive":0})",
            "'query' must be"}));

std::string WriteTemp(const std::string& text) {
  static int n = 0;
  fs::path p = fs::temp_directory_path() /
               ("iranker_jsonl_" + std::to_string(getpid()) + "_" + std::to_string(n++) + ".jsonl");
  std::ofstream(p) << text;
  return p.string();
}

const char* kMixed = R"({"id":"a","task":"t","query":"q","candidates":["x","y"],"positive":0})"
                     "\n\n"
                     R"({"id":"b","task":"t","query":"q","candidates":["x"],"positive":0})"
                     "\n"
                     R"({"id":"c", broken)"
                     "\n"
                     R"({"id":"d","task":"t","query":"q","candidates":["x","y"],"positive":1})"
                     "\n";

TEST(Jsonl, StopPolicyThrowsWithFileAndLine) {
  const std::string path = WriteTemp(kMixed);
  try {
    ReadJsonl(path, BadLinePolicy::kStop);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":3: 'candidates' needs at least 2"),
              std::string::npos)
        << e.what();
  }
  fs::remove(path);
}

TEST(Jsonl, SkipPolicyCountsAndKeepsMessages) {
  const std::string path = WriteTemp(kMixed);
  ReadStats s;
  auto records = ReadJsonl(path, BadLinePolicy::kSkip, -1, &s);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].id, "d");
  EXPECT_EQ(s.bad_lines, 2);
  ASSERT_EQ(s.bad_line_messages.size(), 2u);
  EXPECT_NE(s.bad_line_messages[1].find(path + ":4: not valid JSON"), std::string::npos)
      << s.bad_line_messages[1];
  EXPECT_THROW(ReadJsonl(path, BadLinePolicy::kSkip, /*max_bad_lines=*/1), Error);
  fs::remove(path);
}

TEST(Jsonl, StreamsAndWritesBack) {
  auto r = MakeRecord(3, 1, "w");
  const std::string path = WriteTemp("");
  WriteJsonl(path, {r, MakeRecord(2, 0, "v")});
  JsonlReader reader(path, BadLinePolicy::kStop);
  QueryRecord got;
  ASSERT_TRUE(reader.Next(&got));
  EXPECT_EQ(got.id, "w");
  EXPECT_EQ(got.positive, 1);
  ASSERT_TRUE(reader.Next(&got));
  EXPECT_FALSE(reader.Next(&got));
  EXPECT_EQ(reader.records(), 2);
  fs::remove(path);
  EXPECT_THROW(JsonlReader("/nonexistent.jsonl", BadLinePolicy::kStop), Error);
}

TEST(DataOptions, Policy) {
  DataOptions o;
  EXPECT_EQ(o.bad_lines, BadLinePolicy::kStop);
  EXPECT_STREQ(NameOf(o.bad_lines), "stop");
  BadLinePolicy parsed = BadLinePolicy::kStop;
  EXPECT_TRUE(ParseName("skip", &parsed));
  EXPECT_EQ(parsed, BadLinePolicy::kSkip);
  EXPECT_FALSE(ParseName("drop", &parsed));
}

}  // namespace
}  // namespace iranker
