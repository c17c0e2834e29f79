// model/sampling.h — choosing the next token: greedy, temperature, top-k, top-p, constrained to a
// set of allowed continuations, with per-sequence seeds.
//
// Randomness is a pure function of (seed, token index): the uniform used for the i-th generated
// token of a sequence is SplitMix64(seed, i). A sequence therefore samples the same tokens whether
// it is decoded alone or in any batch, and a run is reproducible from its seeds.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace iranker {

// A trie of allowed token sequences (e.g. the tokenised names of the remaining candidates).
class TokenTrie {
 public:
  explicit TokenTrie(const std::vector<std::vector<int32_t>>& sequences);
  static constexpr int32_t kRoot = 0;
  // Children of `node`: token -> child node.
  const std::map<int32_t, int32_t>& Children(int32_t node) const { return nodes_[node].children; }
  // True when the path to `node` is one complete allowed sequence.
  bool IsTerminal(int32_t node) const { return nodes_[node].terminal; }
  int32_t Next(int32_t node, int32_t token) const;  // -1 when not allowed
  size_t size() const { return nodes_.size(); }

 private:
  struct Node {
    std::map<int32_t, int32_t> children;
    bool terminal = false;
  };
  std::vector<Node> nodes_;
};

struct SamplingParams {
  float temperature = 1.0f;  // > 0; logits are divided by it
  int top_k = 0;             // 0 = off
  float top_p = 1.0f;        // 1 = off
  bool greedy = false;       // argmax (temperature, top-k and top-p ignored)
  int max_new_tokens = 64;
  std::vector<int32_t> stop_ids;  // generation ends after emitting one of these
  uint64_t seed = 0;
  // When set, the response must be one of the trie's sequences; generation ends when a complete
  // sequence has been produced and nothing longer is allowed.
  std::shared_ptr<const TokenTrie> constraint;
};

struct SampledToken {
  int32_t token = -1;
  float logprob = 0;           // log-softmax(logits / temperature)[token], before any truncation or
                               // constraint: what the learner recomputes from the same model
  float sampling_logprob = 0;  // log-probability under the distribution actually sampled from
};

// Samples one token from `logits` (vocab floats) for the `index`-th generated token of a sequence.
// `allowed`, when non-null, restricts the choice to those token ids (non-empty).
SampledToken SampleToken(const float* logits, int64_t vocab, const SamplingParams& params,
                         uint64_t index, const std::vector<int32_t>* allowed);

// The uniform in [0, 1) used for token `index` of a sequence with `seed`.
double SampleUniform(uint64_t seed, uint64_t index);

}  // namespace iranker
