#include "trainer/run_dir.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>

#include "base/error.h"
#include "base/version.h"
#include "trainer/config_io.h"

namespace iranker {
namespace fs = std::filesystem;

std::string CheckpointDir(const std::string& run_dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "step-%08lld", static_cast<long long>(step));
  return run_dir + "/checkpoints/" + name;
}

namespace {
std::vector<std::string> Complete(const std::string& run_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir + "/checkpoints", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("step-", 0) == 0 && name.find(".tmp") == std::string::npos &&
        fs::exists(e.path() / "trainer_state.json"))
      out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

std::string LatestCheckpoint(const std::string& run_dir) {
  auto all = Complete(run_dir);
  return all.empty() ? "" : all.back();
}

void PruneCheckpoints(const std::string& run_dir, int keep) {
  auto all = Complete(run_dir);
  for (size_t i = 0; i + keep < all.size(); ++i) fs::remove_all(all[i]);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir + "/checkpoints", ec))
    if (e.path().filename().string().find(".tmp") != std::string::npos) fs::remove_all(e.path());
}

MetricsLog::MetricsLog(const std::string& path, const std::string& tensorboard_dir) : path_(path) {
  f_ = std::fopen(path.c_str(), "a");
  if (!f_)
    Fail(ErrorCode::kFailedPrecondition, "cannot open '", path,
         "' for appending: ", std::strerror(errno));
  if (!tensorboard_dir.empty()) events_ = std::make_unique<TfEventsWriter>(tensorboard_dir);
}

MetricsLog::~MetricsLog() {
  if (f_) std::fclose(f_);
}

void MetricsLog::Write(const nlohmann::json& record) {
  std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0)
    Fail(ErrorCode::kResourceExhausted, "cannot write to '", path_, "': ", std::strerror(errno));
  if (!events_ || !record.contains("step") || !record["step"].is_number_integer()) return;
  const std::string prefix = record.value("type", std::string("metrics")) + "/";
  std::vector<std::pair<std::string, double>> scalars;
  for (const auto& [k, v] : record.items())
    if (k != "step" && (v.is_number() || v.is_boolean()))
      scalars.emplace_back(prefix + k,
                           v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>());
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (!scalars.empty()) events_->AddScalars(record["step"].get<int64_t>(), scalars, now);
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

}  // namespace iranker
