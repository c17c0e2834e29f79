#include "learner/losses.h"

#include <torch/torch.h>

#include "base/error.h"

namespace iranker {

at::Tensor KlEstimate(const at::Tensor& logp, const at::Tensor& ref_logp, KlEstimator estimator) {
  if (estimator == KlEstimator::kK1) return logp - ref_logp;
  auto d = ref_logp - logp;
  return torch::exp(d) - d - 1.0;
}

PolicyLoss ComputePolicyLoss(const PolicyLossInputs& in, const LearnerOptions& o,
                             double normaliser) {
  IR_CHECK_GT(normaliser, 0.0);
  const auto& mask = in.mask;
  auto ratio = torch::exp(in.logprobs - in.old_logprobs);
  auto clipped = torch::clamp(ratio, 1.0 - o.clip_eps, 1.0 + o.clip_eps);
  at::Tensor pg;
  if (o.algorithm == Algorithm::kSft) {
    pg = -in.logprobs;
  } else {
    pg = -torch::min(ratio * in.advantages, clipped * in.advantages);
    if (in.is_weights.defined()) pg = pg * in.is_weights;
  }
  auto per_token = pg;
  PolicyLoss out;
  at::Tensor kl;
  if (o.kl_coef > 0) {
    IR_CHECK(in.ref_logprobs.defined());
    kl = KlEstimate(in.logprobs, in.ref_logprobs, o.kl_estimator);
    per_token = per_token + o.kl_coef * kl;
  }
  if (o.entropy_coef > 0) {
    IR_CHECK(in.entropy.defined());
    per_token = per_token - o.entropy_coef * in.entropy;
  }
  per_token = per_token * mask;
  if (o.loss_agg == LossAggregation::kTokenMean) {
    out.loss = per_token.sum() / normaliser;
  } else {
    auto len = mask.sum(1).clamp_min(1.0);
    out.loss = (per_token.sum(1) / len).sum() / normaliser;
  }
  torch::NoGradGuard ng;
  out.tokens = mask.sum().item<double>();
  out.pg_sum = (pg * mask).sum().item<double>();
  if (kl.defined()) out.kl_sum = (kl * mask).sum().item<double>();
  if (in.entropy.defined()) out.entropy_sum = (in.entropy * mask).sum().item<double>();
  out.clipped_tokens =
      ((ratio - clipped).abs() > 1e-6).to(torch::kFloat32).mul(mask).sum().item<double>();
  out.ratio_sum = (ratio * mask).sum().item<double>();
  return out;
}

}  // namespace iranker
