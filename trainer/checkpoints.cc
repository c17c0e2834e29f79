#include "trainer/checkpoints.h"

#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/log.h"
#include "model/checkpoint.h"
#include "model/policy.h"
#include "trainer/run_dir.h"

namespace iranker {
namespace fs = std::filesystem;

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

bool CheckpointDue(const TrainOptions& train, int64_t step) {
  return (train.checkpoint_every > 0 && step % train.checkpoint_every == 0) || step == train.steps;
}

std::string ShardStagingDir(const std::string& run_dir, int64_t step) {
  char name[40];
  std::snprintf(name, sizeof name, ".shards-step-%08lld", static_cast<long long>(step));
  return run_dir + "/checkpoints/" + name;
}

void SaveCheckpoint(const std::string& run_dir, int64_t step, DecoderLM& policy,
                    const Learner& learner, const std::string& tokenizer_dir, int64_t cursor,
                    uint64_t seed, int keep, const std::function<void()>& on_file) {
  auto wrote = [&] {
    if (on_file) on_file();
  };
  const std::string final_dir = CheckpointDir(run_dir, step);
  if (fs::exists(final_dir)) {  // already written (e.g. a resumed run at the same step)
    std::error_code ec;
    fs::remove_all(ShardStagingDir(run_dir, step), ec);
    return;
  }
  const std::string tmp = final_dir + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp);
  MakeDirs(tmp);
  try {
    SaveModel(policy, tmp, /*max_shard_bytes=*/2LL << 30, on_file);
    CopyTokenizerFiles(tokenizer_dir, tmp);
    wrote();
    const std::string staged = ShardStagingDir(run_dir, step);
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(staged, ec))
      fs::rename(e.path(), tmp + "/" + e.path().filename().string());
    learner.SaveState(tmp);
    wrote();
    nlohmann::json st = {{"step", step},
                         {"query_cursor", cursor},
                         {"seed", seed},
                         {"policy_version", learner.version()}};
    WriteFileAtomic(tmp + "/trainer_state.json", st.dump(2) + "\n");
    CommitDirectory(tmp, final_dir);
    fs::remove_all(ShardStagingDir(run_dir, step), ec);
  } catch (...) {
    // A full disk or any other failure: the partial directory goes (it would only hold space a
    // rerun needs); the previous checkpoints are untouched and the error names the failed file.
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  PruneCheckpoints(run_dir, keep);
}

}  // namespace iranker
