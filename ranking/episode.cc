#include "ranking/episode.h"

#include <algorithm>

#include "base/error.h"
#include "base/rng.h"

namespace iranker {

EpisodeState StartEpisode(const QueryRecord& record, uint64_t seed, int step_budget) {
  EpisodeState e;
  e.record_id = record.id;
  e.seed = seed;
  for (size_t i = 0; i < record.size(); ++i) e.pool.push_back(static_cast<int>(i));
  Rng rng(seed);
  rng.Shuffle(&e.pool);
  const int max_steps = static_cast<int>(record.size()) - 1;
  e.step_budget = step_budget <= 0 ? max_steps : std::min(step_budget, max_steps);
  return e;
}

std::vector<EpisodeState> SingleStepStates(const QueryRecord& record, uint64_t seed) {
  Rng rng(seed);
  std::vector<int> truth = GroundTruth(record), negatives;
  IR_CHECK(!truth.empty());
  for (size_t i = 0; i < record.size(); ++i)
    if (!IsGroundTruth(record, static_cast<int>(i))) negatives.push_back(static_cast<int>(i));
  const int gt = truth[rng.Below(truth.size())];
  rng.Shuffle(&negatives);
  std::vector<EpisodeState> states;
  for (size_t k = 1; k <= negatives.size(); ++k) {
    EpisodeState e;
    e.record_id = record.id;
    e.seed = DeriveSeed(seed, k);
    e.pool.push_back(gt);
    e.pool.insert(e.pool.end(), negatives.begin(), negatives.begin() + k);
    Rng shuffle(e.seed);
    shuffle.Shuffle(&e.pool);
    e.step_budget = 1;
    states.push_back(std::move(e));
  }
  return states;
}

bool EpisodeDone(const EpisodeState& e) { return e.pool.size() <= 1 || e.steps >= e.step_budget; }

std::vector<std::string> PoolTexts(const QueryRecord& record, const EpisodeState& e) {
  std::vector<std::string> out;
  for (int i : e.pool) out.push_back(record.candidates.at(i).text);
  return out;
}

std::vector<bool> PoolGroundTruth(const QueryRecord& record, const EpisodeState& e) {
  std::vector<bool> out;
  for (int i : e.pool) out.push_back(IsGroundTruth(record, i));
  return out;
}

void Eliminate(EpisodeState* e, int display_index) {
  IR_CHECK(!EpisodeDone(*e));
  IR_CHECK(display_index >= 0 && display_index < static_cast<int>(e->pool.size()));
  e->eliminated.push_back(e->pool[display_index]);
  e->pool.erase(e->pool.begin() + display_index);
  ++e->steps;
}

std::vector<int> FinalRanking(const EpisodeState& e) {
  std::vector<int> out = e.pool;
  out.insert(out.end(), e.eliminated.rbegin(), e.eliminated.rend());
  return out;
}

RewardBreakdown ApplyTrainingResponse(const QueryRecord& record, EpisodeState* e,
                                      std::string_view assistant_text,
                                      const RewardOptions& options) {
  IR_CHECK(!EpisodeDone(*e));
  RewardBreakdown r = IRankerStepReward(assistant_text, PoolTexts(record, *e),
                                        PoolGroundTruth(record, *e), options);
  if (r.match.index >= 0)
    Eliminate(e, r.match.index);
  else
    ++e->steps;
  return r;
}

Match ApplyEvaluationAnswer(const QueryRecord& record, EpisodeState* e, std::string_view answer,
                            const MatchOptions& options) {
  Match m = MatchWithFallback(answer, PoolTexts(record, *e), {}, options);
  IR_CHECK_GE(m.index, 0);
  if (m.kind == MatchKind::kFallbackFuzzy || m.kind == MatchKind::kFallbackTfidf) ++e->fallbacks;
  Eliminate(e, m.index);
  return m;
}

std::vector<std::string> AllowedAnswers(const QueryRecord& record, const EpisodeState& e,
                                        const MatchOptions& options) {
  std::vector<std::string> out;
  if (options.labels)
    for (size_t k = 1; k <= e.pool.size(); ++k) out.push_back(std::to_string(k));
  for (int i : e.pool) out.push_back(record.candidates.at(i).text);
  return out;
}

}  // namespace iranker
