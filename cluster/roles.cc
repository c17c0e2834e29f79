#include "cluster/roles.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/host.h"
#include "base/log.h"
#include "cluster/progress_lease.h"

namespace iranker {
namespace fs = std::filesystem;

RankLayout LearnerLayout(int world_rank, int world_size, const ClusterOptions& cluster,
                         int actors) {
  if (world_size != cluster.learners)
    Fail(ErrorCode::kInvalidArgument, "the MPI job has ", world_size,
         " processes but cluster.learners=", cluster.learners, ": launch with -np ",
         cluster.learners,
         " (actors are separate processes: cluster.spawn_actors, or `iranker actor`)");
  RankLayout l;
  l.world_rank = world_rank;
  l.world_size = world_size;
  l.role = Role::kLearner;
  l.learner_rank = world_rank;
  l.learners = cluster.learners;
  l.actors = actors;
  const LocalPlace p = DetectLocalPlace();
  l.local_rank = p.rank;
  l.local_size = p.size;
  return l;
}

RankLayout ActorLayout(int actor_id, const ClusterOptions& cluster, int actors) {
  if (actor_id < 0 || actor_id >= actors)
    Fail(ErrorCode::kInvalidArgument, "actor id ", actor_id, " is outside 0..", actors - 1,
         " (train.actors=", actors, ")");
  RankLayout l;
  l.role = Role::kActor;
  l.actor_id = actor_id;
  l.learners = cluster.learners;
  l.actors = actors;
  const LocalPlace p = DetectLocalPlace();
  l.local_rank = p.size > 1 ? p.rank : actor_id;
  l.local_size = p.size > 1 ? p.size : actors;
  return l;
}

namespace {
int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return (end && *end == '\0') ? static_cast<int>(x) : fallback;
}
}  // namespace

std::vector<int> ExpandTasksPerNode(const std::string& s) {
  std::vector<int> out;
  size_t at = 0;
  while (at < s.size()) {
    size_t end = s.find(',', at);
    if (end == std::string::npos) end = s.size();
    const std::string item = s.substr(at, end - at);
    int n = 0, times = 1;
    if (std::sscanf(item.c_str(), "%d(x%d)", &n, &times) < 1 || n < 1 || times < 1) return {};
    out.insert(out.end(), times, n);
    at = end + 1;
  }
  return out;
}

LocalPlace DetectLocalPlace() {
  LocalPlace p;
  if (std::getenv("OMPI_COMM_WORLD_LOCAL_RANK")) {
    p.rank = EnvInt("OMPI_COMM_WORLD_LOCAL_RANK", 0);
    p.size = EnvInt("OMPI_COMM_WORLD_LOCAL_SIZE", 1);
  } else if (std::getenv("MPI_LOCALRANKID")) {
    p.rank = EnvInt("MPI_LOCALRANKID", 0);
    p.size = EnvInt("MPI_LOCALNRANKS", 1);
  } else if (std::getenv("SLURM_LOCALID") && std::getenv("SLURM_STEP_ID")) {
    p.rank = EnvInt("SLURM_LOCALID", 0);
    const char* per_node = std::getenv("SLURM_STEP_TASKS_PER_NODE");
    const auto counts = ExpandTasksPerNode(per_node ? per_node : "");
    const int node = EnvInt("SLURM_NODEID", 0);
    p.size = node >= 0 && node < static_cast<int>(counts.size())
                 ? counts[node]
                 : EnvInt("SLURM_NTASKS_PER_NODE", 1);
  }
  p.size = std::max(1, p.size);
  p.rank = std::clamp(p.rank, 0, p.size - 1);
  return p;
}

int ThreadsPerProcess(int configured, int cores, int local_size) {
  if (configured > 0) return configured;
  return std::max(1, cores / std::max(1, local_size));
}

std::string DeviceForProcess(const std::string& device, int index, int offset, int gpus) {
  if (device != "cuda") return device;
  if (gpus <= 0)
    Fail(ErrorCode::kFailedPrecondition, "model.device=cuda but this process sees no CUDA device (",
         std::getenv("CUDA_VISIBLE_DEVICES")
             ? std::string("CUDA_VISIBLE_DEVICES=") + std::getenv("CUDA_VISIBLE_DEVICES")
             : std::string("CUDA_VISIBLE_DEVICES unset"),
         "; a CPU-only libtorch build has none)");
  return "cuda:" + std::to_string(((index + offset) % gpus + gpus) % gpus);
}

std::string RendezvousPath(const std::string& run_dir) { return run_dir + "/rendezvous.json"; }

void WriteRendezvous(const std::string& run_dir, const Rendezvous& r) {
  nlohmann::json j = {{"streams", r.streams},
                      {"weights", r.weights},
                      {"init_dir", r.init_dir},
                      {"session", r.session}};
  WriteFileAtomic(RendezvousPath(run_dir), j.dump(2) + "\n");
}

Rendezvous ReadRendezvous(const std::string& run_dir, double timeout_s,
                          const std::atomic<bool>* cancel) {
  const std::string path = RendezvousPath(run_dir);
  // Learner rank 0 writes it after preparing the run and the initial policy, which may take long:
  // its progress lease says whether it is still at it.
  ProgressWatch learner_work(ProgressLeaseDir(run_dir), /*self_rank=*/-1);
  const bool found = WaitWhileProgressing(
      [&] {
        if (cancel && cancel->load())
          Fail(ErrorCode::kUnavailable, "cancelled while waiting for ", path);
        if (fs::exists(path)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return false;
      },
      std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)), &learner_work,
      "waiting for " + path);
  if (!found)
    Fail(ErrorCode::kDeadlineExceeded, path, " did not appear within ", timeout_s,
         " s: is learner rank 0 running with this run directory?");
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
  if (r.streams.empty() || r.weights.empty())
    Fail(ErrorCode::kInvalidArgument, path, ": no endpoints");
  return r;
}

std::string DetectLauncher() {
  if (std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK"))
    return std::getenv("SLURM_STEP_ID") && !std::getenv("OMPI_COMM_WORLD_SIZE") ? "slurm"
                                                                                : "mpirun";
  if (std::getenv("SLURM_STEP_ID") && std::getenv("SLURM_NTASKS")) return "slurm";
  return "";
}

std::string RendezvousSession(const std::string& run_dir) {
  try {
    auto j = nlohmann::json::parse(ReadFile(RendezvousPath(run_dir)));
    return j.at("session").get<std::string>();
  } catch (const std::exception&) {
    return "";
  }
}

std::string TakeoverPath(const std::string& run_dir) { return run_dir + "/takeover.json"; }

void WriteTakeover(const std::string& run_dir, const Takeover& t) {
  nlohmann::json assign = nlohmann::json::array();
  for (const auto& [share, by] : t.assign) assign.push_back({{"share", share}, {"by", by}});
  WriteFileAtomic(TakeoverPath(run_dir),
                  nlohmann::json{{"step", t.step}, {"assign", assign}}.dump() + "\n");
}

Takeover ReadTakeover(const std::string& run_dir) {
  Takeover t;
  try {
    auto j = nlohmann::json::parse(ReadFile(TakeoverPath(run_dir)));
    Takeover got;
    got.step = j.at("step").get<int64_t>();
    for (const auto& a : j.at("assign")) got.assign.emplace_back(a.at("share"), a.at("by"));
    t = std::move(got);
  } catch (const std::exception&) {
  }
  return t;
}

bool RunFinished(const std::string& run_dir) {
  std::error_code e1, e2;
  const auto result = fs::last_write_time(fs::path(run_dir) / "result.json", e1);
  const auto rendezvous = fs::last_write_time(RendezvousPath(run_dir), e2);
  return !e1 && !e2 && result >= rendezvous;
}

int LauncherWorldSize() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* v = std::getenv(var)) return std::max(1, std::atoi(v));
  if (std::getenv("SLURM_STEP_ID"))
    if (const char* v = std::getenv("SLURM_NTASKS")) return std::max(1, std::atoi(v));
  return 1;
}

int LauncherRank() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMI_RANK"})
    if (const char* v = std::getenv(var)) return std::max(0, std::atoi(v));
  if (std::getenv("SLURM_STEP_ID"))
    if (const char* v = std::getenv("SLURM_PROCID")) return std::max(0, std::atoi(v));
  return -1;
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
    Fail(ErrorCode::kInvalidArgument, "ipc socket path ", path,
         " is longer than 107 bytes: use a shorter ", "run.dir or cluster.transport=tcp");
  return "ipc://" + path;
}

}  // namespace

std::string TcpBindHost(const std::string& host) {
  const bool own = host == "*";
  const std::string name = own ? HostName() : host;
  in_addr a4{};
  in6_addr a6{};
  // An address, or an interface ZeroMQ binds by name (its address is in the bound endpoint).
  if (::inet_pton(AF_INET, name.c_str(), &a4) == 1) return name;
  if (::inet_pton(AF_INET6, name.c_str(), &a6) == 1) return "[" + name + "]";
  if (!own && ::if_nametoindex(name.c_str()) != 0) return name;
  // A host name: ZeroMQ would take it for an interface, so bind its address, which is also what
  // the bound endpoint (and so the rendezvous) carries for the actors of other hosts.
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &res);
  if (rc != 0 || !res)
    Fail(ErrorCode::kInvalidArgument, "cluster.host='", host, "'",
         own ? " (this host's name, " + name + ")" : std::string(),
         ": not an address, an interface or a host name that resolves here (", ::gai_strerror(rc),
         "); set cluster.host to this host's address or interface");
  char buf[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr, buf, sizeof buf);
  ::freeaddrinfo(res);
  const std::string addr = buf;
  if (own && addr.rfind("127.", 0) == 0)
    IR_LOG_WARN(
        "cluster.host='*': this host's name {} resolves to the loopback address {}; actors on "
        "other hosts cannot reach it (set cluster.host to an address or interface they reach)",
        name, addr);
  return addr;
}

namespace {
std::string TcpHost(const ClusterOptions& c) { return TcpBindHost(c.host); }
}  // namespace

std::string StreamBindEndpoint(const ClusterOptions& c, const std::string& run_dir,
                               int learner_rank) {
  if (c.transport == Transport::kIpc)
    return IpcPath(run_dir, "stream-" + std::to_string(learner_rank));
  if (c.transport == Transport::kInproc)
    return "inproc://iranker-stream-" + std::to_string(learner_rank);
  return "tcp://" + TcpHost(c) + ":0";
}

std::string WeightsBindEndpoint(const ClusterOptions& c, const std::string& run_dir) {
  if (c.transport == Transport::kIpc) return IpcPath(run_dir, "weights");
  if (c.transport == Transport::kInproc) return "inproc://iranker-weights";
  return "tcp://" + TcpHost(c) + ":0";
}

}  // namespace iranker
