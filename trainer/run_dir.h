// trainer/run_dir.h — the run directory: resolved config, metrics.jsonl, checkpoints.
//
//   <run>/config.yaml                resolved configuration
//   <run>/init/                      the initial policy (random presets are written here)
//   <run>/checkpoints/step-NNNNNNNN/ Hugging Face weights + tokenizer + optimizer.pt +
//                                    learner_state.json + trainer_state.json
//   <run>/metrics.jsonl              one JSON object per step (and per evaluation)
// Checkpoints are filled under a temporary name and committed by rename; only directories with a
// trainer_state.json count, so a crash mid-write leaves the previous checkpoint the latest.
#pragma once

#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "trainer/tfevents.h"

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

}  // namespace iranker
