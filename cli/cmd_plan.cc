// `iranker plan -c CONFIG [--learners N] [--device-memory 80GiB] [--json] [overrides]`: the
// memory of every learner rank and actor of a run, by component, from its configuration alone
// (trainer/memory_plan.h), and whether it fits one device; if not, the smallest change that does.
// Exit status 0 when it fits (or no device size applies), 3 when it does not.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "trainer/config_io.h"
#include "trainer/memory_plan.h"

namespace iranker {
namespace {

// The host's physical memory (MemTotal), the device of a CPU run.
int64_t HostMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  long long kb = 0;
  while (std::getline(in, line))
    if (std::sscanf(line.c_str(), "MemTotal: %lld kB", &kb) == 1) return kb * 1024;
  return 0;
}

}  // namespace

void AddPlanCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "plan", "Memory per learner rank and actor from a config; whether it fits a device");
  struct Opts {
    std::string file;
    std::vector<std::string> overrides;
    int learners = 0;
    std::string device_memory;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-c,--config", o->file, "YAML config file")->required();
  cmd->add_option("overrides", o->overrides, "key.path=value overrides");
  cmd->add_option("--learners", o->learners,
                  "Data-parallel learner ranks (default: cluster.learners)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--device-memory", o->device_memory,
                  "Memory of one device, e.g. 80GiB (default: 80GiB for model.device cuda; for "
                  "cpu the host's memory, which all processes of the run share)");
  cmd->add_flag("--json", o->json, "Print the plan as one JSON object");
  cmd->callback([o] {
    const Config config = LoadConfig(o->file, o->overrides);
    const int learners = o->learners > 0 ? o->learners : config.cluster.learners;
    int64_t device = 0;
    if (!o->device_memory.empty())
      device = ParseByteSize(o->device_memory, "--device-memory");
    else
      device = config.model.device == "cuda" ? (80LL << 30) : HostMemoryBytes();
    const MemoryPlan plan = PlanMemory(config, PlannedModel(config), learners, device);
    if (o->json) {
      nlohmann::json procs = nlohmann::json::array();
      for (const auto& p : plan.processes) {
        nlohmann::json comps = nlohmann::json::object();
        for (const auto& c : p.components)
          comps[c.name] = {{"bytes", c.bytes}, {"phase", NameOf(c.phase)}};
        procs.push_back({{"role", p.role},
                         {"processes", p.processes},
                         {"total_bytes", p.total()},
                         {"resident_bytes", p.Bytes(MemoryPhase::kResident)},
                         {"training_bytes", p.Bytes(MemoryPhase::kTraining)},
                         {"evaluation_bytes", p.Bytes(MemoryPhase::kEvaluation)},
                         {"startup_bytes", p.Bytes(MemoryPhase::kStartup)},
                         {"components", comps}});
      }
      nlohmann::json j = {{"parameters", plan.model.NumParameters()},
                          {"learners", plan.learners},
                          {"actors", plan.actors},
                          {"device_bytes", plan.device_bytes},
                          {"largest_bytes", plan.largest()},
                          {"needed_bytes", plan.needed()},
                          {"on_cpu", plan.on_cpu},
                          {"fits", plan.fits},
                          {"processes", procs}};
      if (!plan.fits) {
        j["advice"] = plan.advice;
        j["advice_overrides"] = plan.advice_overrides;
        if (plan.advice_learners > 0) j["advice_learners"] = plan.advice_learners;
      }
      std::cout << j.dump() << std::endl;
    } else {
      std::cout << FormatPlan(plan) << std::flush;
    }
    if (!plan.fits) {
      std::cout.flush();
      std::exit(3);
    }
  });
}

}  // namespace iranker
