// trainer/local_trainer.h — `iranker train --local`: one learner and the actors in one process,
// synchronous: each step the actors roll out a batch with the current policy, the learner trains on
// it, and the actors see the new weights before the next step. Deterministic given the config
// (seeds derive from run.seed and the step), so a run interrupted and resumed from a checkpoint
// reaches the same weights as an uninterrupted run.
#pragma once

#include <string>
#include <vector>

#include "trainer/config.h"
#include "trainer/train_common.h"

namespace iranker {


TrainResult TrainLocal(const Config& config);

}  // namespace iranker
