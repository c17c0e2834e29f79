#include "bench/bench.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "base/error.h"

#ifndef IRANKER_SOURCE_DIR
#define IRANKER_SOURCE_DIR "."
#endif

namespace iranker::bench {

std::string BenchArgs::Param(const std::string& name, const std::string& fallback) const {
  for (const auto& p : params) {
    auto eq = p.find('=');
    if (eq != std::string::npos && p.substr(0, eq) == name) return p.substr(eq + 1);
  }
  return fallback;
}

double Median(std::vector<double> xs) {
  IR_CHECK(!xs.empty());
  std::sort(xs.begin(), xs.end());
  size_t n = xs.size();
  return n % 2 ? xs[n / 2] : 0.5 * (xs[n / 2 - 1] + xs[n / 2]);
}

void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

double PeakRssMb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  return 0;
}

double MedianSeconds(const std::function<void()>& fn, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> t;
  for (int i = 0; i < std::max(1, repeats); ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return Median(t);
}

std::string ReferenceScriptDir() {
  if (const char* s = std::getenv("IRANKER_SOURCE_DIR")) return std::string(s) + "/bench/reference";
  return std::string(IRANKER_SOURCE_DIR) + "/bench/reference";
}

std::string RunPythonReference(const std::string& script, const std::vector<std::string>& args) {
  std::string path = ReferenceScriptDir() + "/" + script;
  if (!std::filesystem::exists(path))
    Fail(ErrorCode::kNotFound, "reference script '", path, "' not found (set IRANKER_SOURCE_DIR)");
  std::string cmd = "/usr/bin/python3 '" + path + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) Fail(ErrorCode::kInternal, "cannot run ", cmd);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int rc = ::pclose(p);
  if (rc != 0)
    Fail(ErrorCode::kInternal, "reference '", script, "' failed (exit ", rc,
         "); is python3-torch installed? run scripts/setup.sh");
  return out;
}

nlohmann::json ToJson(const std::string& name, const BenchResult& r) {
  nlohmann::json j = {
      {"bench", name},   {"value", r.value},         {"value_name", r.value_name},
      {"unit", r.unit},  {"reference", r.reference}, {"reference_value", r.reference_value},
      {"ratio", r.ratio}};
  for (auto it = r.extra.begin(); it != r.extra.end(); ++it) j[it.key()] = it.value();
  return j;
}

}  // namespace iranker::bench
