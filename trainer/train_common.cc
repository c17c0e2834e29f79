#include "trainer/train_common.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <random>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/log.h"
#include "base/version.h"
#include "model/checkpoint.h"
#include "trainer/config_io.h"
#include "trainer/policy_setup.h"
#include "trainer/run_dir.h"

namespace iranker {
namespace fs = std::filesystem;

QueryStream::QueryStream(size_t n, uint64_t seed) : n_(n), seed_(seed) { IR_CHECK_GT(n, 0u); }

size_t QueryStream::At(int64_t cursor) {
  const int64_t epoch = cursor / static_cast<int64_t>(n_);
  if (epoch != epoch_) {
    perm_.resize(n_);
    std::iota(perm_.begin(), perm_.end(), 0);
    std::mt19937_64 rng(DeriveSeed(seed_, 0xE90C + epoch));
    std::shuffle(perm_.begin(), perm_.end(), rng);
    epoch_ = epoch;
  }
  return perm_[cursor % n_];
}

std::vector<QueryRecord> LoadTrainRecords(const DataOptions& data) {
  std::vector<QueryRecord> all;
  for (const auto& path : data.train) {
    auto recs = ReadJsonl(path, data.policy(), data.max_bad_lines);
    for (auto& r : recs) all.push_back(std::move(r));
  }
  if (all.empty()) {
    std::string files;
    for (const auto& path : data.train) files += (files.empty() ? "" : ", ") + path;
    Fail(ErrorCode::kInvalidArgument, "data.train: no training records in ",
         files.empty() ? "(no files)" : files, " (empty, or every line skipped as bad)");
  }
  return all;
}

std::vector<const QueryRecord*> ActorQueries(const std::vector<QueryRecord>& train,
                                             QueryStream& stream, int64_t step,
                                             int queries_per_batch, int actor, int actors) {
  std::vector<const QueryRecord*> out;
  const int64_t base = step * queries_per_batch;
  for (int q = actor; q < queries_per_batch; q += actors)
    out.push_back(&train[stream.At(base + q)]);
  return out;
}

uint64_t ActorSeed(uint64_t run_seed, int64_t step, int actor) {
  return DeriveSeed(DeriveSeed(run_seed, step), actor);
}

std::string PrepareInitDir(const Config& config, const std::string& run_dir,
                           const std::function<void()>& on_file) {
  if (!config.model.path.empty()) return config.model.path;
  const std::string init_dir = run_dir + "/init";
  if (!fs::exists(init_dir + "/config.json")) {
    // Written under a temporary name and renamed, so a crash never leaves a half-written init.
    const std::string tmp = init_dir + ".tmp-" + std::to_string(::getpid());
    fs::remove_all(tmp);
    InitModelDirectory(config.model.preset, config.model.tokenizer, config.run.seed,
                       config.model.dtype, tmp, on_file);
    fs::remove_all(init_dir);
    CommitDirectory(tmp, init_dir);
  }
  return init_dir;
}

ResumePoint ReadResumePoint(const std::string& run_dir, uint64_t seed) {
  ResumePoint r;
  r.checkpoint = LatestCheckpoint(run_dir);
  if (r.checkpoint.empty()) return r;
  const std::string state_file = r.checkpoint + "/trainer_state.json";
  nlohmann::json st;
  try {
    st = nlohmann::json::parse(ReadFile(state_file));
    if (st.at("seed").get<uint64_t>() != seed)
      Fail(ErrorCode::kFailedPrecondition, r.checkpoint, " was written with run.seed ",
           st.at("seed").get<uint64_t>(), ", this run has ", seed,
           "; use another run.name or the same seed");
    r.step = st.at("step").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    Fail(ErrorCode::kInvalidArgument, state_file, ": ", e.what());
  }
  return r;
}

ResumePoint ResumeFromCheckpoint(const std::string& run_dir, uint64_t seed, DecoderLM& model,
                                 Learner& learner, bool announce) {
  const ResumePoint resume = ReadResumePoint(run_dir, seed);
  if (!resume.checkpoint.empty()) {
    LoadWeightsInto(model, resume.checkpoint);
    learner.LoadState(resume.checkpoint);
    if (announce) IR_LOG_INFO("resuming from {} (step {})", resume.checkpoint, resume.step);
  }
  return resume;
}

void SaveCheckpoint(const std::string& run_dir, int64_t step, DecoderLM& policy,
                    const Learner& learner, const std::string& tokenizer_dir, int64_t cursor,
                    uint64_t seed, int keep, const std::function<void()>& on_file) {
  auto wrote = [&] {
    if (on_file) on_file();
  };
  const std::string final_dir = CheckpointDir(run_dir, step);
  if (fs::exists(final_dir)) return;  // already written (e.g. a resumed run at the same step)
  const std::string tmp = final_dir + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp);
  MakeDirs(tmp);
  try {
    SaveModel(policy, tmp, /*max_shard_bytes=*/2LL << 30, on_file);
    CopyTokenizerFiles(tokenizer_dir, tmp);
    wrote();
    learner.SaveState(tmp);
    wrote();
    nlohmann::json st = {{"step", step},
                         {"query_cursor", cursor},
                         {"seed", seed},
                         {"policy_version", learner.version()}};
    WriteFileAtomic(tmp + "/trainer_state.json", st.dump(2) + "\n");
    CommitDirectory(tmp, final_dir);
  } catch (...) {
    // A full disk or any other failure: the partial directory goes (it would only hold space a
    // rerun needs); the previous checkpoints are untouched and the error names the failed file.
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  PruneCheckpoints(run_dir, keep);
}

std::vector<TrainSample> SamplesFromBatches(std::vector<TrajectoryBatch>& batches,
                                            nlohmann::json* rec) {
  std::stable_sort(
      batches.begin(), batches.end(),
      [](const TrajectoryBatch& a, const TrajectoryBatch& b) { return a.actor_id < b.actor_id; });
  std::vector<TrainSample> samples;
  double valid = 0, episode_mrr = 0;
  int64_t episodes = 0;
  for (auto& batch : batches) {
    for (auto& s : batch.steps) {
      valid += s.valid_format;
      TrainSample t;
      t.prompt = std::move(s.prompt_ids);
      t.response = std::move(s.response_ids);
      t.behaviour_logprobs = std::move(s.logprobs);
      t.reward = s.reward;
      t.group = s.group_id;
      t.episode = s.episode_id;
      t.step_index = s.step;
      t.policy_version = s.policy_version;
      samples.push_back(std::move(t));
    }
    for (const auto& e : batch.episodes) episode_mrr += e.mrr;
    episodes += batch.episodes.size();
  }
  if (rec) {
    (*rec)["valid_format"] = samples.empty() ? 0 : valid / samples.size();
    (*rec)["episode_mrr"] = episodes ? episode_mrr / episodes : 0;
    (*rec)["trajectories"] = samples.size();
  }
  return samples;
}

nlohmann::json EvalJson(int64_t step, const EvalReport& r) {
  return {{"type", "eval"},
          {"step", step},
          {"rows", EvalReportJson(r)},
          {"mrr", r.MeanOf("policy", "mrr")},
          {"ndcg@10", r.MeanOf("policy", "ndcg@10")},
          {"hit@1", r.MeanOf("policy", "hit@1")}};
}

namespace {
std::string UtcNow() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

std::string LogStem(const TrajlogOptions& o) {
  std::string f = o.file;
  if (f.size() > 3 && f.compare(f.size() - 3, 3, ".h5") == 0) f.resize(f.size() - 3);
  return f;
}
}  // namespace

std::unique_ptr<TrajectoryLogWriter> OpenTrajectoryLog(const Config& config,
                                                       const std::string& run_dir, int learner_rank,
                                                       int64_t start_step,
                                                       const std::string& model_json) {
  if (!config.trajlog.enabled) return nullptr;
  std::string name = LogStem(config.trajlog);
  if (learner_rank > 0) name += ".rank-" + std::to_string(learner_rank);
  if (start_step > 0) name += ".resume-" + std::to_string(start_step);
  const std::string path = run_dir + "/" + name + ".h5";
  std::map<std::string, std::string> attrs = {
      {"config", ConfigToYaml(config)},           {"model", model_json},
      {"code_version", IRANKER_VERSION},          {"learner_rank", std::to_string(learner_rank)},
      {"start_step", std::to_string(start_step)}, {"start_time", UtcNow()}};
  return std::make_unique<TrajectoryLogWriter>(path, config.trajlog, attrs);
}

std::vector<std::string> TrajectoryLogFiles(const std::string& run_dir,
                                            const TrajlogOptions& options) {
  std::vector<std::string> files;
  const std::string stem = LogStem(options);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(stem, 0) == 0 && n.size() > 3 && n.compare(n.size() - 3, 3, ".h5") == 0)
      files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
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
  if ((t.checkpoint_every > 0 && step % t.checkpoint_every == 0) || step == t.steps)
    Checkpoint(step);
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
