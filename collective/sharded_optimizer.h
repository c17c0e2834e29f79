// collective/sharded_optimizer.h — ZeRO-style sharded training state of one parameter set (the
// policy's, the critic's) across the data-parallel learner ranks.
//
// The parameters are laid out in units: consecutive parameters in reverse order (the order
// backward finishes them), each unit about learner.shard_unit_mb, its parameters views into one
// flat buffer padded to a multiple of the rank count W. Rank r owns the r-th 1/W of every unit:
// it keeps that slice's AdamW moments and updates that slice of the parameters, then every unit
// is all-gathered so that each rank holds the new parameters whole.
//
//   kOptimizer (ZeRO-1): gradients are averaged as without sharding (the caller's all-reduce);
//                        the moments are sharded. Bit-identical to the unsharded update.
//   kGradients (ZeRO-2): gradients are reduce-scattered, unit by unit as backward completes each
//                        one (hooks on the parameters' accumulators, collectives started in unit
//                        order, the same on every rank), and each rank keeps only its slice, summed
//                        over the micro-batches; a unit's full gradients are freed once handed to
//                        the collective, and at most 2 units are in flight (the next start waits
//                        for the oldest). The gradients and moments are sharded.
//   kFull (ZeRO-3):      as kGradients, and the parameters too: a rank keeps its slice of each unit
//                        and the units' whole buffers hold memory only while gathered. The caller
//                        names the parts of the model (groups of parameters used together: a
//                        decoder layer, the embedding; units never span two parts) and brackets
//                        each part's forward with Acquire / Release: Acquire all-gathers the part's
//                        units (and starts gathering the part named to come next, so that it
//                        arrives while this one computes), Release frees them. During backward
//                        (between BeginBackward and EndBackward) Acquire gathers again, before the
//                        part's backward runs, and a unit is freed as soon as all its gradients
//                        have arrived. Parameters in no part stay gathered. Forward and backward
//                        passes are collectives here: every rank makes as many as the rank with the
//                        most (PlanPasses). Between steps, Materialize(root) gathers the whole
//                        parameters onto one rank (publication, evaluation, checkpoints); the next
//                        step's first Acquire frees them there.
//
// The global gradient norm is the norm over all ranks' slices; clipping and AdamW (the arithmetic
// of torch::optim::AdamW, element by element) run on the slices. Not thread-safe, except that the
// gradient hooks may run on autograd's threads. Every rank makes the same calls in the same order
// (they are collectives), with the same parameter shapes.
#pragma once

#include <torch/serialize/archive.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collective/collective.h"
#include "collective/options.h"

namespace iranker::collective {

struct ShardedAdamW {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

struct ShardedStats {
  int units = 0;
  int64_t params = 0;            // elements of the parameter set
  int64_t moment_bytes = 0;      // this rank's AdamW moments
  int64_t grad_shard_bytes = 0;  // this rank's gradient slices (kGradients)
  // Last step (kGradients): the most gradient bytes held at once: this rank's slices, the
  // buffers of the reduce-scatters in flight (at most 2 units) and the gradients autograd left
  // in .grad() for units not yet started.
  int64_t peak_grad_bytes = 0;
  double reduce_wait_seconds = 0;  // last step: time waiting for gradient collectives
  double gather_seconds = 0;       // last step: time in the parameters' all-gather
  // kFull: this rank's parameter slices, and the most bytes of whole units gathered at once in the
  // last step (forward and backward, prefetch included).
  int64_t param_shard_bytes = 0;
  int64_t peak_gathered_bytes = 0;
};

class ShardedOptimizer {
 public:
  // `params`: trainable, one dtype and device, each listed once; they become views of the units'
  // flat buffers (their values kept). Make it before anything else keeps references to their
  // storage (a GradientBucketer, an optimizer).
  // kFull: `parts` are the groups of parameters Acquire / Release name (a parameter in at most
  // one part; the tied embedding of a head belongs to the embedding's part, and the head's part
  // lists it too). Until the first Acquire every rank holds the parameters whole, and writes to
  // them (loading a checkpoint) are what the slices start from.
  ShardedOptimizer(Collective& collective, const std::vector<at::Tensor>& params, Sharding level,
                   const ShardedAdamW& adam, double unit_mb,
                   const std::vector<std::vector<at::Tensor>>& parts = {});
  ~ShardedOptimizer();
  ShardedOptimizer(const ShardedOptimizer&) = delete;
  ShardedOptimizer& operator=(const ShardedOptimizer&) = delete;

  Sharding level() const { return level_; }
  int rank() const;
  int ranks() const;
  // Before a step's first backward: zeroes the gradients (kOptimizer keeps them whole, as
  // torch's optimizers do); kGradients has none left at this point.
  void ZeroGrad();
  // Before the step's first backward, with this rank's number of backward passes (micro-
  // batches; 0 for a rank without samples). kGradients: each pass is a series of collectives,
  // so every rank must make as many as the rank with the most; the ranks agree on it here, and
  // Step makes this rank's missing ones as empty passes (zero gradients) first. Required before
  // each kGradients step; a collective (every rank calls it). A no-op for kOptimizer.
  void PlanBackwardPasses(int passes);
  // kFull: as PlanBackwardPasses, and returns the most passes of any rank. Forward and backward
  // passes gather parameters, so the caller makes this rank's missing passes itself (a pass on a
  // token of padding); Step checks that it did. `backward`: false for passes without backward
  // (the critic's values), which need no BeginBackward. Other levels: PlanBackwardPasses for
  // backward passes, and returns `passes`.
  int PlanPasses(int passes, bool backward);

  // kFull (no-ops otherwise): the parameters of `part` whole on this rank, now; then starts
  // gathering part `next` (-1: none) for the caller's next Acquire. Not during a parallel region
  // of other collectives: every rank makes the same calls in the same order (they are
  // collectives unless the part is already there).
  void Acquire(int part, int next);
  // Outside backward: the part's units are freed unless another Acquire holds them.
  void Release(int part);
  // kFull: gathers the whole parameters onto rank `root` (unit by unit; the other ranks free each
  // unit at once). A collective. Until the next Acquire the parameters of `root` are whole.
  void Materialize(int root);
  // kGradients: around each micro-batch's backward. Begin arms the hooks; End starts the units
  // backward did not complete (parameters without a gradient count as zero), waits for every
  // reduce-scatter and adds the slices into this rank's gradients. No-ops for kOptimizer.
  void BeginBackward();
  void EndBackward();
  // After the step's backward passes (kOptimizer: gradients already averaged over the ranks in
  // .grad()): the global gradient norm, clipping to max_grad_norm (0: none), one AdamW step at
  // `lr` on this rank's slices, and the all-gather of the new parameters. Returns the norm
  // before clipping.
  double Step(double lr, double max_grad_norm);

  // This rank's state: its moments and the step count.
  void Save(torch::serialize::OutputArchive& archive) const;
  // Restores what Save wrote with `saved_ranks` ranks; `shards` reads rank r's archive (all of
  // them when the rank count changed: the moments are re-sharded).
  void Load(int saved_ranks,
            const std::function<void(int rank, torch::serialize::InputArchive&)>& shards);
  ShardedStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Sharding level_;
};

}  // namespace iranker::collective
