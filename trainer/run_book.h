// trainer/run_book.h — what learner rank 0 does around the training loop, the same in every
// trainer (distributed, --local, replay): the initial, periodic and final evaluations, the metrics
// line (metrics.jsonl and TensorBoard), the progress line and the checkpoints.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cluster/progress_lease.h"
#include "learner/learner.h"
#include "trainer/config.h"
#include "trainer/evaluation.h"
#include "trainer/progress.h"
#include "trainer/run_dir.h"
#include "trainer/train_result.h"

namespace iranker {

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
  EvalReport Evaluate(const std::vector<Dataset>& sets, const std::string& what);

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
};

// The metrics.jsonl record of an evaluation after `step` steps.
nlohmann::json EvalJson(int64_t step, const EvalReport& r);

}  // namespace iranker
