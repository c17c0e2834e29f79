#include "ranking/match.h"

#include <cctype>

#include "ranking/answer.h"
#include "ranking/text.h"
#include "ranking/tfidf.h"

namespace iranker {
namespace {

bool Avail(const std::vector<bool>& available, size_t i) {
  return available.empty() || available[i];
}

int ExactIndex(const std::string& norm, const std::vector<std::string>& ntexts,
               const std::vector<bool>& available) {
  for (size_t i = 0; i < ntexts.size(); ++i)
    if (Avail(available, i) && ntexts[i] == norm) return static_cast<int>(i);
  return -1;
}

int LabelIndex(std::string_view line, size_t n, const std::vector<bool>& available,
               const MatchOptions& o) {
  if (!o.labels) return -1;
  const int label = ParseLabel(line);
  if (label < 1 || static_cast<size_t>(label) > n || !Avail(available, label - 1)) return -1;
  return label - 1;
}

bool IsWordByte(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return std::isalnum(u) || u >= 0x80;
}

// True when `needle` occurs in `hay` aligned to word boundaries ("heat" in "heat (1995)", but not
// "3" in "2003" nor "heat" in "theater").
bool ContainsWords(const std::string& hay, const std::string& needle) {
  if (needle.empty()) return false;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) {
    const bool left = p == 0 || !IsWordByte(hay[p - 1]) || !IsWordByte(needle.front());
    const size_t e = p + needle.size();
    const bool right = e == hay.size() || !IsWordByte(hay[e]) || !IsWordByte(needle.back());
    if (left && right) return true;
  }
  return false;
}

constexpr int kAmbiguous = -2;

// Index, -1 (none) or kAmbiguous (the answer names several unrelated candidates).
int ContainmentIndex(const std::string& norm, const std::vector<std::string>& ntexts,
                     const std::vector<bool>& available) {
  if (norm.empty()) return -1;
  int best = -1;
  for (size_t i = 0; i < ntexts.size(); ++i) {
    if (!Avail(available, i) || !ContainsWords(norm, ntexts[i])) continue;
    if (best < 0 || ntexts[i].size() > ntexts[best].size()) best = static_cast<int>(i);
  }
  if (best >= 0) {
    // Naming two unrelated candidates is ambiguous, not a match of the longer one.
    for (size_t i = 0; i < ntexts.size(); ++i)
      if (static_cast<int>(i) != best && Avail(available, i) && ContainsWords(norm, ntexts[i]) &&
          !ContainsWords(ntexts[best], ntexts[i]))
        return kAmbiguous;
    return best;
  }
  int found = -1;
  for (size_t i = 0; i < ntexts.size(); ++i) {
    if (!Avail(available, i) || !ContainsWords(ntexts[i], norm)) continue;
    if (found >= 0) return kAmbiguous;  // part of several candidates
    found = static_cast<int>(i);
  }
  return found;
}

// Best LCS ratio among available candidates; `guard` applies the threshold and length guard.
int FuzzyIndex(const std::string& norm, const std::vector<std::string>& ntexts,
               const std::vector<bool>& available, double threshold, double max_ratio) {
  int best = -1;
  double best_ratio = -1;
  for (size_t i = 0; i < ntexts.size(); ++i) {
    if (!Avail(available, i) || ntexts[i].empty()) continue;
    if (max_ratio > 0 && norm.size() > max_ratio * ntexts[i].size()) continue;
    // LCS <= |answer|: skip the quadratic LCS when the ratio cannot reach the threshold.
    if (norm.size() < threshold * ntexts[i].size()) continue;
    const double ratio =
        static_cast<double>(LongestCommonSubsequence(norm, ntexts[i])) / ntexts[i].size();
    if (ratio >= threshold && ratio > best_ratio) {
      best_ratio = ratio;
      best = static_cast<int>(i);
    }
  }
  return best;
}

std::vector<std::string> NormalizeAll(const std::vector<std::string>& texts) {
  std::vector<std::string> out;
  out.reserve(texts.size());
  for (const auto& t : texts) out.push_back(NormalizeForMatch(t));
  return out;
}

Match MatchNormalized(std::string_view answer, const std::vector<std::string>& ntexts,
                      const std::vector<bool>& available, const MatchOptions& o) {
  const std::string raw = Trim(answer);
  if (raw.empty()) return {};
  const std::string norm = NormalizeForMatch(raw);
  if (int i = ExactIndex(norm, ntexts, available); i >= 0) return {i, MatchKind::kExact};
  if (int i = LabelIndex(raw, ntexts.size(), available, o); i >= 0) return {i, MatchKind::kLabel};
  const std::string stripped = StripNumbering(raw);
  const std::string snorm = NormalizeForMatch(stripped);
  if (stripped != raw) {
    if (int i = ExactIndex(snorm, ntexts, available); i >= 0) return {i, MatchKind::kExact};
    if (int i = LabelIndex(stripped, ntexts.size(), available, o); i >= 0)
      return {i, MatchKind::kLabel};
  }
  const int c = ContainmentIndex(snorm, ntexts, available);
  if (c >= 0) return {c, MatchKind::kContainment};
  if (c == kAmbiguous) return {};
  if (int i = FuzzyIndex(snorm, ntexts, available, o.fuzzy_threshold, o.fuzzy_max_length_ratio);
      i >= 0)
    return {i, MatchKind::kFuzzy};
  return {};
}

}  // namespace

const char* MatchKindName(MatchKind k) {
  switch (k) {
    case MatchKind::kNone:
      return "none";
    case MatchKind::kExact:
      return "exact";
    case MatchKind::kLabel:
      return "label";
    case MatchKind::kContainment:
      return "containment";
    case MatchKind::kFuzzy:
      return "fuzzy";
    case MatchKind::kFallbackFuzzy:
      return "fallback_fuzzy";
    case MatchKind::kFallbackTfidf:
      return "fallback_tfidf";
  }
  return "?";
}

Match MatchAnswer(std::string_view answer, const std::vector<std::string>& texts,
                  const std::vector<bool>& available, const MatchOptions& options) {
  if (options.exact) {
    // The reference: extract the answer block stripped of whitespace, take its first line.
    const std::string trimmed = Trim(std::string(answer));
    const std::string first = trimmed.substr(0, trimmed.find('\n'));
    for (size_t i = 0; i < texts.size(); ++i)
      if (Avail(available, i) && texts[i] == first) return {static_cast<int>(i), MatchKind::kExact};
    return {};
  }
  const auto ntexts = NormalizeAll(texts);
  Match m = MatchNormalized(answer, ntexts, available, options);
  if (m.index >= 0) return m;
  // A multi-line answer ("3\nbecause ...") is judged by its first non-blank line.
  for (const auto& line : SplitLines(answer)) {
    if (Trim(line).empty()) continue;
    if (Trim(line) != Trim(answer)) return MatchNormalized(line, ntexts, available, options);
    break;
  }
  return {};
}

Match MatchWithFallback(std::string_view answer, const std::vector<std::string>& texts,
                        const std::vector<bool>& available, const MatchOptions& options) {
  Match m = MatchAnswer(answer, texts, available, options);
  if (m.index >= 0) return m;
  const auto ntexts = NormalizeAll(texts);
  const std::string norm = NormalizeForMatch(StripNumbering(answer));
  if (!norm.empty()) {
    int i = FuzzyIndex(norm, ntexts, available, options.fallback_fuzzy_threshold, 0.0);
    if (i >= 0) return {i, MatchKind::kFallbackFuzzy};
  }
  const std::vector<double> sims = TfIdfIndex(texts).Similarities(std::string(answer));
  int best = -1;
  for (size_t i = 0; i < texts.size(); ++i)
    if (Avail(available, i) && (best < 0 || sims[i] > sims[best])) best = static_cast<int>(i);
  if (best < 0) return {};
  return {best, MatchKind::kFallbackTfidf};
}

RankingMatch MatchRankingLines(std::string_view answer, const std::vector<std::string>& texts,
                               const MatchOptions& options) {
  RankingMatch out;
  const auto ntexts = NormalizeAll(texts);
  std::vector<bool> available(texts.size(), true);
  for (const auto& line : SplitLines(answer)) {
    if (Trim(line).empty()) continue;
    Match m = MatchNormalized(line, ntexts, available, options);
    if (m.index < 0) {
      ++out.unmatched_lines;
      continue;
    }
    available[m.index] = false;
    out.order.push_back(m.index);
    out.kinds.push_back(m.kind);
  }
  return out;
}

}  // namespace iranker
