// ranking/episode.h — IRanker elimination episodes as plain data plus functions, so an actor can
// keep many episodes of a batch in a vector and step them together (no threads, no hidden state).
//
// An episode holds the candidates still in play (the pool, in the order shown to the policy:
// label k names pool[k-1]) and those eliminated so far. Each step removes one candidate. The
// final ranking is the last remaining candidate(s) followed by the eliminated ones in reverse
// order, so the ground truth removed at step t (1-based) of an N-candidate episode has rank
// N - t + 1 and a survivor has rank 1. Everything is deterministic given the seed, which is
// recorded in the state.
//
// Two kinds of states:
//   StartEpisode      a full episode over all N candidates (evaluation, on-policy training);
//                     the step budget caps the eliminations (0 = N - 1).
//   SingleStepStates  the paper's training states: pools of every size 2..1+negatives, each the
//                     ground truth plus a nested, shrinking random subset of the negatives, each
//                     shuffled on its own; one step each.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ranking/match.h"
#include "ranking/record.h"
#include "ranking/reward.h"

namespace iranker {

struct EpisodeState {
  std::string record_id;
  uint64_t seed = 0;            // shuffle seed of this state (recorded for replay)
  std::vector<int> pool;        // candidate indices still in play, in display order
  std::vector<int> eliminated;  // candidate indices, in elimination order
  int steps = 0;                // responses applied (valid or not)
  int step_budget = 0;          // responses allowed; the episode ends when reached
  int fallbacks = 0;            // evaluation steps that needed the fallback matcher
};

// A full episode over all candidates, shuffled by `seed`. step_budget 0 = N - 1.
EpisodeState StartEpisode(const QueryRecord& record, uint64_t seed, int step_budget = 0);

// The paper's single-step states of one record (pool sizes 2..1+number of negatives); each has
// step_budget 1. One ground truth is drawn per record when several share the top relevance.
std::vector<EpisodeState> SingleStepStates(const QueryRecord& record, uint64_t seed);

// True when one candidate is left or the step budget is used up.
bool EpisodeDone(const EpisodeState& e);

// The pool's texts and ground-truth flags in display order (inputs of prompts and rewards).
std::vector<std::string> PoolTexts(const QueryRecord& record, const EpisodeState& e);
std::vector<bool> PoolGroundTruth(const QueryRecord& record, const EpisodeState& e);

// Removes pool[display_index] and counts a step. Checks the index and that the episode is not done.
void Eliminate(EpisodeState* e, int display_index);

// The remaining candidates (display order) followed by the eliminated in reverse order.
std::vector<int> FinalRanking(const EpisodeState& e);

// Training step: scores the response (IRankerStepReward), eliminates the matched candidate if
// any, and always counts the step (an invalid answer leaves the pool unchanged).
RewardBreakdown ApplyTrainingResponse(const QueryRecord& record, EpisodeState* e,
                                      std::string_view assistant_text,
                                      const RewardOptions& options);

// Evaluation step: matches the answer with fallbacks (MatchWithFallback), so exactly one
// candidate is always removed; counts fallbacks. `answer` is the extracted answer text (see
// ParseResponse); an empty one falls through to the TF-IDF fallback.
Match ApplyEvaluationAnswer(const QueryRecord& record, EpisodeState* e, std::string_view answer,
                            const MatchOptions& options);

// Constrained-answer mode: every string the answer may be for a valid elimination — the labels
// "1".."k" (if options.labels) and the pool's texts.
std::vector<std::string> AllowedAnswers(const QueryRecord& record, const EpisodeState& e,
                                        const MatchOptions& options);

}  // namespace iranker
