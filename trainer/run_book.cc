#include "trainer/run_book.h"

#include <iostream>

#include "trainer/checkpoints.h"

namespace iranker {

nlohmann::json EvalJson(int64_t step, const EvalReport& r) {
  return {{"type", "eval"},
          {"step", step},
          {"rows", EvalReportJson(r)},
          {"mrr", r.MeanOf("policy", "mrr")},
          {"ndcg@10", r.MeanOf("policy", "ndcg@10")},
          {"hit@1", r.MeanOf("policy", "hit@1")}};
}

RunBook::RunBook(const Config& config, const std::string& run_dir, const std::string& init_dir,
                 DecoderLM& model, const Tokenizer& tokenizer, const Learner& learner,
                 int64_t start_step, TrainResult* result, ProgressLease* lease)
    : config_(config),
      run_dir_(run_dir),
      init_dir_(init_dir),
      model_(model),
      tokenizer_(tokenizer),
      learner_(learner),
      result_(result),
      prompts_(config.prompt),
      test_full_(LoadTestSets(config.data, 0)),
      test_periodic_(LoadTestSets(config.data, config.train.eval_queries)),
      metrics_(std::make_unique<MetricsLog>(run_dir + "/metrics.jsonl",
                                            config.train.tensorboard ? run_dir : "")),
      start_step_(start_step),
      lease_(lease) {}

RunBook::~RunBook() = default;

EvalReport RunBook::Evaluate(const std::vector<Dataset>& sets, const std::string& what) {
  ProgressLease::Phase phase(lease_, what);
  return iranker::Evaluate(model_, tokenizer_, prompts_, config_.actor, config_.reward.match, sets,
                           EvaluationSeed(config_.run.seed), /*baselines=*/true,
                           ProgressLease::BeatOf(lease_));
}

void RunBook::EvaluateInitial() {
  result_->initial = Evaluate(test_full_, "evaluation of the initial policy");
  result_->has_initial = true;
  last_eval_mrr_ = result_->initial.MeanOf("policy", "mrr");
  metrics_->Write(EvalJson(0, result_->initial));
  std::cerr << "initial policy on held-out data:\n" << FormatEvalTable(result_->initial);
}

void RunBook::BeginTraining() {
  progress_ = std::make_unique<Progress>(config_.train.steps, start_step_);
  start_ = std::chrono::steady_clock::now();
}

void RunBook::EndStep(int64_t step, nlohmann::json rec) {
  if (!progress_) BeginTraining();
  const TrainOptions& t = config_.train;
  if (t.eval_every > 0 && step % t.eval_every == 0 && step < t.steps) {
    auto r = Evaluate(test_periodic_, "evaluation at step " + std::to_string(step));
    last_eval_mrr_ = r.MeanOf("policy", "mrr");
    metrics_->Write(EvalJson(step, r));
  }
  if (last_eval_mrr_ >= 0) rec["eval_mrr"] = last_eval_mrr_;
  rec["elapsed_s"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  metrics_->Write(rec);
  progress_->Update(step, rec);
  if (CheckpointDue(t, step)) Checkpoint(step);
}

void RunBook::Checkpoint(int64_t step) {
  ProgressLease::Phase phase(lease_, "checkpoint of step " + std::to_string(step));
  SaveCheckpoint(run_dir_, step, model_, learner_, init_dir_,
                 step * config_.actor.queries_per_batch, config_.run.seed,
                 config_.train.keep_checkpoints, ProgressLease::BeatOf(lease_));
}

void RunBook::Finish(int64_t step, bool interrupted) {
  if (progress_) progress_->Finish();
  if (interrupted) return;
  result_->trajlog_files = TrajectoryLogFiles(run_dir_, config_.trajlog);
  result_->final_checkpoint = CheckpointDir(run_dir_, config_.train.steps);
  result_->final = Evaluate(test_full_, "evaluation of the final policy");
  metrics_->Write(EvalJson(step, result_->final));
}

}  // namespace iranker
