#include "cluster/roles.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "base/error.h"

namespace iranker {
namespace fs = std::filesystem;

RankLayout LayoutOf(int world_rank, int world_size, const ClusterOptions& cluster, int actors) {
  if (world_size != cluster.learners + actors)
    Fail(ErrorCode::kInvalidArgument, "the job has ", world_size, " processes but cluster.learners=",
         cluster.learners, " + train.actors=", actors, " = ", cluster.learners + actors,
         ": launch with -np ", cluster.learners + actors, " or change those keys");
  RankLayout l;
  l.world_rank = world_rank;
  l.world_size = world_size;
  l.learners = cluster.learners;
  l.actors = actors;
  if (world_rank < cluster.learners) {
    l.role = Role::kLearner;
    l.learner_rank = world_rank;
  } else {
    l.role = Role::kActor;
    l.actor_id = world_rank - cluster.learners;
  }
  return l;
}

const char* RoleName(Role r) { return r == Role::kLearner ? "learner" : "actor"; }

std::string DetectLauncher() {
  if (std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK"))
    return std::getenv("SLURM_STEP_ID") && !std::getenv("OMPI_COMM_WORLD_SIZE") ? "slurm" : "mpirun";
  if (std::getenv("SLURM_STEP_ID") && std::getenv("SLURM_NTASKS")) return "slurm";
  return "";
}

bool LaunchedInParallel() { return !DetectLauncher().empty(); }

namespace {
std::string IpcPath(const std::string& run_dir, const std::string& name) {
  std::error_code ec;
  fs::path dir = fs::absolute(fs::path(run_dir) / "sockets", ec);
  fs::create_directories(dir, ec);
  if (ec) Fail(ErrorCode::kInvalidArgument, "cannot create ", dir.string(), ": ", ec.message());
  std::string path = (dir / name).string();
  // sockaddr_un holds 108 bytes including the terminator.
  if (path.size() > 107)
    Fail(ErrorCode::kInvalidArgument, "ipc socket path ", path, " is longer than 107 bytes: use a shorter ",
         "run.dir or cluster.transport=tcp");
  return "ipc://" + path;
}

std::string TcpHost(const ClusterOptions& c) {
  if (c.host != "*") return c.host;
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}
}  // namespace

std::string StreamBindEndpoint(const ClusterOptions& c, const std::string& run_dir, int learner_rank) {
  if (c.transport == "ipc") return IpcPath(run_dir, "stream-" + std::to_string(learner_rank));
  return "tcp://" + TcpHost(c) + ":0";
}

std::string WeightsBindEndpoint(const ClusterOptions& c, const std::string& run_dir) {
  if (c.transport == "ipc") return IpcPath(run_dir, "weights");
  return "tcp://" + TcpHost(c) + ":0";
}

}  // namespace iranker
