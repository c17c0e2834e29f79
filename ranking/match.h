// ranking/match.h — which candidate an answer names.
//
// Candidates are given as the texts shown to the policy, in display order: label k ("k", "[k]",
// "passage k", ...) names texts[k-1]. An answer line is matched, in this order, by
//   1. exact text (after NormalizeForMatch: case, whitespace, quotes, a final period),
//   2. label (ParseLabel on the line as written),
//   then, after stripping an "N. " enumeration prefix, exact text and label again, and
//   3. containment either way, on word boundaries ("3" is not in "2003"): candidates contained
//      in the answer (the longest wins, and only when every other contained candidate is part of
//      it), else the answer contained in exactly one candidate; an answer that names several
//      unrelated candidates, or is part of several, matches nothing (no fuzzy rescue),
//   4. fuzzy: LCS(answer, candidate) >= fuzzy_threshold × |candidate| and |answer| <=
//      fuzzy_max_length_ratio × |candidate| (the guard stops a long essay from matching a short
//      title by subsequence alone); the highest LCS ratio wins, ties to the first.
// With MatchOptions::exact, MatchAnswer (an IRanker step's answer) applies rule 1 only, without
// normalisation, to the first line; DRanker lines (MatchRankingLines) are matched as above, as the
// reference's DRanker reward matches them by containment and LCS.
// Only candidates marked available (not yet matched / still in the pool) can match, so each
// candidate is matched at most once.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/fields.h"

namespace iranker {

struct MatchOptions {
  // Fuzzy match: LCS must cover at least this fraction of the candidate's characters.
  double fuzzy_threshold = 0.9;
  // Fuzzy match only when the answer is at most this many times as long as the candidate
  // (0 = no guard; the reference implementation has none).
  double fuzzy_max_length_ratio = 2.0;
  // Accept labels ("3", "[3]", "passage 3") as well as texts.
  bool labels = true;
  // Evaluation fallback: best LCS ratio at least this, regardless of length, before TF-IDF.
  double fallback_fuzzy_threshold = 0.5;
  // The IRanker reference code's rule: an answer counts only when its first line, with the
  // whitespace around it removed, is byte for byte one candidate's text (no labels, case folding,
  // containment or fuzzy match). The evaluation fallback still applies after it.
  bool exact = false;

  template <class V>
  void Visit(V& v) {
    v.Field("fuzzy_threshold", fuzzy_threshold,
            "Fuzzy match: LCS covers at least this fraction of the candidate text.", Range(0, 1));
    v.Field("fuzzy_max_length_ratio", fuzzy_max_length_ratio,
            "Fuzzy match only if |answer| <= this × |candidate|; 0 = no guard.", AtLeast(0));
    v.Field("labels", labels,
            "Accept candidate labels (\"3\", \"[3]\", \"passage 3\") as answers.");
    v.Field("fallback_fuzzy_threshold", fallback_fuzzy_threshold,
            "Evaluation fallback: least LCS ratio for a fuzzy match before TF-IDF.", Range(0, 1));
    v.Field("exact", exact,
            "Match only an answer whose first line is exactly a candidate's text (the reference "
            "code's rule: no labels, case folding or fuzzy match).");
  }
};

enum class MatchKind {
  kNone,
  kExact,
  kLabel,
  kContainment,
  kFuzzy,
  kFallbackFuzzy,  // evaluation only
  kFallbackTfidf,  // evaluation only
};
const char* MatchKindName(MatchKind k);

struct Match {
  int index = -1;  // into the display order, -1 = none
  MatchKind kind = MatchKind::kNone;
};

// Matches one answer line. `available` (same size as texts) says which candidates may match;
// an empty vector means all.
Match MatchAnswer(std::string_view answer, const std::vector<std::string>& texts,
                  const std::vector<bool>& available, const MatchOptions& options);

// Evaluation: MatchAnswer, then the best LCS ratio if >= fallback_fuzzy_threshold, then the
// available candidate with the highest TF-IDF cosine to the answer (ties and an empty answer go
// to the first available in display order). Always returns a match when any candidate is
// available.
Match MatchWithFallback(std::string_view answer, const std::vector<std::string>& texts,
                        const std::vector<bool>& available, const MatchOptions& options);

// DRanker: one candidate per non-blank line of the answer, in order; a line that matches no
// still-unmatched candidate is skipped and counted.
struct RankingMatch {
  std::vector<int> order;        // matched display indices, best first, each at most once
  std::vector<MatchKind> kinds;  // per matched line
  int unmatched_lines = 0;
};
RankingMatch MatchRankingLines(std::string_view answer, const std::vector<std::string>& texts,
                               const MatchOptions& options);

}  // namespace iranker
