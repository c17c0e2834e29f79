// model/scoring.h — log-probabilities and entropies of given tokens under the model, for a padded
// batch, differentiable: what PPO/GRPO losses and the reference-policy KL need.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "model/decoder.h"

namespace iranker {

struct TokenScores {
  at::Tensor logprobs;  // [B, T] fp32: log p(ids[b,t] | ids[b,:t]) at scored positions, 0 elsewhere
  at::Tensor entropy;   // [B, T] fp32 entropy of the next-token distribution at scored positions
                        // (undefined unless requested)
};

// ids [B, T] int64, right-padded. score_mask [B, T] (bool or 0/1): positions whose token is scored
// (response tokens; position 0 can never be scored). Logits are computed only where needed, so long
// prompts with a large vocabulary stay cheap. temperature divides the logits, matching sampling.
TokenScores ScoreTokens(DecoderLM& model, const at::Tensor& ids, const at::Tensor& score_mask,
                        float temperature = 1.0f, bool with_entropy = false);

// Responses to one shared prompt: the prompt is computed once (DecoderLM::ForwardSharedPrefix).
// Returns [G, S] tensors (S = longest response): logprobs of each response token, entropy (when
// requested) and the mask of real (non-padding) tokens.
struct SharedPrefixScores {
  at::Tensor logprobs, entropy, mask;
};
SharedPrefixScores ScoreSharedPrefix(DecoderLM& model, const std::vector<int32_t>& prompt,
                                     const std::vector<const std::vector<int32_t>*>& responses,
                                     float temperature = 1.0f, bool with_entropy = false);

}  // namespace iranker
