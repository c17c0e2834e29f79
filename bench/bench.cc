#include "bench/bench.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "base/malloc_policy.h"

extern char** environ;

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

nlohmann::json ProcessUsage::ToJson() const {
  return {{"user_s", user_s},
          {"sys_s", sys_s},
          {"minor_faults", minor_faults},
          {"major_faults", major_faults}};
}

ProcessUsage& ProcessUsage::operator+=(const ProcessUsage& o) {
  user_s += o.user_s;
  sys_s += o.sys_s;
  minor_faults += o.minor_faults;
  major_faults += o.major_faults;
  processes += o.processes;
  return *this;
}

ProcessUsage ProcessUsage::operator-(const ProcessUsage& o) const {
  ProcessUsage d = *this;
  d.user_s -= o.user_s;
  d.sys_s -= o.sys_s;
  d.minor_faults -= o.minor_faults;
  d.major_faults -= o.major_faults;
  d.processes -= o.processes;
  return d;
}

namespace {
ProcessUsage FromRusage(const struct rusage& r) {
  ProcessUsage u;
  u.user_s = r.ru_utime.tv_sec + r.ru_utime.tv_usec * 1e-6;
  u.sys_s = r.ru_stime.tv_sec + r.ru_stime.tv_usec * 1e-6;
  u.minor_faults = r.ru_minflt;
  u.major_faults = r.ru_majflt;
  return u;
}

// Benchmarks run their references one at a time from the benchmark's own thread.
ProcessUsage reference_usage;
bool reference_same_allocator = true;
}  // namespace

ProcessUsage SelfUsage() {
  struct rusage r {};
  ::getrusage(RUSAGE_SELF, &r);
  return FromRusage(r);
}

ProcessUsage ReferenceProcessesUsage() { return reference_usage; }

void SetReferenceAllocator(bool same_as_ours) { reference_same_allocator = same_as_ours; }

std::string ReferenceAllocatorDescription() {
  return reference_same_allocator
             ? "GLIBC_TUNABLES=" + GlibcTunablesForChildren() + " (the same policy as this process)"
             : "glibc defaults (GLIBC_TUNABLES unset: NOT the same as ours)";
}

std::string RunReferenceProcess(const std::vector<std::string>& argv, const std::string& hint) {
  IR_CHECK(!argv.empty());
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "GLIBC_TUNABLES=", 15) != 0) env.emplace_back(*e);
  if (reference_same_allocator) env.push_back("GLIBC_TUNABLES=" + GlibcTunablesForChildren());
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    Fail(ErrorCode::kInternal, "cannot make a pipe for ", cmd, ": ", std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    Fail(ErrorCode::kUnavailable, "cannot run ", cmd, ": ", std::strerror(rc), "; ", hint);
  }
  std::string out;
  std::array<char, 4096> buf;
  for (ssize_t n; (n = ::read(fds[0], buf.data(), buf.size())) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buf.data(), static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  struct rusage ru {};
  while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  ProcessUsage child = FromRusage(ru);
  child.processes = 1;
  reference_usage += child;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    Fail(ErrorCode::kUnavailable, "reference failed (",
         WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                           : "signal " + std::to_string(WTERMSIG(status)),
         "): ", cmd, "; ", hint);
  return out;
}

std::string RunPythonReference(const std::string& script, const std::vector<std::string>& args) {
  std::string path = ReferenceScriptDir() + "/" + script;
  if (!std::filesystem::exists(path))
    Fail(ErrorCode::kNotFound, "reference script '", path, "' not found (set IRANKER_SOURCE_DIR)");
  std::vector<std::string> argv = {"/usr/bin/python3", path};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunReferenceProcess(argv, "is python3-torch installed? run scripts/setup.sh");
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
