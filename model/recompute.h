// model/recompute.h — activation checkpointing: run a piece of the forward pass without keeping
// its intermediate activations, and run it again during backward to get them back.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

namespace iranker {

using TensorFn = std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>&)>;

// Returns fn(inputs), keeping only `inputs` for backward instead of every tensor fn creates; the
// backward pass calls fn again (with gradients on) and back-propagates through that. fn must be
// deterministic (no dropout here) and may read other tensors (parameters, masks) it captures:
// gradients reach captured parameters through the recomputation; it runs under the autocast
// state (CPU and CUDA, dtype) of the forward. Inputs that do not require
// gradients get none. Without grad mode this is fn(inputs).
std::vector<at::Tensor> Recompute(const TensorFn& fn, const std::vector<at::Tensor>& inputs);

}  // namespace iranker
