// trainer/replay.h — `iranker train ... data.replay=FILE.h5`: a learner trained from an
// HDF5 trajectory log instead of actors.
//
// The log's rows are cut into training steps the way the run that wrote them consumed them: each
// maximal run of rows with the same policy_version is one step, its rows ordered by actor id (the
// order SamplesFromBatches gives live batches). Samples keep the logged behaviour
// log-probabilities, so the policy loss's ratio exp(logp - logp_behaviour) and its clip are the
// off-policy correction; the staleness bound does not apply (every replayed step counts as
// current). Replaying a log from the same initial policy with the same learner settings therefore
// retraces the logging run: on CPU its checkpoints come out byte-identical (tests/e2e/replay.sh).
//
// The number of steps is min(train.steps, steps in the log). Checkpoints, resume, evaluations and
// metrics work as in any run; replay writes no trajectory log of its own and starts no actors.
// One process: under an MPI world of more than one rank it refuses to start.
#pragma once

#include "trainer/config.h"
#include "trainer/train_result.h"

namespace iranker {

TrainResult TrainReplay(const Config& config);

}  // namespace iranker
