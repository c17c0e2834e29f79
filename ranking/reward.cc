#include "ranking/reward.h"

#include "base/error.h"
#include "ranking/answer.h"
#include "ranking/metrics.h"

namespace iranker {
namespace {
void AddFormatTerms(const ParsedResponse& p, const RewardOptions& o, RewardBreakdown* r) {
  r->format = p.layout_ok ? o.format_ok : o.format_bad;
  r->tags = o.tag_penalty * p.TagsNotExactlyOnce();
}
}  // namespace

const char* StepOutcomeName(StepOutcome o) {
  switch (o) {
    case StepOutcome::kNoAnswer:
      return "no_answer";
    case StepOutcome::kInvalid:
      return "invalid";
    case StepOutcome::kExcludedGroundTruth:
      return "excluded_ground_truth";
    case StepOutcome::kExcludedOther:
      return "excluded_other";
  }
  return "?";
}

RewardBreakdown IRankerStepReward(std::string_view assistant_text,
                                  const std::vector<std::string>& pool_texts,
                                  const std::vector<bool>& pool_ground_truth,
                                  const RewardOptions& o) {
  IR_CHECK_EQ(pool_texts.size(), pool_ground_truth.size());
  const ParsedResponse p = ParseResponse(assistant_text);
  RewardBreakdown r;
  AddFormatTerms(p, o, &r);
  if (!p.has_answer) {
    r.outcome = StepOutcome::kNoAnswer;
    r.correctness = o.no_answer;
  } else {
    r.match = MatchAnswer(p.answer, pool_texts, {}, o.match);
    if (r.match.index < 0) {
      r.outcome = StepOutcome::kInvalid;
      r.correctness = o.invalid_answer;
    } else if (pool_ground_truth[r.match.index]) {
      r.outcome = StepOutcome::kExcludedGroundTruth;
      r.correctness = o.excluded_ground_truth;
    } else {
      r.outcome = StepOutcome::kExcludedOther;
      r.correctness = o.excluded_other;
    }
  }
  r.total = r.correctness + r.format + r.tags;
  return r;
}

RewardBreakdown DRankerReward(std::string_view assistant_text,
                              const std::vector<std::string>& texts,
                              const std::vector<double>& relevance, const RewardOptions& o) {
  IR_CHECK_EQ(texts.size(), relevance.size());
  IR_CHECK(!texts.empty());
  const ParsedResponse p = ParseResponse(assistant_text);
  RewardBreakdown r;
  AddFormatTerms(p, o, &r);
  if (p.has_answer) {
    RankingMatch m = MatchRankingLines(p.answer, texts, o.match);
    r.ranking = std::move(m.order);
    r.unmatched_lines = m.unmatched_lines;
  }
  std::vector<double> ranked;
  for (int i : r.ranking) ranked.push_back(relevance[i]);
  r.ndcg = NdcgAt(ranked, relevance, o.ndcg_k);
  r.coverage = static_cast<double>(r.ranking.size()) / static_cast<double>(texts.size());
  r.correctness = o.ndcg_weight * r.ndcg + o.coverage_weight * (r.coverage - 1.0);
  r.total = r.correctness + r.format + r.tags;
  return r;
}

}  // namespace iranker
