// model/generate.h — batched generation with a KV cache, continuous batching and automatic
// prefix reuse.
//
// The engine owns a KVCache of `slots` rows. A submitted request waits until a slot is free, is
// prefilled, then decodes one token per Step() together with every other active request; finished
// requests leave at once and waiting ones take their slots (continuous batching).
//
// Prefix reuse: every slot remembers the tokens whose keys/values it holds, also after its request
// finished. A new prompt is matched against all slots; the longest common prefix is kept in place
// (when that slot is idle) or copied from the slot that has it, and only the rest of the prompt is
// computed. This serves both cases IRanker produces: the G samples of one state share their whole
// prompt, and successive elimination steps of an episode share the prompt up to the first removed
// candidate. Idle slots are evicted least-recently-used first. Reuse never changes results beyond
// floating-point summation order.
//
// Not thread-safe: one thread drives an engine.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "model/decoder.h"
#include "model/sampling.h"

namespace iranker {

struct EngineOptions {
  int64_t slots = 16;          // concurrent sequences (batch size of a decode step)
  int64_t max_seq_len = 4096;  // prompt + response tokens per sequence (KV cache capacity)
  bool prefix_reuse = true;
  int64_t min_reuse_tokens = 1;  // shorter common prefixes are recomputed
};

struct GenerationRequest {
  uint64_t id = 0;
  std::vector<int32_t> prompt;  // non-empty
  SamplingParams params;
  bool keep_logits = false;  // record the next-token logits before each generated token
};

struct GenerationResult {
  enum class Finish { kStop, kLength, kConstraint };
  uint64_t id = 0;
  std::vector<int32_t> tokens;           // generated tokens (the stop token included)
  std::vector<float> logprobs;           // per token: log-softmax(logits / T), see sampling.h
  std::vector<float> sampling_logprobs;  // per token: under the truncated/constrained distribution
  // With keep_logits: per token, the model's fp32 logits [vocab] it was sampled from (row i comes
  // after prompt + tokens[0, i)), before temperature, truncation or constraint.
  std::vector<std::vector<float>> logits;
  Finish finish = Finish::kLength;
  int64_t prompt_tokens = 0;
  int64_t reused_tokens = 0;  // prompt tokens whose keys/values came from the prefix cache
};

struct EngineStats {
  int64_t prefill_tokens = 0;  // prompt tokens computed
  int64_t reused_tokens = 0;   // prompt tokens reused from the cache
  int64_t decode_tokens = 0;   // tokens generated
  int64_t decode_steps = 0;
  int64_t requests = 0;
};

class GenerationEngine {
 public:
  GenerationEngine(DecoderLM& model, const EngineOptions& options);

  void Submit(GenerationRequest request);
  // Admits waiting requests into free slots, then decodes one token for every active request.
  // Returns the requests that finished in this step.
  std::vector<GenerationResult> Step();
  // Steps until everything submitted has finished; results in submission order.
  std::vector<GenerationResult> RunAll();
  bool Idle() const { return waiting_.empty() && active_count_ == 0; }
  const EngineStats& stats() const { return stats_; }
  // Forgets every cached prefix (e.g. after a weight update: old keys/values are stale).
  void InvalidateCache();

 private:
  struct Slot {
    std::vector<int32_t> tokens;  // tokens whose keys/values are in the cache
    bool active = false;
    uint64_t last_used = 0;
    GenerationRequest request;
    GenerationResult result;
    int32_t trie_node = 0;
    int32_t pending = -1;  // sampled token not yet fed to the model
  };
  bool Admit(GenerationRequest& request);
  // Samples the next token of slot s from `logits` [V]; returns true when the request finished.
  bool SampleInto(int64_t s, const at::Tensor& logits);
  std::vector<int32_t> AllowedTokens(const Slot& slot) const;

  DecoderLM& model_;
  EngineOptions options_;
  KVCache cache_;
  std::vector<Slot> slots_;
  std::deque<GenerationRequest> waiting_;
  int64_t active_count_ = 0;
  uint64_t clock_ = 0;
  EngineStats stats_;
};

}  // namespace iranker
