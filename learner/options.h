// learner/options.h — the learner's configuration (`learner:` section).
#pragma once

#include <string>

#include "base/fields.h"
#include "collective/options.h"

namespace iranker {

using collective::Sharding;  // learner.sharding

// The modes of the learner's configuration; each field below documents its values.
enum class Algorithm { kGrpo, kRloo, kPpo, kSft };
enum class LrSchedule { kConstant, kCosine };
enum class KlEstimator { kK1, kK3 };
enum class LossAggregation { kTokenMean, kSeqMean };
enum class Autocast { kNone, kBf16 };
enum class ReferenceDtype { kSame, kFloat32, kBFloat16 };
enum class ReferenceDevice { kSame, kCpu };
enum class StalePolicy { kDrop, kTruncateIs };

inline const EnumNames<Algorithm>& NamesOf(Algorithm) {
  static const EnumNames<Algorithm> names = {{Algorithm::kGrpo, "grpo"},
                                             {Algorithm::kRloo, "rloo"},
                                             {Algorithm::kPpo, "ppo"},
                                             {Algorithm::kSft, "sft"}};
  return names;
}
inline const EnumNames<LrSchedule>& NamesOf(LrSchedule) {
  static const EnumNames<LrSchedule> names = {{LrSchedule::kConstant, "constant"},
                                              {LrSchedule::kCosine, "cosine"}};
  return names;
}
inline const EnumNames<KlEstimator>& NamesOf(KlEstimator) {
  static const EnumNames<KlEstimator> names = {{KlEstimator::kK1, "k1"}, {KlEstimator::kK3, "k3"}};
  return names;
}
inline const EnumNames<LossAggregation>& NamesOf(LossAggregation) {
  static const EnumNames<LossAggregation> names = {{LossAggregation::kTokenMean, "token_mean"},
                                                   {LossAggregation::kSeqMean, "seq_mean"}};
  return names;
}
inline const EnumNames<Autocast>& NamesOf(Autocast) {
  static const EnumNames<Autocast> names = {{Autocast::kNone, "none"}, {Autocast::kBf16, "bf16"}};
  return names;
}
inline const EnumNames<ReferenceDtype>& NamesOf(ReferenceDtype) {
  static const EnumNames<ReferenceDtype> names = {{ReferenceDtype::kSame, "same"},
                                                  {ReferenceDtype::kFloat32, "float32"},
                                                  {ReferenceDtype::kBFloat16, "bfloat16"}};
  return names;
}
inline const EnumNames<ReferenceDevice>& NamesOf(ReferenceDevice) {
  static const EnumNames<ReferenceDevice> names = {{ReferenceDevice::kSame, "same"},
                                                   {ReferenceDevice::kCpu, "cpu"}};
  return names;
}
inline const EnumNames<StalePolicy>& NamesOf(StalePolicy) {
  static const EnumNames<StalePolicy> names = {{StalePolicy::kDrop, "drop"},
                                               {StalePolicy::kTruncateIs, "truncate_is"}};
  return names;
}

// What supervised fine-tuning maximises (learner.sft_loss).
enum class SftLoss { kTokens, kChoice };
inline const EnumNames<SftLoss>& NamesOf(SftLoss) {
  static const EnumNames<SftLoss> names = {{SftLoss::kTokens, "tokens"},
                                           {SftLoss::kChoice, "choice"}};
  return names;
}

// Where PPO's critic reads values (learner.critic_values).
enum class CriticValues { kStep, kToken };
inline const EnumNames<CriticValues>& NamesOf(CriticValues) {
  static const EnumNames<CriticValues> names = {{CriticValues::kStep, "step"},
                                                {CriticValues::kToken, "token"}};
  return names;
}

struct LearnerOptions {
  // Policy-gradient algorithm: "grpo" (group-normalised advantages, no critic), "rloo"
  // (leave-one-out baseline, REINFORCE-style) or "ppo" (a critic initialised from the policy,
  // GAE over each episode's elimination steps; learner/critic.h) or "sft" (supervised fine-tuning:
  // the cross-entropy of the responses, which are then a teacher's targets, actor.responses; no
  // advantages, no ratio, no staleness limit since targets do not depend on the policy).
  Algorithm algorithm = Algorithm::kGrpo;
  // learner.algorithm=sft: "tokens" is the cross-entropy of the target's tokens over the
  // vocabulary (the usual SFT). "choice" is the target's negative log-likelihood under the
  // constrained decoder that the answers at that state allow (the target and
  // StepRecord::alternatives): at each target token, the cross-entropy among the tokens an allowed
  // answer continues with there. It trains the decision a constrained policy makes without first
  // having to learn to write candidate names (constrained IRanker targets; a sample without
  // alternatives counts its target's sequence NLL).
  SftLoss sft_loss = SftLoss::kTokens;
  double lr = 1e-6;  // AdamW learning rate after warm-up
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;
  int warmup_steps = 0;                         // linear warm-up from 0
  LrSchedule schedule = LrSchedule::kConstant;  // "constant" or "cosine" (to min_lr_ratio * lr)
  double min_lr_ratio = 0.0;
  double max_grad_norm = 1.0;  // global-norm clipping; 0 = off
  double clip_eps = 0.2;       // PPO ratio clip
  double entropy_coef = 0.0;   // entropy bonus
  double kl_coef = 0.0;        // KL to the frozen reference policy; 0 = no reference model
  KlEstimator kl_estimator = KlEstimator::kK3;  // "k1" or "k3"
  // "token_mean": every response token of the step weighs the same; "seq_mean": each response
  // weighs the same (token mean within a response, then mean over responses).
  LossAggregation loss_agg = LossAggregation::kTokenMean;
  int micro_batch_tokens = 8192;  // padded tokens per forward/backward (gradient accumulation)
  // Scored tokens whose [tokens x vocabulary] logits exist at once (model/scoring.h): the output
  // head runs over a micro-batch in chunks of this many rows, forward and (recomputed) backward.
  int logprob_chunk_tokens = 512;
  // Samples with the same prompt (the G samples of a state) share one forward/backward of the
  // prompt; their responses attend to its keys and values.
  bool share_prefix = true;
  bool activation_checkpointing = false;  // recompute each layer's activations in backward
  // "bf16": the learner's forward passes under bf16 autocast, parameters/gradients/optimizer in
  // the parameters' dtype (fp32 master weights). "none": the parameters' dtype throughout.
  Autocast autocast = Autocast::kNone;
  // The frozen KL reference policy (kl_coef > 0): its dtype and device, or the policy's ("same").
  ReferenceDtype reference_dtype = ReferenceDtype::kSame;
  ReferenceDevice reference_device = ReferenceDevice::kSame;
  double temperature = 1.0;   // must equal the actor's sampling temperature
  bool normalize_std = true;  // GRPO: divide by the group's standard deviation
  // Stale data: trajectories more than max_staleness policy versions old are dropped
  // ("drop") or kept with truncated importance weights min(pi_current/pi_behaviour, is_cap)
  // ("truncate_is").
  // PPO's critic (algorithm: ppo): its AdamW learning rate (same warm-up and schedule shape as
  // the policy's), GAE discount and lambda over an episode's steps, value-loss clip (0 = off), and
  // whether advantages are whitened over the step's samples (all ranks).
  double critic_lr = 1e-5;
  // "step": one value per elimination step (the state: its prompt's last token); GAE over an
  // episode's steps, every token of a response gets its step's advantage. "token": one value
  // before each response token, as verl's critic; GAE over the tokens of an episode's responses
  // (each step's reward on its last token), per-token advantages, the value loss over tokens.
  CriticValues critic_values = CriticValues::kStep;
  double gamma = 1.0;
  double lam = 0.95;
  double value_clip = 0.2;
  bool whiten_advantages = true;
  // Optimizer updates per step: the step's samples (each rank's, in the order they came) are cut
  // into this many consecutive parts, one AdamW update of the policy (and of the critic) each, with
  // the advantages computed once before the first (PPO's mini-batches; verl's
  // train_batch_size / ppo_mini_batch_size). Later parts are off-policy by the earlier updates,
  // which the ratio clip bounds.
  int mini_batches = 1;
  int max_staleness = 4;
  StalePolicy stale_policy = StalePolicy::kDrop;
  double is_cap = 2.0;
  // Training state across the data-parallel learner ranks (collective/sharded_optimizer.h): "none"
  // (every rank holds everything), "optimizer" (ZeRO-1: each rank keeps 1/ranks of the AdamW
  // moments; the same update bit for bit) or "gradients" (ZeRO-2: the moments and the gradients,
  // reduce-scattered during backward). Applies to the policy and the critic.
  Sharding sharding = Sharding::kNone;
  // Size of a sharding unit: parameters grouped into flat buffers of about this many MB, each
  // split across the ranks and reduced or gathered as one collective.
  double shard_unit_mb = 64.0;

  template <class V>
  void Visit(V& v) {
    v.Field("algorithm", algorithm,
            "Training algorithm: grpo, rloo, ppo (RL) or sft (cross-entropy on teacher targets).");
    v.Field("sft_loss", sft_loss,
            "sft: cross-entropy of the target's tokens, or of the target among the constrained "
            "answers (choice).");
    v.Field("lr", lr, "AdamW learning rate after warm-up.", Range(0.0, 1.0));
    v.Field("weight_decay", weight_decay, "AdamW decoupled weight decay.", Range(0.0, 1.0));
    v.Field("beta1", beta1, "AdamW beta1.", Range(0.0, 1.0));
    v.Field("beta2", beta2, "AdamW beta2.", Range(0.0, 1.0));
    v.Field("adam_eps", adam_eps, "AdamW epsilon.", Range(0.0, 1.0));
    v.Field("warmup_steps", warmup_steps, "Linear learning-rate warm-up steps.", AtLeast(0));
    v.Field("schedule", schedule, "Learning-rate schedule after warm-up.");
    v.Field("min_lr_ratio", min_lr_ratio, "Cosine schedule floor, as a fraction of lr.",
            Range(0.0, 1.0));
    v.Field("max_grad_norm", max_grad_norm, "Global gradient-norm clip; 0 = off.", AtLeast(0.0));
    v.Field("clip_eps", clip_eps, "PPO ratio clip epsilon.", Range(0.0, 1.0));
    v.Field("entropy_coef", entropy_coef, "Entropy bonus coefficient.", AtLeast(0.0));
    v.Field("kl_coef", kl_coef, "KL-to-reference loss coefficient; 0 = no reference model.",
            AtLeast(0.0));
    v.Field("kl_estimator", kl_estimator, "KL estimator.");
    v.Field("loss_agg", loss_agg, "Loss aggregation over tokens.");
    v.Field("micro_batch_tokens", micro_batch_tokens, "Padded tokens per micro-batch.", AtLeast(1));
    v.Field("logprob_chunk_tokens", logprob_chunk_tokens,
            "Tokens whose full-vocabulary logits exist at once when scoring (memory vs calls).",
            AtLeast(1));
    v.Field("share_prefix", share_prefix, "Compute a prompt shared by several samples once.");
    v.Field("autocast", autocast,
            "Mixed precision of the learner's forward passes (fp32 master weights).");
    v.Field("reference_dtype", reference_dtype, "KL reference policy dtype.");
    v.Field("reference_device", reference_device, "KL reference policy device.");
    v.Field("activation_checkpointing", activation_checkpointing,
            "Keep one layer's activations at a time in training and recompute them in backward "
            "(less memory, ~1/3 more compute).");
    v.Field("temperature", temperature, "Logit temperature; must equal the actor's.",
            Range(1e-3, 100.0));
    v.Field("normalize_std", normalize_std, "GRPO: divide advantages by the group std.");
    v.Field("critic_lr", critic_lr, "PPO critic AdamW learning rate.", Range(0.0, 1.0));
    v.Field("critic_values", critic_values,
            "PPO: the critic values each step's state (step) or each response token (token, as "
            "verl).");
    v.Field("gamma", gamma, "PPO: GAE discount over an episode's steps.", Range(0.0, 1.0));
    v.Field("lam", lam, "PPO: GAE lambda.", Range(0.0, 1.0));
    v.Field("value_clip", value_clip, "PPO: value-loss clip around the old value; 0 = off.",
            AtLeast(0.0));
    v.Field("whiten_advantages", whiten_advantages,
            "PPO: whiten advantages over the step (all ranks).");
    v.Field("mini_batches", mini_batches,
            "Optimizer updates per step, each on a consecutive part of the step's samples.",
            AtLeast(1));
    v.Field("max_staleness", max_staleness, "Oldest accepted policy lag, in versions.", AtLeast(0));
    v.Field("stale_policy", stale_policy, "What to do with older data.");
    v.Field("is_cap", is_cap, "Truncation of importance weights for stale data.", AtLeast(1.0));
    v.Field("sharding", sharding,
            "Training state sharded across learner ranks: none, optimizer (ZeRO-1), gradients "
            "(ZeRO-2) or full (ZeRO-3: parameters too, gathered part by part).");
    v.Field("shard_unit_mb", shard_unit_mb, "Parameters per sharding unit (MB).",
            Range(0.001, 1e6));
    v.Check(!(schedule == LrSchedule::kCosine && min_lr_ratio > 1.0), "min_lr_ratio",
            "must be <= 1");
    v.Check(critic_values == CriticValues::kStep || algorithm == Algorithm::kPpo, "critic_values",
            "token needs learner.algorithm=ppo (only PPO has a critic)");
  }
};

}  // namespace iranker
