// model/weight_sync.h — the policy's parameters as a comm weight set, and back.
//
// The learner publishes exactly the tensors DecoderLM::named_parameters() holds (HF names), so the
// actor runs the same model code on bit-identical weights: behaviour log-probabilities and the
// learner's recomputed ones differ only by floating-point summation order.
#pragma once

#include <vector>

#include "comm/weight_blob.h"
#include "model/decoder.h"

namespace iranker {

// Views of every parameter (contiguous, CPU). The views borrow the model's memory: publish before
// the next optimizer step changes it.
std::vector<comm::TensorView> PolicyTensorViews(DecoderLM& model);

// Copies a received weight set into the model's parameters between generation steps. Throws
// Error(kInvalidArgument) listing every missing, unexpected or mis-shaped tensor; the model is
// left unchanged in that case.
void ApplyWeights(DecoderLM& model, const comm::WeightSet& weights);

}  // namespace iranker
