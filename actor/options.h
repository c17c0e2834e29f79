// actor/options.h — the rollout actors' configuration (`actor:` section).
#pragma once

#include <string>

#include "base/fields.h"

namespace iranker {

// What an actor's episodes are (actor.episode_mode).
enum class EpisodeMode { kSingleStep, kFull, kDRanker };
inline const EnumNames<EpisodeMode>& NamesOf(EpisodeMode) {
  static const EnumNames<EpisodeMode> names = {{EpisodeMode::kSingleStep, "single_step"},
                                               {EpisodeMode::kFull, "full"},
                                               {EpisodeMode::kDRanker, "dranker"}};
  return names;
}

struct ActorOptions {
  // Samples per state: G episodes of each query (GRPO's group). 1 = the paper's PPO setting.
  int group_size = 8;
  // "single_step": the paper's training states, one elimination from pools of every size 2..N;
  // "full": whole on-policy elimination episodes (each step's pool is what the policy left);
  // "dranker": DRanker, the whole ranking in one answer (unconstrained; nDCG reward).
  EpisodeMode episode_mode = EpisodeMode::kSingleStep;
  // Eliminations per full episode; 0 = until one candidate is left.
  int step_budget = 0;
  // Constrained answers: the response must be one of the remaining candidates' labels, written
  // with answer_template (IRanker modes only; DRanker answers are free text): {label} is replaced
  // by the candidate's number, {text} by its text (the answer then names the item itself); for
  // small policies and guaranteed-valid inference.
  bool constrained = true;
  std::string answer_template = "{label}\n</answer>";
  int max_new_tokens = 64;  // unconstrained responses
  double temperature = 1.0;
  double top_p = 1.0;
  int top_k = 0;
  // Generation engine.
  int slots = 16;            // sequences decoded together
  int max_seq_len = 4096;    // prompt + response tokens
  bool prefix_reuse = true;  // reuse keys/values of shared prompt prefixes
  // Queries drawn per rollout batch (each yields group_size episodes).
  int queries_per_batch = 8;

  template <class V>
  void Visit(V& v) {
    v.Field("group_size", group_size, "Samples per state (GRPO group).", AtLeast(1));
    v.Field("episode_mode", episode_mode, "Training states.");
    v.Field("step_budget", step_budget, "Eliminations per full episode; 0 = all.", AtLeast(0));
    v.Field("constrained", constrained, "Constrain answers to the remaining candidates' labels.");
    v.Field("answer_template", answer_template,
            "Constrained continuation; {label} = candidate number, {text} = its text.");
    v.Field("max_new_tokens", max_new_tokens, "Longest unconstrained response.", AtLeast(1));
    v.Field("temperature", temperature, "Sampling temperature.", Range(1e-3, 100.0));
    v.Field("top_p", top_p, "Nucleus sampling mass; 1 = off.", Range(1e-6, 1.0));
    v.Field("top_k", top_k, "Top-k sampling; 0 = off.", AtLeast(0));
    v.Field("slots", slots, "Sequences decoded together.", AtLeast(1));
    v.Field("max_seq_len", max_seq_len, "Prompt + response tokens per sequence.", AtLeast(16));
    v.Field("prefix_reuse", prefix_reuse, "Reuse keys/values of shared prompt prefixes.");
    v.Field("queries_per_batch", queries_per_batch, "Queries per rollout batch.", AtLeast(1));
    v.Check((answer_template.find("{label}") != std::string::npos) !=
                (answer_template.find("{text}") != std::string::npos),
            "answer_template", "must contain exactly one of {label} and {text}");
  }
};

}  // namespace iranker
