// The records' one field list: equality and payload follow it, and the schema rendered from it
// is what docs/TRAJLOG.md and tools/trajlog_to_numpy.py hold.
#include "trajectory/schema.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <type_traits>

#include "tests/trajectory/test_util.h"
#include "trajectory/record.h"

namespace iranker {
namespace {

std::string ReadSource(const std::string& rel) {
  std::ifstream in(std::string(IRANKER_SOURCE_DIR) + "/" + rel);
  EXPECT_TRUE(in.good()) << rel;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The text between the two marker lines of `file`.
std::string Between(const std::string& text, const std::string& begin, const std::string& end) {
  const size_t a = text.find(begin);
  const size_t b = text.find(end);
  if (a == std::string::npos || b == std::string::npos || b < a) return "(markers not found)";
  const size_t start = text.find('\n', a) + 1;
  return text.substr(start, text.rfind('\n', b) + 1 - start);
}

// Changes each field of a copy of `base` in turn; every change must make the copy differ.
struct MutateEachField {
  const StepRecord& base;
  int changed = 0;
  template <class T>
  void Field(const char* name, T StepRecord::*member, const char*, const char* = nullptr) {
    StepRecord r = base;
    if constexpr (std::is_same_v<T, bool>) {
      r.*member = !(r.*member);
    } else if constexpr (std::is_arithmetic_v<T>) {
      r.*member = (r.*member) + 1;
    } else {
      (r.*member).push_back({});
    }
    EXPECT_FALSE(r == base) << name;
    ++changed;
  }
};

TEST(TrajectorySchema, EveryFieldTakesPartInEquality) {
  const StepRecord base = testing::MakeBatch(3).steps.front();
  MutateEachField m{base};
  StepRecord::Visit(m);
  EXPECT_EQ(m.changed, 21);
  EXPECT_TRUE(base == testing::MakeBatch(3).steps.front());
}

TEST(TrajectorySchema, PayloadCountsTheVariableLengthFields) {
  TrajectoryBatch b;
  b.steps.emplace_back();
  b.steps[0].prompt_ids = {1, 2, 3};
  b.steps[0].response_ids = {4};
  b.steps[0].logprobs = {-1.f};
  b.steps[0].query_id = "ab";
  b.steps[0].answer_text = "xyz";
  b.episodes.emplace_back();
  b.episodes[0].ranking = {0, 1};
  b.episodes[0].dataset = "d";
  EXPECT_EQ(TrajectoryPayloadBytes(b), 4u * 3 + 4 + 4 + 2 + 3 + 4 * 2 + 1);
}

TEST(TrajectorySchema, ColumnsAndSharedOffsets) {
  const auto cols = TrajectorySchema();
  ASSERT_EQ(cols.size(), 32u);  // 21 step fields, 11 episode fields
  int shared = 0;
  for (const auto& c : cols) {
    EXPECT_TRUE(c.group == "steps" || c.group == "episodes") << c.name;
    EXPECT_FALSE(c.doc.empty()) << c.name;
    if (!c.ends.empty() && !c.owns_ends) {
      ++shared;
      EXPECT_EQ(c.name, "logprobs");  // one log-probability per response token
      EXPECT_EQ(c.ends, "response_end");
    }
  }
  EXPECT_EQ(shared, 1);
}

// A change of the records must come with a new format version: update both together.
TEST(TrajectorySchema, FingerprintPinsTheFormatVersion) {
  EXPECT_EQ(kTrajectoryFormatVersion, 2u);
  EXPECT_EQ(TrajectorySchemaFingerprint(), "6d86b21ba6720892")
      << "the trajectory records changed: bump kTrajectoryFormatVersion (trajectory/record.h), "
         "then update this fingerprint and the version above";
}

TEST(TrajectorySchema, DocsTableIsCurrent) {
  EXPECT_EQ(Between(ReadSource("docs/TRAJLOG.md"), "<!-- schema:begin", "<!-- schema:end"),
            TrajectorySchemaMarkdown())
      << "docs/TRAJLOG.md: replace the table between the schema markers with the output of "
         "`iranker inspect --schema markdown`";
}

TEST(TrajectorySchema, PythonToolIsCurrent) {
  EXPECT_EQ(Between(ReadSource("tools/trajlog_to_numpy.py"), "# schema:begin", "# schema:end"),
            TrajectorySchemaPython())
      << "tools/trajlog_to_numpy.py: replace the block between the schema markers with the output "
         "of `iranker inspect --schema python`";
}

}  // namespace
}  // namespace iranker
