// trainer/memory_plan.h — the memory each process of a run needs, from its configuration alone
// (`iranker plan`): per learner rank and per actor, the bytes of every component, whether they
// fit a device, and where they do not the smallest change of the configuration that fits.
//
// The arithmetic follows what the code allocates:
//  - weights, gradients, AdamW moments of the policy and (PPO) the critic, per learner.sharding
//    (collective/sharded_optimizer.h): `optimizer` keeps 1/N of the moments, `gradients` also
//    1/N of the gradients plus the units whose reduce-scatter is in flight;
//  - the frozen reference policy (kl_coef > 0) in learner.reference_dtype, on the device unless
//    learner.reference_device is cpu;
//  - activations of one micro-batch of learner.micro_batch_tokens padded tokens: the tensors
//    autograd keeps per token and layer in model/decoder.cc's layer (norm inputs and outputs,
//    q/k/v and their rotary halves, the attention probabilities over the sequence, the MLP's four
//    intermediate tensors), or with activation_checkpointing each layer's input and one layer's
//    set recomputed in backward; plus the backward's working set of one layer;
//  - the log-probability chunk: learner.logprob_chunk_tokens x vocabulary fp32 logits, their
//    log-softmax and its gradient (model/scoring.h);
//  - backward's gradient temporaries of the output head and the embedding (vocabulary x hidden);
//  - rank 0's weight publication blobs (the current version and a recycled one: two copies of
//    the policy weights, comm/weight_blob.h);
//  - an actor's weights, its KV cache (actor.slots x actor.max_seq_len), the blobs weight
//    updates arrive in (the same two), and its sampling logits;
//  - the runtime: on CPU the resident size of the iranker process apart from the above
//    (libtorch, OpenMPI, ZeroMQ, HDF5, tokenizer, data; and on rank 0 the run book, evaluation
//    and actor supervision), measured; on CUDA the CUDA context (an estimate).
// A process's peak is its resident components plus the larger of a training step's (activations,
// log-prob chunk, gradients in flight) and an evaluation's (rank 0's KV cache): on CPU each
// rank's measured peak RSS is within 15% of it for the tiny and small presets
// (tests/e2e/memory_plan.sh); larger models and GPUs are not validated by a test.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/fields.h"
#include "model/model_config.h"
#include "trainer/config.h"

namespace iranker {

// When a component exists: for the whole run, during a training step only, during an
// evaluation only (rank 0 evaluates between steps, when no activations exist), or at start-up
// only (before the first step: under learner.sharding=full every rank loads the whole model).
enum class MemoryPhase { kResident, kTraining, kEvaluation, kStartup };
inline const EnumNames<MemoryPhase>& NamesOf(MemoryPhase) {
  static const EnumNames<MemoryPhase> names = {{MemoryPhase::kResident, "resident"},
                                               {MemoryPhase::kTraining, "training"},
                                               {MemoryPhase::kEvaluation, "evaluation"},
                                               {MemoryPhase::kStartup, "start-up"}};
  return names;
}

struct MemoryComponent {
  std::string name;
  int64_t bytes = 0;
  std::string detail;  // how the figure is made up
  MemoryPhase phase = MemoryPhase::kResident;
};

struct ProcessMemory {
  std::string role;  // "learner rank 0", "learner rank 1..N-1", "actor"
  int processes = 1;
  std::vector<MemoryComponent> components;
  int64_t Bytes(MemoryPhase phase) const;  // the sum of one phase's components
  // The peak: resident + the largest of the training step's, the evaluation's and the
  // start-up's components.
  int64_t total() const;
};

struct MemoryPlan {
  ModelConfig model;
  int learners = 1;
  int actors = 1;
  // Memory of one device: a GPU (each process has one), or on CPU the host all processes share.
  int64_t device_bytes = 0;
  bool on_cpu = true;  // model.device is cpu: the processes' sum must fit, not each one
  std::vector<ProcessMemory> processes;
  bool fits = true;
  // When it does not fit: the smallest change that does ("" = none found), as config overrides.
  std::string advice;
  std::vector<std::string> advice_overrides;
  int advice_learners = 0;
  int64_t largest() const;
  int64_t needed() const;  // what must fit device_bytes: the largest process, or on CPU the sum
};

// The model shapes a config trains: model.path's config.json, or the preset at the vocabulary of
// model.tokenizer (the byte-level one by default).
ModelConfig PlannedModel(const Config& config);

// The plan of `config` with `learners` data-parallel learner ranks on devices of `device_bytes`
// each (0: no fit check). Searches for advice when it does not fit.
MemoryPlan PlanMemory(const Config& config, const ModelConfig& model, int learners,
                      int64_t device_bytes);

// "80GiB", "24 GB", "512MiB", "1e9": bytes. Throws naming `what` on anything else.
int64_t ParseByteSize(const std::string& text, const std::string& what);
std::string FormatBytes(int64_t bytes);  // "1.23 GiB"

// A human-readable table of the plan (what `iranker plan` prints).
std::string FormatPlan(const MemoryPlan& plan);

}  // namespace iranker
