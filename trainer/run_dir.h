// trainer/run_dir.h — the run directory: resolved config, metrics.jsonl, checkpoints, the
// trajectory logs.
//
//   <run>/config.yaml                resolved configuration
//   <run>/init/                      the initial policy (random presets are written here)
//   <run>/checkpoints/step-NNNNNNNN/ Hugging Face weights + tokenizer + optimizer.pt +
//                                    learner_state.json + trainer_state.json
//   <run>/metrics.jsonl              one JSON object per step (and per evaluation)
//   <run>/trajectories[.rank-R][.resume-S].h5  the HDF5 trajectory log of each learner rank
// Checkpoints are filled under a temporary name and committed by rename; only directories with a
// trainer_state.json count, so a crash mid-write leaves the previous checkpoint the latest.
#pragma once

#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "trainer/config.h"
#include "trainer/tfevents.h"
#include "trajlog/trajlog.h"

namespace iranker {

std::string CheckpointDir(const std::string& run_dir, int64_t step);
// The newest complete checkpoint, or "" when none.
std::string LatestCheckpoint(const std::string& run_dir);
// Deletes all but the newest `keep` complete checkpoints (and stale temporary ones).
void PruneCheckpoints(const std::string& run_dir, int keep);

// Appends JSON lines and flushes each, so a crash loses at most the line being written. With a
// TensorBoard directory, each record with a "step" also goes to an event file there: its numeric
// fields as scalars tagged "<type>/<field>" (train/reward_mean, eval/mrr, ...).
class MetricsLog {
 public:
  explicit MetricsLog(const std::string& path, const std::string& tensorboard_dir = "");
  ~MetricsLog();
  void Write(const nlohmann::json& record);

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
  std::unique_ptr<TfEventsWriter> events_;
};

// The HDF5 trajectory log of this learner rank (nullptr when trajlog.enabled is false). A resumed
// run writes a new file (<stem>.resume-<step>.h5) so nothing already logged is overwritten.
std::unique_ptr<TrajectoryLogWriter> OpenTrajectoryLog(const Config& config,
                                                       const std::string& run_dir, int learner_rank,
                                                       int64_t start_step,
                                                       const std::string& model_json);
// Every trajectory log file of a run directory, oldest first.
std::vector<std::string> TrajectoryLogFiles(const std::string& run_dir,
                                            const TrajlogOptions& options);

}  // namespace iranker
