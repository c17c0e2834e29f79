// cluster/roles.h — which job a process does in a distributed run, and where it finds its peers.
//
// `iranker train` processes are learner ranks (the MPI world); `iranker actor` processes are actors
// (outside it). The launcher is detected from its environment variables, so `iranker train` knows
// whether it was started by mpirun, srun or by hand.
#pragma once

#include <atomic>
#include <string>
#include <utility>
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
  int local_rank = 0,
      local_size = 1;  // this process's place among its launch's processes on this host
};

// This process's place among the processes its launcher started on this host: Open MPI
// (OMPI_COMM_WORLD_LOCAL_RANK / _LOCAL_SIZE), MPICH/Hydra (MPI_LOCALRANKID / MPI_LOCALNRANKS) or
// Slurm's srun (SLURM_LOCALID, and SLURM_STEP_TASKS_PER_NODE such as "2(x3),1" at SLURM_NODEID);
// 0 of 1 when started by hand.
struct LocalPlace {
  int rank = 0, size = 1;
};
LocalPlace DetectLocalPlace();
// Slurm's compressed tasks-per-node list ("2(x3),1") expanded: {2, 2, 2, 1}. Empty when malformed.
std::vector<int> ExpandTasksPerNode(const std::string& s);

// Torch threads of one process: `configured` when > 0, else this host's cores shared evenly by
// the `local_size` processes on it (at least 1), so processes sharing a host do not oversubscribe.
int ThreadsPerProcess(int configured, int cores, int local_size);

// The device of one process: "cuda" becomes "cuda:<(index + offset) mod gpus>" (one GPU per
// process by its local index); "cuda:N" and "cpu" stay. Throws Error(kFailedPrecondition) for
// "cuda" when gpus == 0.
std::string DeviceForProcess(const std::string& device, int index, int offset, int gpus);

// A learner rank's layout. Throws Error(kInvalidArgument) naming cluster.learners when the world
// size differs from it.
RankLayout LearnerLayout(int world_rank, int world_size, const ClusterOptions& cluster, int actors);
// An actor process's layout. Its local place: the launcher's (a second srun step), else its id.
RankLayout ActorLayout(int actor_id, const ClusterOptions& cluster, int actors);

// RUN/rendezvous.json: where the actors find the learners (written atomically by learner rank 0).
struct Rendezvous {
  std::vector<std::string> streams;  // learner rank r's trajectory endpoint
  std::string weights;               // the weight publisher
  std::string init_dir;              // the policy directory actors load their model shape from
  std::string session;               // random per learner start; a restart writes a new one
};
std::string RendezvousPath(const std::string& run_dir);
void WriteRendezvous(const std::string& run_dir, const Rendezvous& r);
// Waits until the file exists and parses (polling); throws Error(kDeadlineExceeded) naming the
// file after timeout_s, Error(kInvalidArgument) for a malformed file, Error(kUnavailable) as soon
// as *cancel becomes true (the caller's process is shutting down; nullptr: never).
Rendezvous ReadRendezvous(const std::string& run_dir, double timeout_s,
                          const std::atomic<bool>* cancel = nullptr);
// The session of the current RUN/rendezvous.json, "" when it is absent or unreadable (no wait).
std::string RendezvousSession(const std::string& run_dir);
// RUN/takeover.json: shares of a step whose actors went silent, handed to live actors (learner
// rank 0 writes it once a step has waited cluster.actor_takeover_s; each actor reads it while it
// waits for the next policy version). An actor's share of a step is fixed by (step, actor id)
// (actor/run_plan.h), so any actor holding that step's weights rolls out the same trajectories.
struct Takeover {
  int64_t step = -1;
  std::vector<std::pair<int, int>> assign;  // (missing actor's share, the actor that rolls it out)
};
std::string TakeoverPath(const std::string& run_dir);
void WriteTakeover(const std::string& run_dir, const Takeover& t);
// The current file; step -1 when it is absent or unreadable (no wait).
Takeover ReadTakeover(const std::string& run_dir);

// Whether the learners of the current rendezvous completed the run: RUN/result.json (written by
// learner rank 0 at the end) is no older than RUN/rendezvous.json. No wait.
bool RunFinished(const std::string& run_dir);

// "mpirun" (Open MPI / MPICH env), "slurm" (srun), or "" when started by hand.
std::string DetectLauncher();
// The number of ranks the launcher started (OMPI_COMM_WORLD_SIZE, PMI_SIZE or SLURM_NTASKS under
// srun); 1 when started by hand.
int LauncherWorldSize();
// This process's rank among the ranks its launcher started (OMPI_COMM_WORLD_RANK, PMI_RANK, or
// SLURM_PROCID under srun); -1 when started by hand. `iranker actor` takes it for its id when
// --id is not given, so one launch (`mpirun --hostfile ACTOR_HOSTS -np N iranker actor ...` or an
// srun step) starts actors 0..N-1 where the user puts them.
int LauncherRank();

// The endpoints a learner binds: the trajectory stream for learner rank r and (r == 0) the
// weight publisher. ipc: sockets under <run_dir>/sockets (short names: ipc paths are limited to
// ~107 bytes, checked); tcp: host:0 (a free port; the bound address is published over MPI).
std::string StreamBindEndpoint(const ClusterOptions& c, const std::string& run_dir,
                               int learner_rank);
std::string WeightsBindEndpoint(const ClusterOptions& c, const std::string& run_dir);
// The host part of a tcp bind for cluster.host: an address or an interface name as it is; a host
// name ("*": this host's) resolved to its IPv4 address, because ZeroMQ binds interfaces, not
// names, and the bound endpoint is what actors on other hosts connect to. Throws Error naming
// cluster.host when it resolves to nothing.
std::string TcpBindHost(const std::string& host);

}  // namespace iranker
