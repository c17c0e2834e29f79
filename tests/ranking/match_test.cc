#include "ranking/match.h"

#include <gtest/gtest.h>

namespace iranker {
namespace {

const std::vector<std::string> kMovies = {"The Matrix (1999)", "Heat (1995)", "Toy Story (1995)",
                                          "The Matrix Reloaded (2003)"};
MatchOptions Opts() { return MatchOptions{}; }

TEST(MatchAnswer, ExactIgnoresCaseSpaceQuotesAndFinalPeriod) {
  auto m = MatchAnswer("  \"heat   (1995)\". ", kMovies, {}, Opts());
  EXPECT_EQ(m.index, 1);
  EXPECT_EQ(m.kind, MatchKind::kExact);
}

// configs/paper: the reference code's training reward accepts only the exact text.
TEST(MatchAnswer, ExactOptionIsTheReferenceRule) {
  MatchOptions exact;
  exact.exact = true;
  auto m = MatchAnswer("\n Heat (1995)\nbecause it is old", kMovies, {}, exact);
  EXPECT_EQ(m.index, 1);
  EXPECT_EQ(m.kind, MatchKind::kExact);
  for (const char* a : {"heat (1995)", "\"Heat (1995)\"", "Heat (1995).", "2", "Heat",
                        "Heat  (1995)", "reason\nHeat (1995)", "Heat (1995) \nbecause"})
    EXPECT_EQ(MatchAnswer(a, kMovies, {}, exact).index, -1) << a;
  EXPECT_EQ(MatchAnswer("Heat (1995)", kMovies, {true, false, true, true}, exact).index, -1);
  // Evaluation still falls back to the closest candidate.
  EXPECT_EQ(MatchWithFallback("heat (1995)", kMovies, {}, exact).index, 1);
}

TEST(MatchAnswer, Labels) {
  for (const char* a : {"3", "[3]", "passage 3", "candidate 3", "Candidate [3]", "(3)"}) {
    auto m = MatchAnswer(a, kMovies, {}, Opts());
    EXPECT_EQ(m.index, 2) << a;
    EXPECT_EQ(m.kind, MatchKind::kLabel) << a;
  }
  EXPECT_EQ(MatchAnswer("9", kMovies, {}, Opts()).index, -1);  // out of range
  MatchOptions no_labels;
  no_labels.labels = false;
  EXPECT_EQ(MatchAnswer("3", kMovies, {}, no_labels).index, -1);
}

TEST(MatchAnswer, NumberingPrefixIsStrippedAndTextWins) {
  // "1. " is the model's own enumeration, not label 1.
  auto m = MatchAnswer("1. Toy Story (1995)", kMovies, {}, Opts());
  EXPECT_EQ(m.index, 2);
  EXPECT_EQ(m.kind, MatchKind::kExact);
  EXPECT_EQ(MatchAnswer("2. [4]", kMovies, {}, Opts()).index, 3);
}

TEST(MatchAnswer, ContainmentBothWays) {
  auto a = MatchAnswer("I would drop Heat (1995) because it is old", kMovies, {}, Opts());
  EXPECT_EQ(a.index, 1);
  EXPECT_EQ(a.kind, MatchKind::kContainment);
  auto b = MatchAnswer("Toy Story", kMovies, {}, Opts());
  EXPECT_EQ(b.index, 2);
  EXPECT_EQ(b.kind, MatchKind::kContainment);
}

TEST(MatchAnswer, ContainmentPrefersTheLongerNestedTitle) {
  auto m = MatchAnswer("drop The Matrix Reloaded (2003) please", kMovies, {}, Opts());
  EXPECT_EQ(m.index, 3);
}

TEST(MatchAnswer, ContainmentOfTwoUnrelatedCandidatesIsAmbiguous) {
  auto m = MatchAnswer("Heat (1995) or Toy Story (1995)", kMovies, {}, Opts());
  EXPECT_EQ(m.index, -1);
  // "The Matrix" is inside two candidates: ambiguous, and too short for fuzzy.
  EXPECT_EQ(MatchAnswer("The Matrix", kMovies, {}, Opts()).index, -1);
}

TEST(MatchAnswer, FuzzyAtNinetyPercentOfCandidate) {
  // "Toy Stroy (1995)" vs "toy story (1995)": LCS 15 of 16 = 0.9375.
  auto m = MatchAnswer("Toy Stroy (1995)", kMovies, {}, Opts());
  EXPECT_EQ(m.index, 2);
  EXPECT_EQ(m.kind, MatchKind::kFuzzy);
  // "Tuy Strui (1995)": LCS 13/16 = 0.81 < 0.9.
  EXPECT_EQ(MatchAnswer("Tuy Strui (1995)", kMovies, {}, Opts()).index, -1);
}

TEST(MatchAnswer, FuzzyLengthGuardStopsLongEssays) {
  const std::string essay =
      "Heavy emphasis aside, there is (I think) 1 9 9 5 reasons the attachment matters here";
  EXPECT_EQ(MatchAnswer(essay, {"Heat (1995)", "Zzz"}, {}, Opts()).index, -1);
  MatchOptions unguarded;
  unguarded.fuzzy_max_length_ratio = 0;
  EXPECT_EQ(MatchAnswer(essay, {"Heat (1995)", "Zzz"}, {}, unguarded).index, 0);
}

TEST(MatchAnswer, UnavailableCandidatesNeverMatch) {
  std::vector<bool> avail = {true, false, true, true};
  EXPECT_EQ(MatchAnswer("Heat (1995)", kMovies, avail, Opts()).index, -1);
  EXPECT_EQ(MatchAnswer("2", kMovies, avail, Opts()).index, -1);
}

TEST(MatchAnswer, MultiLineAnswerUsesFirstLine) {
  EXPECT_EQ(MatchAnswer("2\nbecause it is a heist film", kMovies, {}, Opts()).index, 1);
}

TEST(MatchAnswer, EmptyAnswerMatchesNothing) {
  EXPECT_EQ(MatchAnswer("   ", kMovies, {}, Opts()).index, -1);
}

TEST(MatchWithFallback, AlwaysRemovesOne) {
  auto f = MatchWithFallback("Toy Strry", kMovies, {}, Opts());
  EXPECT_EQ(f.index, 2);
  EXPECT_EQ(f.kind, MatchKind::kFallbackFuzzy);
  auto t = MatchWithFallback("heist movie heat", kMovies, {}, Opts());
  EXPECT_EQ(t.index, 1);
  EXPECT_EQ(t.kind, MatchKind::kFallbackTfidf);
  auto e = MatchWithFallback("", kMovies, {false, true, true, true}, Opts());
  EXPECT_EQ(e.index, 1);  // first available
  EXPECT_EQ(e.kind, MatchKind::kFallbackTfidf);
  EXPECT_EQ(MatchWithFallback("[2]", kMovies, {}, Opts()).kind, MatchKind::kLabel);
}

TEST(MatchRankingLines, OneCandidatePerLineEachOnce) {
  auto r = MatchRankingLines("1. Heat (1995)\n2. [1]\n\n3. Heat (1995)\n4. nonsense\nToy Story",
                             kMovies, Opts());
  EXPECT_EQ(r.order, (std::vector<int>{1, 0, 2}));
  EXPECT_EQ(r.unmatched_lines, 2);  // the repeated Heat and the nonsense line
  ASSERT_EQ(r.kinds.size(), 3u);
  EXPECT_EQ(r.kinds[1], MatchKind::kLabel);
  EXPECT_EQ(r.kinds[2], MatchKind::kContainment);
}

TEST(MatchRankingLines, DoesNotMatchCharactersOfOneLine) {
  // The reference parsed characters of the first line; here the line is one (failed) candidate.
  auto r = MatchRankingLines("4321", {"1", "2", "3", "4"}, Opts());
  EXPECT_TRUE(r.order.empty());
  EXPECT_EQ(r.unmatched_lines, 1);
}

}  // namespace
}  // namespace iranker
