#include "trainer/run_dir.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "base/error.h"

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

}  // namespace iranker
