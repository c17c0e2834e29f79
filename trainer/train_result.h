// trainer/train_result.h — what a training run reports to the command that started it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
  double trajlog_write_seconds = 0;        // this process's log writer thread in HDF5 calls
};

}  // namespace iranker
