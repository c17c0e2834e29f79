#include "learner/state_bytes.h"

#include <torch/optim/adamw.h>

#include <unordered_set>

namespace iranker {

namespace {
// Adds t's storage to `total` unless `seen` has it.
void AddStorage(const at::Tensor& t, std::unordered_set<const void*>* seen, int64_t* total) {
  if (!t.defined() || !t.has_storage()) return;
  const c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
  if (seen->insert(s).second) *total += static_cast<int64_t>(s->nbytes());
}
}  // namespace

StateBytes CountStateBytes(const std::vector<at::Tensor>& params,
                           const torch::optim::Optimizer* plain,
                           const collective::ShardedOptimizer* sharded) {
  StateBytes b;
  std::unordered_set<const void*> seen;
  // learner.sharding=full: this rank's slices of the parameters and the most whole units it
  // gathered at once during the last step (between steps rank 0 also holds them all whole for
  // publication, evaluation and checkpoints; not counted here).
  const bool full = sharded && sharded->level() == collective::Sharding::kFull;
  if (full) {
    const collective::ShardedStats st = sharded->stats();
    b.weights += st.param_shard_bytes + st.peak_gathered_bytes;
  } else {
    for (const auto& p : params) AddStorage(p, &seen, &b.weights);
  }
  for (const auto& p : params) AddStorage(p.grad(), &seen, &b.grads);
  if (plain) {
    for (const auto& [key, state] : plain->state()) {
      const auto* adam = dynamic_cast<const torch::optim::AdamWParamState*>(state.get());
      if (!adam) continue;
      AddStorage(adam->exp_avg(), &seen, &b.moments);
      AddStorage(adam->exp_avg_sq(), &seen, &b.moments);
      AddStorage(adam->max_exp_avg_sq(), &seen, &b.moments);
    }
  }
  if (sharded) {
    const collective::ShardedStats st = sharded->stats();
    b.moments += st.moment_bytes;
    b.grads += st.peak_grad_bytes;
  }
  return b;
}

}  // namespace iranker
