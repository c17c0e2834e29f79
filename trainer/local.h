// trainer/local.h — `iranker train --local`: the distributed run's code in one process.
//
// One learner (a world of one, no MPI) and train.actors actor threads, connected over inproc://
// endpoints of one ZeroMQ context: the same RunLearner / RunActor code, wire format, weight
// publisher and trajectory stream as `mpirun ... iranker train` (trainer/distributed.h),
// so --local and the distributed run make the same decisions and reach byte-identical weights
// (tests/e2e/local_vs_distributed.sh). Synchronous: each step the actors roll out with the current
// policy version and the learner trains on exactly their batches. An actor thread's error stops the
// learner at once with that error; a learner error stops the actor threads.
#pragma once

#include "trainer/config.h"
#include "trainer/train_result.h"

namespace iranker {

TrainResult TrainLocal(const Config& config);

}  // namespace iranker
