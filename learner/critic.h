// learner/critic.h — the PPO critic: a separate decoder initialised from the policy's weights with
// a scalar value head (the way verl and the IRanker paper's PPO set it up).
//
// The unit of decision is one elimination step: the state is the step's prompt (the query and the
// remaining candidates), the action is the whole response. V(state) is the value head applied to
// the critic's final hidden state at the prompt's last token. GAE then runs over the steps of each
// episode (learner/advantages.h), so a step's advantage carries the rewards of the steps after it
// (credit reaches each step's tokens). The critic has its own AdamW (critic_lr) and is trained on
// the clipped value loss
//   L_V = 0.5 * max((V - R)^2, (V_old + clip(V - V_old, -value_clip, value_clip) - R)^2)
// averaged over samples (each sample's return R is a target for its state's value). With one
// optimizer step per batch V_old = V at the start of the step, so the clip is inactive on the
// first pass; it matters when the same data is trained on again (replay, several epochs).
//
// learner.critic_values=token reads a value before every response token instead (verl's critic:
// TokenValues / TrainTokens); the learner then runs GAE over the tokens of each episode's
// responses, each step's reward on its last token, and the value loss averages over tokens.
#pragma once

#include <torch/nn/modules/linear.h>
#include <torch/optim/adamw.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collective/collective.h"
#include "collective/sharded_optimizer.h"
#include "learner/options.h"
#include "learner/state_bytes.h"
#include "model/decoder.h"

namespace iranker {

class DataParallel;

class Critic {
 public:
  // Copies the policy's current weights into a new trunk; the value head starts at zero. Under
  // learner.sharding its AdamW state is sharded over dp's ranks (dp may be null: one rank).
  Critic(const DecoderLM& policy, const LearnerOptions& options, DataParallel* dp = nullptr);

  // V of each prompt, without gradients (micro-batched by options.micro_batch_tokens).
  std::vector<float> Values(const std::vector<const std::vector<int32_t>*>& prompts);

  // One optimizer step of the value loss. prompts[i] is the state of sample i, returns[i] its
  // target and old_values[i] V_old. The loss is summed over samples and divided by `normaliser`
  // (the step's sample count over all ranks / world), gradients averaged over ranks (dp may be
  // null), clipped to max_grad_norm. Returns value_loss (mean), critic_grad_norm.
  std::map<std::string, double> Train(const std::vector<const std::vector<int32_t>*>& prompts,
                                      const std::vector<float>& returns,
                                      const std::vector<float>& old_values, double normaliser,
                                      DataParallel* dp, double lr);

  // learner.critic_values=token (verl's critic): the value before each response token, read from
  // the hidden state at position P - 1 + k for token k of a response (P = prompt length; k = 0 is
  // the prompt's last token, as Values), one forward over prompt + response (the response's last
  // token is never an input). out[i][k] for sample i, without gradients.
  std::vector<std::vector<float>> TokenValues(
      const std::vector<const std::vector<int32_t>*>& prompts,
      const std::vector<const std::vector<int32_t>*>& responses);
  // One optimizer step of the clipped value loss over every response token: returns[i][k] and
  // old_values[i][k] for token k of sample i; summed over tokens and divided by `normaliser` (the
  // step's token count over all ranks / world). Returns value_loss (mean per token),
  // critic_grad_norm.
  std::map<std::string, double> TrainTokens(
      const std::vector<const std::vector<int32_t>*>& prompts,
      const std::vector<const std::vector<int32_t>*>& responses,
      const std::vector<std::vector<float>>& returns,
      const std::vector<std::vector<float>>& old_values, double normaliser, DataParallel* dp,
      double lr);

  // Trunk, head and (unsharded) optimizer state into / from <dir>/critic.pt (written to a
  // temporary name, fsynced and renamed). Under learner.sharding the optimizer's share of this
  // rank goes through SaveShard / LoadShard (the learner's rank files) instead.
  void Save(const std::string& dir) const;
  void Load(const std::string& dir);
  void SaveShard(torch::serialize::OutputArchive& archive) const;
  void LoadShard(int saved_ranks,
                 const std::function<void(int, torch::serialize::InputArchive&)>& shards);

  std::vector<at::Tensor> parameters() const;
  // Its weights, gradients and moments (learner/state_bytes.h).
  StateBytes HeldStateBytes() const;
  // learner.sharding=full: the critic's parameters whole on rank 0 (for a checkpoint) until the
  // next step; a collective. The most bytes of whole parts its last update gathered at once.
  void GatherOnRoot();
  int64_t PeakGatheredBytes() const;

 private:
  // Values with the autograd graph for prompts [begin, end) of a deduplicated list.
  at::Tensor Forward(const std::vector<const std::vector<int32_t>*>& prompts);
  // Values at positions[b][j] of sequence b, flat in (b, j) order, with the autograd graph.
  at::Tensor ForwardAt(const std::vector<const std::vector<int32_t>*>& seqs,
                       const std::vector<std::vector<int64_t>>& positions);
  // The clipped value loss of values v against returns (V_old = old_values), divided by
  // normaliser, backward; returns its undivided sum.
  double BackwardValueLoss(const at::Tensor& v, const std::vector<float>& returns,
                           const std::vector<float>& old_values, double normaliser);
  // learner.sharding=full: this rank's share of the other ranks' passes (passes - done of them),
  // on a token of padding (forward only, or with a zero-loss backward).
  void PaddingPasses(int done, int passes, bool backward);
  // The step's end: gradients averaged over ranks (or reduced by the sharded optimizer), clipped,
  // one AdamW step at lr; returns the gradient norm before clipping.
  double Update(DataParallel* dp, double lr);

  LearnerOptions options_;
  std::shared_ptr<DecoderLM> trunk_;
  torch::nn::Linear head_{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer_;          // learner.sharding = none
  std::unique_ptr<collective::Collective> own_collective_;  // sharding without dp
  std::unique_ptr<collective::ShardedOptimizer> sharded_;   // learner.sharding != none
};

}  // namespace iranker
