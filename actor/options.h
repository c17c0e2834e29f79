// actor/options.h — the rollout actors' configuration (`actor:` section).
#pragma once

#include <string>

#include "base/fields.h"
#include "ranking/teacher.h"  // Responses: sampled or a teacher's targets

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
  // Where each step's response comes from: "sampled" (the policy's, for RL) or a teacher's target,
  // teacher-forced, for supervised fine-tuning (learner.algorithm: sft; ranking/teacher.h):
  // "labels" (the data's relevance), "bm25", or "run" (the TREC run file teacher_run). The
  // episodes, records, rewards and logs are those of RL; the response is the target's tokens and
  // its log-probabilities the policy's (greedy, temperature 1).
  Responses responses = Responses::kSampled;
  std::string teacher_run;
  // How a target names candidates in free-text answers (DRanker, and IRanker with constrained:
  // false): "text" (the candidate's exact text) or "label" (its number). Constrained IRanker
  // targets are answer_template's rendering, exactly what the constrained decoder can write.
  std::string target_names = "text";
  // The free-text target after the assistant prefill, with {answer} the answer's content; empty =
  // the shortest text that completes the <think></think><answer></answer> layout from the prefill.
  std::string target_template;

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
    v.Field("responses", responses,
            "Responses: sampled (RL), or teacher targets for SFT: labels, bm25, run.");
    v.Field("teacher_run", teacher_run, "TREC run file of the run teacher (responses: run).");
    v.Field("target_names", target_names,
            "Free-text targets name candidates by their text or their label (number).");
    v.Field("target_template", target_template,
            "Free-text target after the prefill, {answer} = its content; empty = automatic.");
    v.Check(target_names == "text" || target_names == "label", "target_names",
            "must be text or label");
    v.Check(target_template.empty() || target_template.find("{answer}") != std::string::npos,
            "target_template", "must contain {answer}");
    v.Check(responses == Responses::kSampled || group_size == 1, "group_size",
            "must be 1 with a teacher (actor.responses): the G samples would be one target");
    v.Check(responses != Responses::kRun || !teacher_run.empty(), "teacher_run",
            "is needed when responses is run");
    v.Check((answer_template.find("{label}") != std::string::npos) !=
                (answer_template.find("{text}") != std::string::npos),
            "answer_template", "must contain exactly one of {label} and {text}");
  }
};

}  // namespace iranker
