// `iranker bench NAME [--json]`: run one benchmark; with --json the last line is its JSON record.
#include <torch/torch.h>

#include <iomanip>
#include <iostream>

#include "base/error.h"
#include "bench/bench.h"
#include "cli/commands.h"
#include "cli/process_setup.h"

namespace iranker {

void AddBenchCommand(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("bench", "Run a benchmark against a reference measured in the same run");
  struct Opts {
    std::string name;
    bool json = false, list = false;
    bench::BenchArgs args;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("name", o->name, "Benchmark name (see --list)");
  cmd->add_flag("--json", o->json, "End the output with one JSON line");
  cmd->add_flag("--list", o->list, "List the benchmarks");
  cmd->add_option("--repeats", o->args.repeats, "Timed repeats (median reported)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--warmup", o->args.warmup, "Untimed warm-up repeats")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", o->args.threads, "Torch threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--quick", o->args.quick, "Small sizes (smoke test)");
  cmd->add_option("-p,--param", o->args.params, "NAME=VALUE parameters for the benchmark");
  cmd->callback([o] {
    const auto& all = bench::AllBenchmarks();
    if (o->list || o->name.empty()) {
      for (const auto& b : all)
        std::cout << std::left << std::setw(12) << b.name << b.description << "\n";
      return;
    }
    const bench::Benchmark* found = nullptr;
    for (const auto& b : all)
      if (b.name == o->name) found = &b;
    if (!found) {
      std::string names;
      for (const auto& b : all) names += (names.empty() ? "" : ", ") + b.name;
      Fail(ErrorCode::kInvalidArgument, "no benchmark named '", o->name, "' (available: ", names,
           ")");
    }
    o->args.threads = ConfigureThreads(o->args.threads);
    const std::string ref_alloc = o->args.Param("reference_allocator", "same");
    if (ref_alloc != "same" && ref_alloc != "default")
      Fail(ErrorCode::kInvalidArgument, "bench: reference_allocator must be same or default, not '",
           ref_alloc, "'");
    bench::SetReferenceAllocator(ref_alloc == "same");
    const bench::ProcessUsage self0 = bench::SelfUsage();
    bench::BenchResult r = found->run(o->args);
    // Each side's CPU time and page faults, so that a handicapped side shows at a glance.
    const bench::ProcessUsage self = bench::SelfUsage() - self0;
    const bench::ProcessUsage refs = bench::ReferenceProcessesUsage();
    r.extra["usage"] = {
        {"this_process", self.ToJson()},
        {"this_process_allocator", AllocatorPolicyDescription()},
        {"reference_processes", refs.ToJson()},
        {"reference_allocator",
         refs.processes > 0 ? nlohmann::json(bench::ReferenceAllocatorDescription())
                            : nlohmann::json("none run (the reference is in this process)")},
        {"threads", o->args.threads}};
    std::cout << found->name << ": " << r.value_name << " = " << r.value << " " << r.unit << "\n"
              << "  reference (" << r.reference << ") = " << r.reference_value << " " << r.unit
              << "\n"
              << "  ratio = " << r.ratio << " (higher is better)\n"
              << "  this process: " << self.user_s << " s user, " << self.sys_s << " s system, "
              << self.minor_faults << " minor faults; reference processes: " << refs.user_s
              << " s user, " << refs.sys_s << " s system, " << refs.minor_faults
              << " minor faults\n";
    if (o->json) std::cout << bench::ToJson(found->name, r).dump() << std::endl;
  });
}

}  // namespace iranker
