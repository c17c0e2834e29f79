// model/scoring.h — log-probabilities and entropies of given tokens under the model, for a padded
// batch, differentiable: what PPO/GRPO losses and the reference-policy KL need.
//
// The output head runs over the scored positions in chunks of `chunk_tokens` rows (ScoreRows):
// each chunk's [rows x vocabulary] fp32 logits exist only while that chunk is scored, in the
// forward and again in backward (recomputed), so peak memory does not grow with vocabulary x
// micro-batch tokens. The head's weight gets one gradient per backward (the chunks' sum), as a
// plain forward gives it. Chunking changes only the order in which the weight gradient's
// partial sums add up; with one chunk the numbers are those of the unchunked computation.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "model/decoder.h"

namespace iranker {

// Rows of the output head scored at once (learner.logprob_chunk_tokens): 512 rows of Qwen's
// 151,936-token vocabulary are 311 MB of fp32 logits.
constexpr int64_t kDefaultScoreChunkTokens = 512;

// Rows h [N, H] (hidden states) -> log p(targets[n]) [N] fp32 under Logits(h) / temperature,
// and (with_entropy) the entropy of each row's distribution [N] (else undefined), differentiable
// with respect to h and the head's weight, `chunk_tokens` rows at a time (see above).
struct RowScores {
  at::Tensor logprobs, entropy;
};
RowScores ScoreRows(DecoderLM& model, const at::Tensor& h, const at::Tensor& targets,
                    float temperature, bool with_entropy, int64_t chunk_tokens);

struct TokenScores {
  at::Tensor logprobs;  // [B, T] fp32: log p(ids[b,t] | ids[b,:t]) at scored positions, 0 elsewhere
  at::Tensor entropy;   // [B, T] fp32 entropy of the next-token distribution at scored positions
                        // (undefined unless requested)
};

// ids [B, T] int64, right-padded. score_mask [B, T] (bool or 0/1): positions whose token is scored
// (response tokens; position 0 can never be scored). Logits are computed only where needed, so long
// prompts with a large vocabulary stay cheap. temperature divides the logits, matching sampling.
TokenScores ScoreTokens(DecoderLM& model, const at::Tensor& ids, const at::Tensor& score_mask,
                        float temperature = 1.0f, bool with_entropy = false,
                        int64_t chunk_tokens = kDefaultScoreChunkTokens);

// Responses to one shared prompt: the prompt is computed once (DecoderLM::ForwardSharedPrefix).
// Returns [G, S] tensors (S = longest response): logprobs of each response token, entropy (when
// requested) and the mask of real (non-padding) tokens.
struct SharedPrefixScores {
  at::Tensor logprobs, entropy, mask;
};
SharedPrefixScores ScoreSharedPrefix(DecoderLM& model, const std::vector<int32_t>& prompt,
                                     const std::vector<const std::vector<int32_t>*>& responses,
                                     float temperature = 1.0f, bool with_entropy = false,
                                     int64_t chunk_tokens = kDefaultScoreChunkTokens);

}  // namespace iranker
