// `iranker train -c CONFIG [--local] [overrides]`: train a ranker.
#include <iostream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/plots.h"
#include "cli/process_setup.h"
#include "cluster/roles.h"
#include "collective/collective.h"
#include "trainer/config_io.h"
#include "trainer/distributed.h"
#include "trainer/local.h"
#include "trainer/replay.h"

namespace iranker {

nlohmann::json QuickstartSummary(const TrainResult& r) {
  auto pick = [&](const EvalReport& rep, const std::string& sys) {
    return nlohmann::json{{"mrr", rep.MeanOf(sys, "mrr")},
                          {"ndcg@10", rep.MeanOf(sys, "ndcg@10")},
                          {"hit@1", rep.MeanOf(sys, "hit@1")}};
  };
  nlohmann::json j = {{"random", pick(r.final, "random")},  {"bm25", pick(r.final, "bm25")},
                      {"trained", pick(r.final, "policy")}, {"run_dir", r.run_dir},
                      {"checkpoint", r.final_checkpoint},   {"trajectories", r.trajectories},
                      {"trajectory_logs", r.trajlog_files}};
  if (r.has_initial) j["initial"] = pick(r.initial, "policy");
  return j;
}

void AddTrainCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a ranker with reinforcement learning");
  struct Opts {
    std::string file;
    std::vector<std::string> overrides;
    bool local = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-c,--config", o->file, "YAML config file")->required();
  cmd->add_option("overrides", o->overrides, "key.path=value overrides");
  cmd->add_flag("--local", o->local, "One process: the learner and the actors together (no MPI)");
  cmd->callback([o] {
    Config config = LoadConfig(o->file, o->overrides);
    InitLogging(config.run.log_level);
    // Default: this process is one learner rank of the MPI world (mpirun/srun, or a singleton
    // started by hand), and learner rank 0 supervises the actor processes. --local: the learner
    // and the actors in this one process, no MPI.
    TrainResult r;
    bool lead = true;
    if (!config.data.replay.empty()) {
      // Replay: one learner in this process, no actors (trainer/replay_trainer.h).
      if (const int world = LauncherWorldSize(); world > 1)
        Fail(ErrorCode::kInvalidArgument,
             "data.replay trains one learner in one process; this is one of ", world,
             " ranks: start it without mpirun/srun or with -np 1");
      ConfigureThreads(config.run.threads);
      r = TrainReplay(config);
    } else if (o->local) {
      ConfigureThreads(config.run.threads);
      r = TrainLocal(config);
    } else {
      int argc = 0;
      char** argv = nullptr;
      collective::MpiSession mpi(&argc, &argv);
      lead = mpi.rank() == 0;
      // run.threads = 0: the host's cores shared by the learner ranks on it (the actors, outside
      // the MPI world, take turns with them in a synchronous run and set their own count).
      ConfigureThreads(config.run.threads);
      try {
        r = TrainDistributed(config);
      } catch (const std::exception& e) {
        // One rank's fatal error ends the whole job with its message, instead of a hang.
        std::cerr << "iranker train: learner rank " << mpi.rank() << ": " << e.what() << std::endl;
        if (mpi.size() > 1) collective::AbortWorld(1);
        throw;
      }
    }
    if (!lead) return;
    if (r.interrupted) {
      std::cout << "interrupted: checkpoint written in " << r.run_dir
                << "/checkpoints; run the same command "
                << "again to resume\n";
      return;
    }
    std::cout << "final policy on held-out data (checkpoint " << r.final_checkpoint << "):\n"
              << FormatEvalTable(r.final);
    try {
      std::cout << "plots: " << r.run_dir << "/plots (" << WritePlots(r.run_dir) << " charts)\n";
    } catch (const std::exception& e) {
      std::cerr << "plots not written: " << e.what() << "\n";  // the run itself succeeded
    }
    auto summary = QuickstartSummary(r);
    const std::string path = r.run_dir + "/result.json";
    WriteFileAtomic(path, summary.dump(2) + "\n");
    std::cout << "run directory: " << r.run_dir << "\nresult: " << path << "\n";
  });
}

}  // namespace iranker
