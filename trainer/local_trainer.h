// trainer/local_trainer.h — `iranker train --local`: one learner and the actors in one process,
// synchronous: each step the actors roll out a batch with the current policy, the learner trains on
// it, and the actors see the new weights before the next step. Deterministic given the config
// (seeds derive from run.seed and the step), so a run interrupted and resumed from a checkpoint
// reaches the same weights as an uninterrupted run.
#pragma once

#include <string>
#include <vector>

#include "trainer/config.h"
#include "trainer/evaluation.h"

namespace iranker {

struct TrainResult {
  std::string run_dir;
  std::string final_checkpoint;
  EvalReport initial, final;
  bool has_initial = false;
  bool interrupted = false;  // a stop signal ended the run early (checkpoint written)
  int64_t trajectories = 0;  // step records the learners received (this run, all ranks)
  std::vector<std::string> trajlog_files;  // HDF5 logs of the run directory
};

TrainResult TrainLocal(const Config& config);

}  // namespace iranker
