// `iranker actor -c RUN/config.yaml [--id K] [overrides]`: one rollout actor process of a
// distributed run. Learner rank 0 starts these itself (cluster.spawn_actors); start them by hand,
// with a second srun step or a second mpirun when cluster.spawn_actors is false (without --id, the
// launcher's rank is the id). The actor finds the learners through
// RUN/rendezvous.json, so it may start before or after them and may be restarted at any time.
#include "base/error.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/process_setup.h"
#include "cluster/roles.h"
#include "trainer/config_io.h"
#include "trainer/distributed.h"

namespace iranker {

void AddActorCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("actor", "Run one rollout actor of a distributed training run");
  struct Opts {
    std::string file;
    int id = -1;
    std::vector<std::string> overrides;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-c,--config", o->file, "The run's config (RUN/config.yaml)")->required();
  cmd->add_option("--id", o->id,
                  "Actor id, 0..train.actors-1 (default: this process's rank under mpirun or "
                  "srun)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("overrides", o->overrides, "key.path=value overrides");
  cmd->callback([o] {
    if (o->id < 0) o->id = LauncherRank();
    if (o->id < 0)
      Fail(ErrorCode::kInvalidArgument,
           "iranker actor: give --id K (0..train.actors-1), or start it under mpirun or srun, "
           "whose rank is then the id");
    Config config = LoadConfig(o->file, o->overrides);
    InitLogging(config.run.log_level);
    ConfigureThreads(config.run.threads);
    RunActorProcess(config, o->id);
  });
}

}  // namespace iranker
