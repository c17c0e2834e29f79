// learner/samples.h — a step's trajectory batches as the learner's training samples.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "learner/learner.h"
#include "trajectory/record.h"

namespace iranker {

// The training samples of one step's batches, in actor-id order (the order every trainer
// restores, so `train --local`, the distributed run and replay train on the same sequence).
// Moves the token vectors out of `batches`. With `rec`, also fills the step's rollout figures:
// valid_format (fraction of samples), episode_mrr (mean over the finished episodes) and
// trajectories (samples).
std::vector<TrainSample> SamplesFromBatches(std::vector<TrajectoryBatch>& batches,
                                            nlohmann::json* rec);

}  // namespace iranker
