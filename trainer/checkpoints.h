// trainer/checkpoints.h — a run's initial policy and its checkpoints: where training starts,
// where it resumes, and how a step's state is written so that a crash never leaves half of it.
//
//   <run>/init/                       the initial policy when it comes from a preset
//   <run>/checkpoints/step-NNNNNNNN/  Hugging Face weights + tokenizer + the learner's state
//                                     (optimizer.pt, learner_state.json) + trainer_state.json
// A checkpoint is filled under a temporary name and committed by rename; only directories with a
// trainer_state.json count (trainer/run_dir.h LatestCheckpoint).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "learner/learner.h"
#include "model/decoder.h"
#include "trainer/config.h"

namespace iranker {

// The initial policy directory: model.path, or <run>/init written from the preset once
// (`on_file`, may be empty, is called after each weights file written).
std::string PrepareInitDir(const Config& config, const std::string& run_dir,
                           const std::function<void()>& on_file = {});

struct ResumePoint {
  std::string checkpoint;  // "" = fresh start
  int64_t step = 0;
};
// The newest complete checkpoint of the run; throws when it was written with another run.seed.
ResumePoint ReadResumePoint(const std::string& run_dir, uint64_t seed);
// Restores the newest complete checkpoint of the run (weights and learner state), if any, and
// says so when `announce`. Returns where training continues.
ResumePoint ResumeFromCheckpoint(const std::string& run_dir, uint64_t seed, DecoderLM& model,
                                 Learner& learner, bool announce);

// Whether train.* asks for a checkpoint after `step` steps (the last step always).
bool CheckpointDue(const TrainOptions& train, int64_t step);

// Where the learner ranks other than 0 leave their shares of a sharded optimizer state for the
// checkpoint of `step` (learner.sharding; Learner::SaveShard), before rank 0 writes it.
std::string ShardStagingDir(const std::string& run_dir, int64_t step);

// Writes <run>/checkpoints/step-N atomically (temporary directory + rename) and prunes old ones;
// the shares staged for step N (ShardStagingDir) move into it. `on_file` (may be empty) is called
// after each file written (ProgressLease::Beat).
void SaveCheckpoint(const std::string& run_dir, int64_t step, DecoderLM& policy,
                    const Learner& learner, const std::string& tokenizer_dir, int64_t cursor,
                    uint64_t seed, int keep, const std::function<void()>& on_file = {});

}  // namespace iranker
