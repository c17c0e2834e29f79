// cluster/roles.h — which job a process does in a distributed run, and where it finds its peers.
//
// Roles come from the world rank alone (cluster/options.h): ranks [0, learners) are learners,
// the rest actors, so mpirun -np N and srun -n N need no per-rank arguments. The launcher is
// detected from its environment variables, so `iranker train` knows whether it was started by
// mpirun, srun or by hand.
#pragma once

#include <string>
#include <vector>

#include "cluster/options.h"

namespace iranker {

enum class Role { kLearner, kActor };

struct RankLayout {
  int world_rank = 0, world_size = 1;
  Role role = Role::kLearner;
  int learner_rank = -1;  // 0..learners-1 for learners, -1 for actors
  int actor_id = -1;      // 0..actors-1 for actors, -1 for learners
  int learners = 1, actors = 1;
};

// Throws Error(kInvalidArgument) naming cluster.learners and train.actors when the world size
// does not equal learners + actors.
RankLayout LayoutOf(int world_rank, int world_size, const ClusterOptions& cluster, int actors);
const char* RoleName(Role r);

// "mpirun" (Open MPI / MPICH env), "slurm" (srun), or "" when started by hand.
std::string DetectLauncher();
// True when the environment says this process is one rank of a parallel launch.
bool LaunchedInParallel();

// The endpoints a learner binds: the trajectory stream for learner rank r and (r == 0) the
// weight publisher. ipc: sockets under <run_dir>/sockets (short names: ipc paths are limited to
// ~107 bytes, checked); tcp: host:0 (a free port; the bound address is published over MPI).
std::string StreamBindEndpoint(const ClusterOptions& c, const std::string& run_dir, int learner_rank);
std::string WeightsBindEndpoint(const ClusterOptions& c, const std::string& run_dir);

}  // namespace iranker
