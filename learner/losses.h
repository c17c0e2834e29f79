// learner/losses.h — per-token policy-gradient losses and their aggregation.
//
// All tensors are [B, T] over a padded micro-batch; `mask` is 1 at scored (response) tokens.
//   ratio      = exp(logp - old_logp)                      (old = behaviour log-probabilities)
//   pg_t   = -min(ratio * A, clip(ratio, 1-eps, 1+eps) * A) * w   (w: importance weight, 1 if none)
//   kl_t   = k1: logp - ref          k3: exp(ref - logp) - (ref - logp) - 1
//   loss_t = pg_t + kl_coef * kl_t - entropy_coef * entropy_t
// learner.algorithm=sft replaces pg_t by the negative log-likelihood -logp (ratio, advantages and
// importance weights do not enter); the KL and entropy terms stay available.
// Aggregation divides by a normaliser the caller computes over the whole optimizer step (all
// micro-batches and ranks), so gradient accumulation and data parallelism give the same update as
// one big batch:
//   token_mean: sum_t loss_t / normaliser            (normaliser = response tokens in the step)
//   seq_mean:   sum_b (sum_t loss_t / len_b) / normaliser   (normaliser = responses in the step)
#pragma once

#include <ATen/core/Tensor.h>

#include "learner/options.h"

namespace iranker {

struct PolicyLossInputs {
  at::Tensor logprobs;      // current policy, differentiable
  at::Tensor old_logprobs;  // behaviour policy
  at::Tensor advantages;
  at::Tensor mask;
  at::Tensor ref_logprobs;  // undefined when kl_coef == 0
  at::Tensor entropy;       // undefined when entropy_coef == 0
  at::Tensor is_weights;    // undefined = 1
};

struct PolicyLoss {
  at::Tensor loss;  // scalar, differentiable
  // Sums over the micro-batch's masked tokens (divide by token count for means).
  double pg_sum = 0, kl_sum = 0, entropy_sum = 0, clipped_tokens = 0, ratio_sum = 0, tokens = 0;
};

PolicyLoss ComputePolicyLoss(const PolicyLossInputs& in, const LearnerOptions& options,
                             double normaliser);

// The KL estimate per token (k1 or k3) between the current and reference log-probabilities.
at::Tensor KlEstimate(const at::Tensor& logp, const at::Tensor& ref_logp, KlEstimator estimator);

}  // namespace iranker
