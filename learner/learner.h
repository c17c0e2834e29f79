// learner/learner.h — one data-parallel learner rank: turns elimination-step samples into policy
// updates.
//
// Step(): drop or re-weight stale samples, compute advantages (GRPO or RLOO, per group of samples
// that share a query and step; PPO: GAE over each episode's steps with the critic's values, and
// one critic update, learner/critic.h), pack samples into token-budget micro-batches (longest
// first, padding minimised), score them with the same model code the actor generated with,
// backpropagate the policy loss with gradient accumulation, average gradients across ranks, clip by
// the global norm, step AdamW under the learning-rate schedule, and advance the policy version.
//
// Not thread-safe. All ranks must call Step() with their own shard in lock-step.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collective/sharded_optimizer.h"
#include "learner/critic.h"
#include "learner/options.h"
#include "learner/state_bytes.h"
#include "model/decoder.h"

namespace iranker {

// One elimination step's response, as the learner needs it.
struct TrainSample {
  std::vector<int32_t> prompt, response;
  std::vector<float> behaviour_logprobs;  // one per response token
  // learner.sft_loss=choice: the other answers allowed at this state (StepRecord::alternatives:
  // each as its token count, then its ids).
  std::vector<int32_t> alternatives;
  float reward = 0;
  uint64_t group = 0;           // samples sharing a query and step (GRPO/RLOO baseline)
  uint64_t episode = 0;         // PPO: GAE runs over the samples of one episode...
  int32_t step_index = 0;       // ...in step order
  uint64_t policy_version = 0;  // version that generated it
};

// Gradient averaging and scalar sums across data-parallel ranks. A single process uses none.
class DataParallel {
 public:
  virtual ~DataParallel() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Called before the backward pass after which AverageGradients follows (the step's last
  // micro-batch), so that reduction can start while that backward runs. Optional.
  virtual void BeforeLastBackward(const std::vector<at::Tensor>& params) { (void)params; }
  // Replaces every parameter's gradient by the mean over ranks.
  virtual void AverageGradients(const std::vector<at::Tensor>& params) = 0;
  virtual double SumScalar(double x) = 0;
  // Figures of the last AverageGradients for metrics.jsonl (e.g. buckets reduced during backward).
  virtual std::map<std::string, double> LastStats() const { return {}; }
  // The ranks' collective, for sharded training state (learner.sharding); null: none.
  virtual collective::Collective* collective() { return nullptr; }
};

// The sharded optimizer of a parameter set under learner.sharding (null for "none"), over dp's
// collective, or over a world of one without dp. `own` keeps that world alive.
// Under learner.sharding=full the parameters are `model`'s, and its parts are the units gathered
// in forward and backward.
std::unique_ptr<collective::ShardedOptimizer> MakeShardedOptimizer(
    const std::vector<at::Tensor>& params, const LearnerOptions& options, DataParallel* dp,
    std::unique_ptr<collective::Collective>* own, const DecoderLM* model = nullptr);

// learner.sharding=full: the ParameterGate of a model whose parameters `sharded` holds, set on
// the model for the lifetime of this object (a training step; null: no-op).
class ShardedGate : public ParameterGate {
 public:
  ShardedGate(DecoderLM& model, collective::ShardedOptimizer* sharded);
  ~ShardedGate() override;
  ShardedGate(const ShardedGate&) = delete;
  ShardedGate& operator=(const ShardedGate&) = delete;
  void Acquire(int part, int next) override { sharded_->Acquire(part, next); }
  void Release(int part) override { sharded_->Release(part); }

 private:
  DecoderLM& model_;
  collective::ShardedOptimizer* sharded_;
};

using Metrics = std::map<std::string, double>;

class Learner {
 public:
  // total_steps feeds the cosine schedule.
  Learner(std::shared_ptr<DecoderLM> policy, const LearnerOptions& options, int64_t total_steps,
          DataParallel* dp = nullptr);

  Metrics Step(std::vector<TrainSample> samples);

  uint64_t version() const { return version_; }
  int64_t step() const { return step_; }
  DecoderLM& policy() { return *policy_; }
  // The model state this rank holds now (policy and critic), measured off the tensors; call it
  // after a step (the gradients of learner.sharding=gradients are its last step's peak).
  StateBytes HeldStateBytes() const;
  // learner.sharding=full: before rank 0 writes a checkpoint, every rank calls this (a
  // collective): the critic's parameters whole on rank 0 (the policy's always are between steps).
  void GatherForCheckpoint();
  double LearningRate(int64_t step) const;

  // Optimizer state, step and version into / from `dir` (weights are saved by the caller in
  // Hugging Face format). Load restores exactly what Save wrote.
  // Under learner.sharding each rank's share of the state is a file optimizer.rank-R-of-N.pt:
  // the other ranks write theirs with SaveShard, the caller moves them into `dir`, and SaveState
  // (called on one rank) adds its own and checks that all are there. LoadState reads them on
  // every rank, re-sharding when the rank count changed.
  void SaveState(const std::string& dir) const;
  void SaveShard(const std::string& dir) const;
  void LoadState(const std::string& dir);
  // The name of rank `rank` of `ranks`'s state file under learner.sharding.
  static std::string ShardFile(int rank, int ranks);

 private:
  struct StepData;
  struct Totals;
  // The steps of Step(), in order. KeepFresh: drops (or flags) stale samples and empty
  // responses. ComputeAdvantages: GRPO/RLOO per group, or PPO's (below). Backward*: the
  // micro-batches' forward/backward (prompts shared by several samples once, or padded rows).
  // AverageClipAndUpdate: gradients averaged over the ranks, clipped, one AdamW step; returns the
  // gradient norm before clipping.
  void KeepFresh(std::vector<TrainSample> samples, StepData* d, Metrics* m) const;
  void ComputeAdvantages(StepData* d, Metrics* m);
  void BackwardSharedPrefixes(const StepData& d, Totals* t);
  void BackwardPadded(const StepData& d, Totals* t);
  void BackwardChoices(const StepData& d, Totals* t);  // learner.sft_loss=choice
  // One micro-batch's backward of `loss`, with the data-parallel and sharding hooks around it;
  // `last`: the step's last backward.
  void BackwardLoss(const at::Tensor& loss, bool last);
  void BackwardMicroBatch(const StepData& d, const std::vector<size_t>& rows,
                          const std::vector<int64_t>& offset, const at::Tensor& lp,
                          const at::Tensor& entropy, const at::Tensor& ref_lp,
                          const at::Tensor& mask, bool last, Totals* t);
  // learner.mini_batches: whether a part has no sample on any rank (a collective).
  bool PartIsEmptyEverywhere(size_t local_samples) const;
  // `final_update`: the step's last update (learner.mini_batches) advances step and version.
  double AverageClipAndUpdate(Metrics* m, bool final_update = true);
  // learner.sharding=full: a forward and backward pass on one token of padding, with zero loss,
  // through the same code as this step's micro-batches: it makes this rank's share of the
  // gathers and reduce-scatters of a pass that other ranks make on their samples.
  void PaddingPass(const StepData& d);
  // PPO: the critic's values, GAE per episode, the critic's update; fills *adv and metrics.
  void PpoAdvantages(const std::vector<TrainSample>& kept, std::vector<float>* adv, Metrics* m);
  // learner.critic_values=token: per-token values, GAE over each episode's response tokens, the
  // critic's update over tokens; fills *adv (per sample, per token) and metrics.
  void PpoTokenAdvantages(const std::vector<TrainSample>& kept,
                          std::vector<std::vector<float>>* adv, Metrics* m);

  std::shared_ptr<DecoderLM> policy_;
  std::shared_ptr<DecoderLM> reference_;  // frozen initial policy, when kl_coef > 0
  std::unique_ptr<Critic> critic_;        // algorithm == "ppo"
  LearnerOptions options_;
  int64_t total_steps_;
  DataParallel* dp_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;          // learner.sharding = none
  std::unique_ptr<collective::Collective> own_collective_;  // sharding without dp: a world of one
  std::unique_ptr<collective::ShardedOptimizer> sharded_;   // learner.sharding != none
  int64_t step_ = 0;
  uint64_t version_ = 0;
};

}  // namespace iranker
