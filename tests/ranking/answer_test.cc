#include "ranking/answer.h"

#include <gtest/gtest.h>

namespace iranker {
namespace {

TEST(ParseResponse, WellFormed) {
  auto p = ParseResponse(
      "Let me solve this step by step.\n<think>\nhmm\n</think>\n<answer>\n3\n</answer>");
  EXPECT_TRUE(p.layout_ok);
  EXPECT_TRUE(p.has_answer);
  EXPECT_EQ(p.answer, "3");
  EXPECT_EQ(p.TagsNotExactlyOnce(), 0);
}

TEST(ParseResponse, TrailingWhitespaceAllowedButNotText) {
  EXPECT_TRUE(ParseResponse("<think>a</think> <answer>b</answer>\n\n").layout_ok);
  auto p = ParseResponse("<think>a</think><answer>b</answer> and more");
  EXPECT_FALSE(p.layout_ok);
  EXPECT_TRUE(p.has_answer);  // the answer is still readable
  EXPECT_EQ(p.TagsNotExactlyOnce(), 0);
}

TEST(ParseResponse, TextBetweenThinkAndAnswerBreaksLayout) {
  EXPECT_FALSE(ParseResponse("<think>a</think> so <answer>b</answer>").layout_ok);
}

TEST(ParseResponse, WrongOrderBreaksLayout) {
  auto p = ParseResponse("<answer>b</answer><think>a</think>");
  EXPECT_FALSE(p.layout_ok);
  EXPECT_EQ(p.TagsNotExactlyOnce(), 0);
}

TEST(ParseResponse, CountsEachTag) {
  auto p = ParseResponse("<think>a</think><think>b</think><answer>x</answer>");
  EXPECT_EQ(p.think_open, 2);
  EXPECT_EQ(p.think_close, 2);
  EXPECT_EQ(p.TagsNotExactlyOnce(), 2);
  EXPECT_FALSE(p.layout_ok);
  auto q = ParseResponse("no tags at all");
  EXPECT_EQ(q.TagsNotExactlyOnce(), 4);
  EXPECT_FALSE(q.has_answer);
}

TEST(ParseResponse, MissingThinkOpenIsOnePenalty) {
  // A generation without the pre-filled prefix: the prompt's <think> is not the response's.
  auto p = ParseResponse("hmm\n</think>\n<answer>2</answer>");
  EXPECT_EQ(p.TagsNotExactlyOnce(), 1);
  EXPECT_FALSE(p.layout_ok);
  EXPECT_EQ(p.answer, "2");
}

TEST(ParseResponse, BlankOrUnclosedAnswerIsNoAnswer) {
  EXPECT_FALSE(ParseResponse("<think>a</think><answer>  \n </answer>").has_answer);
  EXPECT_FALSE(ParseResponse("<think>a</think><answer>3").has_answer);
}

TEST(ParseResponse, LastAnswerBlockWins) {
  auto p = ParseResponse("<answer>1</answer><answer>2</answer>");
  EXPECT_EQ(p.answer, "2");
  EXPECT_EQ(p.answer_open, 2);
}

TEST(StripNumbering, RemovesOnePrefix) {
  EXPECT_EQ(StripNumbering("3. The Matrix"), "The Matrix");
  EXPECT_EQ(StripNumbering("  12) Heat "), "Heat");
  EXPECT_EQ(StripNumbering("1. 2. x"), "2. x");
  EXPECT_EQ(StripNumbering("3.14 is pi"), "3.14 is pi");
  EXPECT_EQ(StripNumbering("3."), "3.");
  EXPECT_EQ(StripNumbering("1984"), "1984");
}

TEST(ParseLabel, Forms) {
  EXPECT_EQ(ParseLabel("3"), 3);
  EXPECT_EQ(ParseLabel("[3]"), 3);
  EXPECT_EQ(ParseLabel("(12)"), 12);
  EXPECT_EQ(ParseLabel("#4"), 4);
  EXPECT_EQ(ParseLabel("3."), 3);
  EXPECT_EQ(ParseLabel("passage 3"), 3);
  EXPECT_EQ(ParseLabel("Passage [3]"), 3);
  EXPECT_EQ(ParseLabel("candidate 7"), 7);
  EXPECT_EQ(ParseLabel("Model 2"), 2);
  EXPECT_EQ(ParseLabel("item 5:"), 5);
  EXPECT_EQ(ParseLabel("0"), 0);
  EXPECT_EQ(ParseLabel("passage"), 0);
  EXPECT_EQ(ParseLabel("3 musketeers"), 0);
  EXPECT_EQ(ParseLabel("the third"), 0);
}

}  // namespace
}  // namespace iranker
