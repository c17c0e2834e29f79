#include "ranking/prompt.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "base/atomic_file.h"
#include "base/error.h"
#include "ranking/jsonl.h"
#include "tests/ranking/test_util.h"

namespace iranker {
namespace {

PromptOptions SourceOptions() {
  PromptOptions o;
  o.dir = std::string(IRANKER_SOURCE_DIR) + "/configs/prompts";
  return o;
}

// Golden files: tests/ranking/testdata/golden/<record id>_<mode>.txt. After an intended template
// change, regenerate them with IRANKER_UPDATE_GOLDEN=1 and review the diff.
TEST(Prompt, GoldenFilesForEveryScenarioAndMode) {
  PromptSet prompts(SourceOptions());
  const bool update = std::getenv("IRANKER_UPDATE_GOLDEN") != nullptr;
  auto records = ReadJsonl(TestData("prompt_records.jsonl"), BadLinePolicy::kStop);
  ASSERT_EQ(records.size(), 3u);
  for (const auto& r : records)
    for (RankMode mode : {RankMode::kIRanker, RankMode::kDRanker}) {
      const std::string got = prompts.Render(r, mode);
      const std::string path = TestData("golden/" + r.id + "_" + RankModeName(mode) + ".txt");
      if (update) WriteFileAtomic(path, got);
      EXPECT_EQ(got, ReadFile(path)) << path;
    }
}

// Router-Performance/-Balance/-Cost records differ only in their labels; the prompt must say which
// trade-off applies, and recommendation prompts name what the items are.
TEST(Prompt, RoutingPreferenceAndItemNoun) {
  PromptSet prompts(SourceOptions());
  auto r = MakeRecord(3, 0);
  r.scenario = "routing";
  const std::string plain = prompts.Render(r, RankMode::kIRanker);
  EXPECT_EQ(plain.find("Preference:"), std::string::npos);  // no preference: no line
  std::set<std::string> seen;
  for (const char* p : {"performance", "balance", "cost"}) {
    r.extra["preference"] = p;
    for (RankMode mode : {RankMode::kIRanker, RankMode::kDRanker}) {
      const std::string text = prompts.Render(r, mode);
      EXPECT_NE(text.find("Preference: " + PreferenceText(r)), std::string::npos) << text;
      seen.insert(text);
    }
  }
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_NE(PreferenceText(r).find("cost first"), std::string::npos);
  r.extra["preference"] = "latency under 2 s";
  EXPECT_NE(prompts.Render(r, RankMode::kIRanker).find("Preference: latency under 2 s"),
            std::string::npos);

  auto rec = MakeRecord(3, 0);
  rec.scenario = "recommendation";
  EXPECT_NE(prompts.Render(rec, RankMode::kIRanker).find("3 candidate items:"), std::string::npos);
  rec.extra["item_noun"] = "movies";
  for (RankMode mode : {RankMode::kIRanker, RankMode::kDRanker}) {
    const std::string text = prompts.Render(rec, mode);
    EXPECT_NE(text.find("3 candidate movies:"), std::string::npos) << text;
    EXPECT_NE(text.find("interacted with these movies"), std::string::npos) << text;
  }
}

// configs/prompts/paper (configs/paper, reward.match.exact): every template asks for the
// candidate's exact text, never for its number.
TEST(Prompt, PaperTemplatesAskForExactTexts) {
  PromptOptions o = SourceOptions();
  o.dir += "/paper";
  PromptSet prompts(o);
  for (const auto& scenario : Scenarios())
    for (RankMode mode : {RankMode::kIRanker, RankMode::kDRanker}) {
      auto r = MakeRecord(3, 0);
      r.scenario = scenario;
      const std::string text = prompts.Render(r, mode);
      EXPECT_NE(text.find("its exact text as listed, without its number"), std::string::npos)
          << scenario << " " << RankModeName(mode);
      EXPECT_EQ(text.find("its number or"), std::string::npos) << scenario;
      EXPECT_EQ(text.find("<answer>3</answer>"), std::string::npos) << scenario;
    }
}

TEST(Prompt, ChatMlLayoutAndPrefill) {
  PromptSet prompts(SourceOptions());
  auto r = MakeRecord(3, 0);
  const std::string p = prompts.Render(r, RankMode::kIRanker);
  EXPECT_EQ(p.rfind("<|im_start|>system\n", 0), 0u);
  const std::string tail =
      "<|im_end|>\n<|im_start|>assistant\nLet me solve this step by step.\n<think>";
  ASSERT_GE(p.size(), tail.size());
  EXPECT_EQ(p.substr(p.size() - tail.size()), tail);
  EXPECT_NE(p.find("<|im_end|>\n<|im_start|>user\n"), std::string::npos);
  EXPECT_NE(p.find("1. c0\n2. c1\n3. c2"), std::string::npos);
}

TEST(Prompt, ShownPoolIsRelabelledFromOne) {
  PromptSet prompts(SourceOptions());
  auto r = MakeRecord(4, 0);
  const std::string p = prompts.Render(r, {"c3", "c1"}, RankMode::kIRanker);
  EXPECT_NE(p.find("1. c3\n2. c1\n"), std::string::npos);
  EXPECT_NE(p.find("There are 2 passages"), std::string::npos);
}

TEST(Prompt, PlainFormatPrefillAndHistoryLimit) {
  PromptOptions o = SourceOptions();
  o.chat_format = ChatFormat::kPlain;
  o.assistant_prefill = "<think>";
  o.max_history = 1;
  PromptSet prompts(o);
  auto r = MakeRecord(2, 0);
  r.scenario = "recommendation";
  r.extra["history"] = {"old", "new"};
  const std::string p = prompts.Render(r, RankMode::kDRanker);
  EXPECT_EQ(p.find("<|im_start|>"), std::string::npos);
  EXPECT_EQ(p.substr(p.size() - 9), "\n\n<think>");
  EXPECT_NE(p.find("- new"), std::string::npos);
  EXPECT_EQ(p.find("- old"), std::string::npos);
}

TEST(Prompt, FormatCandidatesCutsAtWordsAndFlattensNewlines) {
  EXPECT_EQ(FormatCandidates({"alpha beta gamma", "x\ny"}, 12), "1. alpha beta ...\n2. x y");
  EXPECT_EQ(FormatCandidates({"short"}, 0), "1. short");
}

TEST(Prompt, TemplateErrorsNameFileAndLine) {
  try {
    ParsePromptTemplate("[system]\nhi\n[user]\n{{query}} {{nope}}\n", "t.txt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t.txt:4: unknown placeholder {{nope}}"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(ParsePromptTemplate("[system]\nhi\n", "t.txt"), Error);
  EXPECT_THROW(ParsePromptTemplate("stray\n[system]\nx\n[user]\ny\n", "t.txt"), Error);
  auto t = ParsePromptTemplate("# comment\n[system]\nS\n[user]\nU1\n\nU2\n", "t.txt");
  EXPECT_EQ(t.system, "S");
  EXPECT_EQ(t.user, "U1\n\nU2");
  PromptOptions missing;
  missing.dir = "/nonexistent";
  EXPECT_THROW(PromptSet{missing}, Error);
}

}  // namespace
}  // namespace iranker
