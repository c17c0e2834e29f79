#include "cluster/roles.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/atomic_file.h"
#include "base/error.h"

namespace iranker {
namespace fs = std::filesystem;

RankLayout LearnerLayout(int world_rank, int world_size, const ClusterOptions& cluster, int actors) {
  if (world_size != cluster.learners)
    Fail(ErrorCode::kInvalidArgument, "the MPI job has ", world_size, " processes but cluster.learners=",
         cluster.learners, ": launch with -np ", cluster.learners,
         " (actors are separate processes: cluster.spawn_actors, or `iranker actor`)");
  RankLayout l;
  l.world_rank = world_rank;
  l.world_size = world_size;
  l.role = Role::kLearner;
  l.learner_rank = world_rank;
  l.learners = cluster.learners;
  l.actors = actors;
  return l;
}

RankLayout ActorLayout(int actor_id, const ClusterOptions& cluster, int actors) {
  if (actor_id < 0 || actor_id >= actors)
    Fail(ErrorCode::kInvalidArgument, "actor id ", actor_id, " is outside 0..", actors - 1, " (train.actors=", actors,
         ")");
  RankLayout l;
  l.role = Role::kActor;
  l.actor_id = actor_id;
  l.learners = cluster.learners;
  l.actors = actors;
  return l;
}

std::string RendezvousPath(const std::string& run_dir) { return run_dir + "/rendezvous.json"; }

void WriteRendezvous(const std::string& run_dir, const Rendezvous& r) {
  nlohmann::json j = {{"streams", r.streams}, {"weights", r.weights}, {"init_dir", r.init_dir},
                      {"session", r.session}};
  WriteFileAtomic(RendezvousPath(run_dir), j.dump(2) + "\n");
}

Rendezvous ReadRendezvous(const std::string& run_dir, double timeout_s) {
  const std::string path = RendezvousPath(run_dir);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!fs::exists(path)) {
    if (std::chrono::steady_clock::now() > deadline)
      Fail(ErrorCode::kDeadlineExceeded, path, " did not appear within ", timeout_s,
           " s: is learner rank 0 running with this run directory?");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Rendezvous r;
  try {
    auto j = nlohmann::json::parse(ReadFile(path));
    r.streams = j.at("streams").get<std::vector<std::string>>();
    r.weights = j.at("weights").get<std::string>();
    r.init_dir = j.at("init_dir").get<std::string>();
    r.session = j.at("session").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    Fail(ErrorCode::kInvalidArgument, path, ": ", e.what());
  }
  if (r.streams.empty() || r.weights.empty()) Fail(ErrorCode::kInvalidArgument, path, ": no endpoints");
  return r;
}


std::string DetectLauncher() {
  if (std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK"))
    return std::getenv("SLURM_STEP_ID") && !std::getenv("OMPI_COMM_WORLD_SIZE") ? "slurm" : "mpirun";
  if (std::getenv("SLURM_STEP_ID") && std::getenv("SLURM_NTASKS")) return "slurm";
  return "";
}

int LauncherWorldSize() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* v = std::getenv(var)) return std::max(1, std::atoi(v));
  if (std::getenv("SLURM_STEP_ID"))
    if (const char* v = std::getenv("SLURM_NTASKS")) return std::max(1, std::atoi(v));
  return 1;
}

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
  if (c.transport == "inproc") return "inproc://iranker-stream-" + std::to_string(learner_rank);
  return "tcp://" + TcpHost(c) + ":0";
}

std::string WeightsBindEndpoint(const ClusterOptions& c, const std::string& run_dir) {
  if (c.transport == "ipc") return IpcPath(run_dir, "weights");
  if (c.transport == "inproc") return "inproc://iranker-weights";
  return "tcp://" + TcpHost(c) + ":0";
}

}  // namespace iranker
