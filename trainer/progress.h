// trainer/progress.h — the live progress line of learner rank 0: step / total, elapsed and ETA,
// mean reward, eval MRR, KL, policy lag, generated and learner tokens/s. Redrawn in place on a
// terminal; on a pipe or file (Slurm logs) one plain line per update, at most every few seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace iranker {

class Progress {
 public:
  Progress(int64_t total_steps, int64_t start_step);
  void Update(int64_t step, const nlohmann::json& metrics);
  void Finish();

 private:
  int64_t total_, start_;
  bool tty_;
  std::chrono::steady_clock::time_point t0_, last_print_;
  bool drawn_ = false;
};

}  // namespace iranker
