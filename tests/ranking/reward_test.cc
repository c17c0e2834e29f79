#include "ranking/reward.h"

#include <gtest/gtest.h>

#include <cmath>

namespace iranker {
namespace {

const std::vector<std::string> kPool = {"Heat (1995)", "Toy Story (1995)", "Fargo (1996)"};
const std::vector<bool> kTruth = {false, true, false};  // Toy Story is the ground truth

std::string Wrap(const std::string& answer) {
  return "Let me solve this step by step.\n<think>\nreasoning\n</think>\n<answer>\n" + answer +
         "\n</answer>";
}

TEST(IRankerStepReward, ExcludedOtherIsPlusOne) {
  auto r = IRankerStepReward(Wrap("Heat (1995)"), kPool, kTruth, RewardOptions{});
  EXPECT_EQ(r.outcome, StepOutcome::kExcludedOther);
  EXPECT_DOUBLE_EQ(r.total, 1.0);
  EXPECT_DOUBLE_EQ(r.format, 0.0);
  EXPECT_DOUBLE_EQ(r.tags, 0.0);
  EXPECT_EQ(r.match.index, 0);
}

TEST(IRankerStepReward, ExcludedGroundTruthIsZero) {
  auto r = IRankerStepReward(Wrap("2"), kPool, kTruth, RewardOptions{});
  EXPECT_EQ(r.outcome, StepOutcome::kExcludedGroundTruth);
  EXPECT_DOUBLE_EQ(r.total, 0.0);
}

TEST(IRankerStepReward, NotACandidateIsMinusHalf) {
  auto r = IRankerStepReward(Wrap("Casablanca (1942)"), kPool, kTruth, RewardOptions{});
  EXPECT_EQ(r.outcome, StepOutcome::kInvalid);
  EXPECT_DOUBLE_EQ(r.total, -0.5);
  // A label outside the pool is not a candidate either.
  EXPECT_DOUBLE_EQ(IRankerStepReward(Wrap("passage 4"), kPool, kTruth, RewardOptions{}).total,
                   -0.5);
}

TEST(IRankerStepReward, NoAnswerIsMinusOnePlusFormatAndTags) {
  // No answer tags at all: layout fails (-1), two tags missing (-0.5), no answer (-1).
  auto r = IRankerStepReward("<think>\nthinking\n</think>\nHeat", kPool, kTruth, RewardOptions{});
  EXPECT_EQ(r.outcome, StepOutcome::kNoAnswer);
  EXPECT_DOUBLE_EQ(r.correctness, -1.0);
  EXPECT_DOUBLE_EQ(r.format, -1.0);
  EXPECT_DOUBLE_EQ(r.tags, -0.5);
  EXPECT_DOUBLE_EQ(r.total, -2.5);
  // Empty answer block: layout holds, still no answer.
  auto e = IRankerStepReward(Wrap(""), kPool, kTruth, RewardOptions{});
  EXPECT_EQ(e.outcome, StepOutcome::kNoAnswer);
  EXPECT_DOUBLE_EQ(e.total, -1.0);
}

TEST(IRankerStepReward, FormatAndTagTermsAddToCorrectAnswer) {
  // Duplicate think block: 2 tags not exactly once (-0.5), layout broken (-1), answer +1.
  auto r = IRankerStepReward("<think>a</think><think>b</think><answer>Fargo (1996)</answer>", kPool,
                             kTruth, RewardOptions{});
  EXPECT_DOUBLE_EQ(r.total, 1.0 - 1.0 - 0.5);
  // Text after </answer>: layout broken, tags fine.
  auto t = IRankerStepReward(Wrap("Fargo (1996)") + " trailing", kPool, kTruth, RewardOptions{});
  EXPECT_DOUBLE_EQ(t.total, 0.0);
}

TEST(IRankerStepReward, ReadsResponseOnlySoPromptTagsDoNotCount) {
  // Without the pre-filled "<think>", one tag is missing: a real -0.25 and a layout failure,
  // not the constant shift the reference got from scoring the prompt's example tags.
  auto r = IRankerStepReward("reasoning\n</think>\n<answer>\n1\n</answer>", kPool, kTruth,
                             RewardOptions{});
  EXPECT_DOUBLE_EQ(r.tags, -0.25);
  EXPECT_DOUBLE_EQ(r.format, -1.0);
  EXPECT_DOUBLE_EQ(r.total, 1.0 - 1.0 - 0.25);
}

TEST(IRankerStepReward, EveryTermIsConfigurable) {
  RewardOptions o;
  o.excluded_other = 2;
  o.excluded_ground_truth = -3;
  o.invalid_answer = -4;
  o.no_answer = -5;
  o.format_ok = 0.5;
  o.format_bad = -0.1;
  o.tag_penalty = -1;
  EXPECT_DOUBLE_EQ(IRankerStepReward(Wrap("1"), kPool, kTruth, o).total, 2.5);
  EXPECT_DOUBLE_EQ(IRankerStepReward(Wrap("2"), kPool, kTruth, o).total, -2.5);
  EXPECT_DOUBLE_EQ(IRankerStepReward(Wrap("zzz"), kPool, kTruth, o).total, -3.5);
  EXPECT_DOUBLE_EQ(IRankerStepReward("nothing", kPool, kTruth, o).total, -5 - 0.1 - 4);
}

TEST(IRankerStepReward, PassageLabelsAreAnswers) {
  // The reference asked for "passage k" but compared texts; here labels count.
  auto r = IRankerStepReward(Wrap("Passage [3]"), kPool, kTruth, RewardOptions{});
  EXPECT_EQ(r.outcome, StepOutcome::kExcludedOther);
  EXPECT_EQ(r.match.index, 2);
}

const std::vector<std::string> kAll = {"A", "B", "C", "D"};
const std::vector<double> kRel = {0, 0, 1, 0};  // C is the positive

TEST(DRankerReward, PerfectRankingFullCoverage) {
  auto r = DRankerReward(Wrap("C\nA\nB\nD"), kAll, kRel, RewardOptions{});
  EXPECT_DOUBLE_EQ(r.ndcg, 1.0);
  EXPECT_DOUBLE_EQ(r.coverage, 1.0);
  EXPECT_DOUBLE_EQ(r.total, 1.0);
  EXPECT_EQ(r.ranking, (std::vector<int>{2, 0, 1, 3}));
}

TEST(DRankerReward, PositiveSecondAndPartialCoverage) {
  // Labels and numbering work; C at rank 2 -> 1/log2(3); 2 of 4 covered -> -0.5.
  auto r = DRankerReward(Wrap("1. [1]\n2. [3]"), kAll, kRel, RewardOptions{});
  EXPECT_NEAR(r.ndcg, 1.0 / std::log2(3.0), 1e-12);
  EXPECT_DOUBLE_EQ(r.coverage, 0.5);
  EXPECT_NEAR(r.total, 1.0 / std::log2(3.0) - 0.5, 1e-12);
}

TEST(DRankerReward, DuplicatesAndJunkLinesDoNotCount) {
  auto r = DRankerReward(Wrap("A\nA\nzzz\nB"), kAll, kRel, RewardOptions{});
  EXPECT_EQ(r.ranking, (std::vector<int>{0, 1}));
  EXPECT_EQ(r.unmatched_lines, 2);
  EXPECT_DOUBLE_EQ(r.ndcg, 0.0);
  EXPECT_DOUBLE_EQ(r.total, -0.5);
}

TEST(DRankerReward, NoAnswer) {
  auto r = DRankerReward("I cannot decide", kAll, kRel, RewardOptions{});
  EXPECT_DOUBLE_EQ(r.total, 0.0 + (0.0 - 1.0) - 1.0 - 1.0);  // ndcg, coverage, format, 4 tags
}

TEST(DRankerReward, GradedRelevanceAndCutoff) {
  std::vector<double> rel = {3, 0, 1, 2};
  auto r = DRankerReward(Wrap("A\nD\nC\nB"), kAll, rel, RewardOptions{});
  EXPECT_DOUBLE_EQ(r.ndcg, 1.0);
  RewardOptions k1;
  k1.ndcg_k = 1;
  auto s = DRankerReward(Wrap("D\nA\nC\nB"), kAll, rel, k1);
  EXPECT_DOUBLE_EQ(s.ndcg, 2.0 / 3.0);
}

}  // namespace
}  // namespace iranker
