// ranking/reward.h — the rewards of IRanker (one elimination step) and DRanker (one full
// ranking), as issue 4 defines them. Both read the assistant turn only (pre-filled prefix +
// generated text, see ranking/answer.h), never the prompt.
//
// IRanker step:  correctness + format + tags, where
//   correctness = excluded_other (+1)         the answer names a remaining non-ground-truth item
//               | excluded_ground_truth (0)    it names a ground-truth item
//               | invalid_answer (-0.5)        it names no remaining candidate
//               | no_answer (-1)               there is no non-blank <answer>...</answer>
//   format = format_ok (0) if the layout holds, else format_bad (-1)
//   tags   = tag_penalty (-0.25) × number of the four tags not present exactly once
// DRanker:       ndcg_weight × nDCG@ndcg_k of the matched list (one candidate per answer line)
//              + coverage_weight × (matched distinct candidates / N - 1) + format + tags;
//   with no answer the list is empty: 0 + (0 - 1) + format + tags.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/fields.h"
#include "ranking/match.h"

namespace iranker {

struct RewardOptions {
  // IRanker: the answer excluded a candidate that is not ground truth.
  double excluded_other = 1.0;
  // IRanker: the answer excluded the ground truth.
  double excluded_ground_truth = 0.0;
  // IRanker: the answer names no remaining candidate.
  double invalid_answer = -0.5;
  // IRanker: no parsable answer (no non-blank <answer>...</answer>).
  double no_answer = -1.0;
  // Added when the think/answer layout holds.
  double format_ok = 0.0;
  // Added when it does not.
  double format_bad = -1.0;
  // Added once per tag (<think>, </think>, <answer>, </answer>) not present exactly once.
  double tag_penalty = -0.25;
  // DRanker: weight of nDCG@ndcg_k.
  double ndcg_weight = 1.0;
  // DRanker: cut-off of the nDCG term.
  int ndcg_k = 20;
  // DRanker: weight of (coverage - 1).
  double coverage_weight = 1.0;
  // How answers are matched to candidates.
  MatchOptions match;

  template <class V>
  void Visit(V& v) {
    v.Field("excluded_other", excluded_other,
            "IRanker: answer excluded a non-ground-truth candidate.");
    v.Field("excluded_ground_truth", excluded_ground_truth,
            "IRanker: answer excluded the ground truth.");
    v.Field("invalid_answer", invalid_answer, "IRanker: answer names no remaining candidate.");
    v.Field("no_answer", no_answer, "IRanker: no parsable <answer> block.");
    v.Field("format_ok", format_ok, "Added when the think/answer layout holds.");
    v.Field("format_bad", format_bad, "Added when the think/answer layout does not hold.");
    v.Field("tag_penalty", tag_penalty, "Added per think/answer tag not present exactly once.");
    v.Field("ndcg_weight", ndcg_weight, "DRanker: weight of the nDCG term.");
    v.Field("ndcg_k", ndcg_k, "DRanker: nDCG cut-off.", AtLeast(1));
    v.Field("coverage_weight", coverage_weight, "DRanker: weight of (coverage - 1).");
    v.Section("match", match, "Matching an answer to a candidate.");
  }
};

enum class StepOutcome { kNoAnswer, kInvalid, kExcludedGroundTruth, kExcludedOther };
const char* StepOutcomeName(StepOutcome o);

struct RewardBreakdown {
  double total = 0;
  double correctness = 0;  // IRanker: the outcome's value; DRanker: ndcg + coverage terms
  double format = 0;
  double tags = 0;
  // IRanker
  StepOutcome outcome = StepOutcome::kNoAnswer;
  Match match;  // the excluded candidate (display index into the pool)
  // DRanker
  double ndcg = 0;
  double coverage = 0;
  std::vector<int> ranking;  // matched display indices, best first
  int unmatched_lines = 0;
};

// `pool_texts`: the remaining candidates in display order; `pool_ground_truth[i]`: whether
// pool_texts[i] is ground truth.
RewardBreakdown IRankerStepReward(std::string_view assistant_text,
                                  const std::vector<std::string>& pool_texts,
                                  const std::vector<bool>& pool_ground_truth,
                                  const RewardOptions& options);

// `texts`: all candidates in display order; `relevance`: theirs (graded or 0/1).
RewardBreakdown DRankerReward(std::string_view assistant_text,
                              const std::vector<std::string>& texts,
                              const std::vector<double>& relevance, const RewardOptions& options);

}  // namespace iranker
