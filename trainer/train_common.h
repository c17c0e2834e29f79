// trainer/train_common.h — pieces shared by the single-process trainer (local_trainer.cc) and the
// distributed roles (distributed_trainer.cc), so that both make the same decisions:
//
//   * which queries step s uses: QueryStream, a fresh permutation of the training set per epoch
//     derived from run.seed; step s consumes queries [s*Q, (s+1)*Q) of that stream
//     (Q = actor.queries_per_batch), so the step number alone fixes the position (exact resume);
//   * which of them actor a rolls out: every A-th one starting at a (ActorShare), with the seed
//     DeriveSeed(DeriveSeed(run.seed, s), a) — a local run with train.actors = A and a distributed
//     one with A actor processes generate the same trajectories from the same weights;
//   * how the learner orders what it receives: batches sorted by actor id (SamplesFromBatches);
//   * the checkpoint layout and trainer_state.json (SaveCheckpoint / ReadResumePoint);
//   * what the lead learner does around each optimizer step: the initial, periodic and final
//     evaluations, the metrics line, the progress line and checkpoints (RunBook).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actor/rollout.h"
#include "cluster/progress_lease.h"
#include "comm/trajectory.h"
#include "learner/learner.h"
#include "trainer/config.h"
#include "trainer/evaluation.h"
#include "trainer/progress.h"
#include "trainer/run_dir.h"
#include "trajlog/trajlog.h"

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

class QueryStream {
 public:
  QueryStream(size_t n, uint64_t seed);
  size_t At(int64_t cursor);

 private:
  size_t n_;
  uint64_t seed_;
  int64_t epoch_ = -1;
  std::vector<size_t> perm_;
};

std::vector<QueryRecord> LoadTrainRecords(const DataOptions& data);

// The queries of `step` that actor `actor` of `actors` rolls out, and its seed.
std::vector<const QueryRecord*> ActorQueries(const std::vector<QueryRecord>& train,
                                             QueryStream& stream, int64_t step,
                                             int queries_per_batch, int actor, int actors);
uint64_t ActorSeed(uint64_t run_seed, int64_t step, int actor);

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

// Writes <run>/checkpoints/step-N atomically (temporary directory + rename) and prunes old ones.
// `on_file` (may be empty) is called after each file written (ProgressLease::Beat).
void SaveCheckpoint(const std::string& run_dir, int64_t step, DecoderLM& policy,
                    const Learner& learner, const std::string& tokenizer_dir, int64_t cursor,
                    uint64_t seed, int keep, const std::function<void()>& on_file = {});

// The learner's training samples from one step's batches, in actor-id order. Also fills the
// rollout figures of the step (valid_format, episode_mrr, trajectories).
std::vector<TrainSample> SamplesFromBatches(std::vector<TrajectoryBatch>& batches,
                                            nlohmann::json* rec);

nlohmann::json EvalJson(int64_t step, const EvalReport& r);

// The HDF5 trajectory log of this learner rank (nullptr when trajlog.enabled is false). A resumed
// run writes a new file (<stem>.resume-<step>.h5) so nothing already logged is overwritten.
std::unique_ptr<TrajectoryLogWriter> OpenTrajectoryLog(const Config& config,
                                                       const std::string& run_dir, int learner_rank,
                                                       int64_t start_step,
                                                       const std::string& model_json);
// Every trajectory log file of a run directory, oldest first.
std::vector<std::string> TrajectoryLogFiles(const std::string& run_dir,
                                            const TrajlogOptions& options);

// The lead learner's bookkeeping around the training loop, the same in every trainer (local,
// distributed, replay): evaluations, metrics.jsonl, the progress line and checkpoints.
class RunBook {
 public:
  // `model` and `learner` are the ones being trained; `init_dir` supplies the tokenizer files
  // copied into checkpoints. Loads the test sets and opens <run>/metrics.jsonl. With a `lease`
  // (learner ranks under MPI), evaluations and checkpoints are phases of it, beating per
  // generated answer and per file written, so peer ranks waiting meanwhile do not time out.
  RunBook(const Config& config, const std::string& run_dir, const std::string& init_dir,
          DecoderLM& model, const Tokenizer& tokenizer, const Learner& learner, int64_t start_step,
          TrainResult* result, ProgressLease* lease = nullptr);
  ~RunBook();

  // At step 0: evaluates the initial policy on the full test sets (result->initial) and prints it.
  void EvaluateInitial();
  // Starts the progress line and the elapsed-time clock (after the initial evaluation).
  void BeginTraining();
  // After the optimizer step that made `step` steps done: the periodic evaluation when due, the
  // metrics line `rec` (+ eval_mrr, elapsed_s), the progress line, and the checkpoint when due.
  void EndStep(int64_t step, nlohmann::json rec);
  // Writes the checkpoint of `step` now (a stop signal).
  void Checkpoint(int64_t step);
  // Ends the progress line; unless interrupted, evaluates the final policy (result->final) and
  // fills result->final_checkpoint and the trajectory log files.
  void Finish(int64_t step, bool interrupted);

 private:
  const Config& config_;
  std::string run_dir_, init_dir_;
  DecoderLM& model_;
  const Tokenizer& tokenizer_;
  const Learner& learner_;
  TrainResult* result_;
  PromptSet prompts_;
  std::vector<Dataset> test_full_, test_periodic_;
  std::unique_ptr<MetricsLog> metrics_;
  std::unique_ptr<Progress> progress_;
  int64_t start_step_;
  ProgressLease* lease_;
  std::chrono::steady_clock::time_point start_;
  double last_eval_mrr_ = -1;
  EvalReport Evaluate(const std::vector<Dataset>& sets, const std::string& what);
};

}  // namespace iranker
