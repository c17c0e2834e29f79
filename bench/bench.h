// bench/bench.h — the benchmark frame behind `iranker bench NAME [--json]`.
//
// A benchmark measures real work and a reference doing the same work in the same run, and reports
// `ratio` oriented so that higher is better for iranker (value/reference for throughputs,
// reference/value for times). Timings are medians over repeats, warm-up excluded.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace iranker::bench {

struct BenchArgs {
  int repeats = 5;                  // timed repeats (median reported)
  int warmup = 1;                   // untimed repeats before
  int threads = 0;                  // torch threads; 0 = all cores
  bool quick = false;               // smaller sizes, for smoke tests
  std::vector<std::string> params;  // NAME=VALUE extras a benchmark may read
  std::string Param(const std::string& name, const std::string& fallback) const;
};

struct BenchResult {
  std::string value_name;  // what `value` measures, e.g. "fp32 matmul GFLOP/s"
  double value = 0;
  std::string unit;
  std::string reference;  // what the reference is
  double reference_value = 0;
  double ratio = 0;                                 // higher is better
  nlohmann::json extra = nlohmann::json::object();  // further figures, definitions
};

struct Benchmark {
  std::string name;
  std::string description;
  std::function<BenchResult(const BenchArgs&)> run;
};

// All benchmarks, in the order `iranker bench --list` shows them.
const std::vector<Benchmark>& AllBenchmarks();

// Median of per-repeat timings in seconds: calls fn() warmup times untimed, then repeats times.
double MedianSeconds(const std::function<void()>& fn, int warmup, int repeats);

// The process's peak resident set in MB (VmHWM), and its reset (writing 5 to clear_refs; Linux).
void ResetPeakRss();
double PeakRssMb();
double Median(std::vector<double> xs);

// CPU time and page faults of a process (getrusage / wait4).
struct ProcessUsage {
  double user_s = 0, sys_s = 0;
  int64_t minor_faults = 0, major_faults = 0;
  int64_t processes = 0;  // how many processes these figures sum (reference processes)
  nlohmann::json ToJson() const;
  ProcessUsage& operator+=(const ProcessUsage& o);
  ProcessUsage operator-(const ProcessUsage& o) const;
};
// This process so far (ours, and any reference a benchmark runs in-process).
ProcessUsage SelfUsage();
// Every reference process run so far by RunReferenceProcess, summed.
ProcessUsage ReferenceProcessesUsage();

// Reference processes run under this process's allocator policy (base/malloc_policy.h) by
// default, so a ratio compares engines, not allocators; SetReferenceAllocator(false) (`iranker
// bench -p reference_allocator=default`) gives them glibc's defaults instead (labelled so).
void SetReferenceAllocator(bool same_as_ours);
std::string ReferenceAllocatorDescription();

// Runs argv (argv[0] found on PATH) as a reference process: stdout captured and returned, stderr
// passed through, the allocator policy above, its CPU time and page faults added to
// ReferenceProcessesUsage(). Throws Error with `hint` when it cannot start or fails. Not
// thread-safe: a benchmark runs its references one at a time.
std::string RunReferenceProcess(const std::vector<std::string>& argv, const std::string& hint);

// The /usr/bin/python3 interpreter with Debian's python3-torch/numpy; used by references.
// Runs `script` with args (RunReferenceProcess) and returns its stdout; throws Error naming the
// script on failure.
std::string RunPythonReference(const std::string& script, const std::vector<std::string>& args);

// Directory holding the reference scripts (bench/reference/ in the source tree, or next to the
// installed binary); IRANKER_SOURCE_DIR overrides.
std::string ReferenceScriptDir();

nlohmann::json ToJson(const std::string& name, const BenchResult& r);

}  // namespace iranker::bench
