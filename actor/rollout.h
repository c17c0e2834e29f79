// actor/rollout.h — running IRanker elimination episodes with the policy, in batches.
//
// A RolloutRunner turns queries into trajectory records. For each query it starts group_size
// episodes (single-step states or full episodes, actor.episode_mode), renders each episode's
// current state into a ChatML prompt, tokenises it, and hands the request to the generation engine.
// When a response finishes, the runner decodes it, scores it (ranking/reward), applies the
// elimination, emits one StepRecord, and — if the episode goes on — submits the next step's prompt
// at once. At most `slots` requests are in flight, so each episode finds its previous step's
// keys/values still cached (prefix reuse across steps), and the G samples of a state share one
// prefill.
//
// With a teacher (actor.responses: labels, bm25, run; supervised fine-tuning), Run decodes each
// step's target answer instead of sampling: a constraint that allows only the target's tokens,
// greedily, so the record holds the target and the policy's log-probabilities of it, and the
// episode goes on exactly as if the policy had written it. Rank (evaluation) always samples.
//
// Seeds: the episode shuffle seed and each request's sampling seed are pure functions of
// (base seed, query index, group member, step), so a rollout is reproducible given the seeds and
// the policy weights. Not thread-safe; one runner per actor thread.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "actor/options.h"
#include "base/rng.h"  // DeriveSeed: the one seed-derivation function of the project
#include "model/generate.h"
#include "ranking/episode.h"
#include "ranking/prompt.h"
#include "ranking/record.h"
#include "ranking/reward.h"
#include "ranking/teacher.h"
#include "tokenizer/tokenizer.h"
#include "trajectory/record.h"

namespace iranker {

struct RolloutStats {
  int64_t steps = 0, episodes = 0;
  int64_t prompt_tokens = 0, reused_tokens = 0, generated_tokens = 0;
  double seconds = 0;
};

class RolloutRunner {
 public:
  RolloutRunner(DecoderLM& policy, const Tokenizer& tokenizer, const PromptSet& prompts,
                const RewardOptions& rewards, const ActorOptions& options, int32_t actor_id);

  // Runs group_size episodes for each query; appends to `batch`. `base_seed` identifies the batch
  // (e.g. derived from the run seed and the batch index), `version` tags every record.
  RolloutStats Run(const std::vector<const QueryRecord*>& queries, uint64_t base_seed,
                   uint64_t version, TrajectoryBatch* batch);

  // Evaluation protocol: one greedy full elimination episode per query (N - 1 steps), each answer
  // matched with fallbacks (fuzzy, then nearest candidate by TF-IDF) so that exactly one candidate
  // is removed per step. Returns the final rankings (candidate indices, best first). `on_step`
  // (may be empty) is called after each generated answer: a sign of progress for the caller.
  struct Ranked {
    std::vector<int> ranking;
    int fallbacks = 0;
    std::vector<std::string> responses;  // one per step
  };
  std::vector<Ranked> Rank(const std::vector<const QueryRecord*>& queries, uint64_t seed,
                           const MatchOptions& match, const std::function<void()>& on_step = {});

  // Drops cached keys/values (call after the policy's weights change).
  void InvalidateCache() { engine_.InvalidateCache(); }

 private:
  struct Episode;
  // The pieces of Run: its episodes, one response recorded (a step, and a summary when the
  // episode ends), DRanker's scoring of a whole ranking.
  std::vector<Episode> StartEpisodes(const std::vector<const QueryRecord*>& queries,
                                     uint64_t base_seed, uint64_t version);
  bool RecordStep(Episode& e, const GenerationResult& res, const std::string& prefill,
                  TrajectoryBatch* batch, RolloutStats* stats);
  RewardBreakdown ScoreDRanker(Episode& e, const std::string& answer,
                               std::vector<int>* ranking) const;
  EpisodeSummary Summary(const Episode& e, const std::vector<int>& ranking) const;
  void SubmitStep(Episode& e, uint64_t request_id, bool greedy);
  // A constrained answer naming display candidate `display`: answer_template's rendering, tokens.
  std::vector<int32_t> AnswerTokens(int display, const std::vector<std::string>& shown) const;
  // actor.responses other than sampled: the state's target response, as tokens (teacher-forced);
  // for constrained IRanker also the other allowed answers (StepRecord::alternatives' encoding).
  std::vector<int32_t> TargetTokens(const Episode& e, const std::vector<std::string>& shown,
                                    std::vector<int32_t>* alternatives) const;
  // Keeps up to `slots` episodes' requests in flight; on_result(episode, result) applies a
  // response and returns true when the episode needs another step.
  template <class F>
  void Drive(std::vector<Episode>& episodes, bool greedy, F&& on_result);

  DecoderLM& policy_;
  const Tokenizer& tokenizer_;
  const PromptSet& prompts_;
  RewardOptions rewards_;
  ActorOptions options_;
  int32_t actor_id_;
  GenerationEngine engine_;
  std::vector<int32_t> stop_ids_;
  uint64_t episode_counter_ = 0;
  std::unique_ptr<Teacher> teacher_;  // actor.responses != sampled
  std::string target_template_;       // free-text targets: {answer} after the prefill
  bool forcing_ = false;              // inside Run with a teacher: responses are targets
};

}  // namespace iranker
