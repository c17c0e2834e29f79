// learner/state_bytes.h — the training state a learner rank holds, measured off its tensors.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <vector>

#include "collective/sharded_optimizer.h"

namespace iranker {

// Bytes of model state: parameters, their gradients, the optimizer's moments.
struct StateBytes {
  int64_t weights = 0, grads = 0, moments = 0;
  int64_t total() const { return weights + grads + moments; }
  StateBytes& operator+=(const StateBytes& o) {
    weights += o.weights, grads += o.grads, moments += o.moments;
    return *this;
  }
};

// Counts each storage once: the parameters' (a sharded unit's flat buffer once), their .grad()s,
// and either `plain`'s per-parameter state tensors or `sharded`'s moments and the most gradient
// bytes it held during its last step (ShardedStats::peak_grad_bytes). Either may be null. Under
// learner.sharding=full the parameters count as this rank's slices plus the most bytes of whole
// units gathered at once in the last step.
StateBytes CountStateBytes(const std::vector<at::Tensor>& params,
                           const torch::optim::Optimizer* plain,
                           const collective::ShardedOptimizer* sharded);

}  // namespace iranker
