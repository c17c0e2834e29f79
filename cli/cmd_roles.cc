// `iranker roles -c CONFIG [overrides]`: what each process of a launch would do, without training.
// Under `mpirun -np N` / `srun -n N` every rank prints one JSON line (its role, learner rank, local
// rank on its host, device and torch thread count); `--actor K` prints actor K's instead.
#include <torch/torch.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "base/host.h"
#include "cli/commands.h"
#include "cluster/roles.h"
#include "collective/collective.h"
#include "trainer/config_io.h"

namespace iranker {

void AddRolesCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "roles", "Print each process's role, local rank, device and threads (no training)");
  struct Opts {
    std::string file;
    std::vector<std::string> overrides;
    int actor = -1;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-c,--config", o->file, "YAML config file")->required();
  cmd->add_option("overrides", o->overrides, "key.path=value overrides");
  cmd->add_option("--actor", o->actor,
                  "Print actor K's layout (an `iranker actor --id K` process)");
  cmd->callback([o] {
    Config config = LoadConfig(o->file, o->overrides);
    RankLayout me;
    std::unique_ptr<collective::MpiSession> mpi;
    if (o->actor >= 0) {
      me = ActorLayout(o->actor, config.cluster, config.train.actors);
    } else {
      int argc = 0;
      char** argv = nullptr;
      mpi = std::make_unique<collective::MpiSession>(&argc, &argv);
      me = LearnerLayout(mpi->rank(), mpi->size(), config.cluster, config.train.actors);
    }
    const bool actor = me.role == Role::kActor;
    const int gpus = config.model.device == "cuda" && torch::cuda::is_available()
                         ? torch::cuda::device_count()
                         : 0;
    std::string device;
    try {
      device = DeviceForProcess(config.model.device, me.local_rank,
                                actor ? config.cluster.actor_gpu_offset : 0, gpus);
    } catch (const std::exception& e) {
      device = std::string("unavailable: ") + e.what();
    }
    const std::string host = HostName();
    nlohmann::json j = {
        {"role", actor ? "actor" : "learner"},
        {"world_rank", me.world_rank},
        {"world_size", me.world_size},
        {"learner_rank", me.learner_rank},
        {"actor_id", me.actor_id},
        {"learners", me.learners},
        {"actors", me.actors},
        {"local_rank", me.local_rank},
        {"local_size", me.local_size},
        {"device", device},
        {"threads", ThreadsPerProcess(config.run.threads,
                                      static_cast<int>(std::thread::hardware_concurrency()),
                                      actor ? 1 : me.local_size)},
        {"launcher", DetectLauncher().empty() ? "none" : DetectLauncher()},
        {"host", host}};
    std::cout << j.dump() << std::endl;
  });
}

}  // namespace iranker
