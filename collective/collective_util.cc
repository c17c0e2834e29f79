#include "collective/collective_util.h"

#define OMPI_SKIP_MPICXX 1  // the C API only (no MPI C++ bindings to link)
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include "base/error.h"
#include "base/host.h"
#include "base/log.h"
#include "collective/collective.h"

namespace iranker::collective {

std::string DescribeRank(int rank, int size) {
  return "rank " + std::to_string(rank) + " of " + std::to_string(size) + " (host " + HostName() +
         ", pid " + std::to_string(::getpid()) + ")";
}

std::vector<std::string> GatherHostNames(const void* comm_ptr) {
  const MPI_Comm comm = *static_cast<const MPI_Comm*>(comm_ptr);
  int size = 0;
  MPI_Comm_size(comm, &size);
  constexpr int kLen = 64;
  std::string mine = HostName();
  mine.resize(kLen - 1);
  std::vector<char> all(static_cast<size_t>(kLen) * static_cast<size_t>(size), '\0');
  std::vector<std::string> hosts(static_cast<size_t>(size), "?");
  if (MPI_Allgather(mine.c_str(), kLen, MPI_CHAR, all.data(), kLen, MPI_CHAR, comm) != MPI_SUCCESS)
    return hosts;  // the names are for messages only
  for (int r = 0; r < size; ++r) hosts[static_cast<size_t>(r)] = std::string(all.data() + r * kLen);
  return hosts;
}

std::string PeerHostsNote(const std::vector<std::string>& hosts, int rank) {
  const int size = static_cast<int>(hosts.size());
  if (size < 2) return "";
  if (size == 2) {
    const int peer = 1 - rank;
    return "; the peer is rank " + std::to_string(peer) + " on host " +
           hosts[static_cast<size_t>(peer)];
  }
  std::string out = "; the peers:";
  int listed = 0;
  for (int r = 0; r < size; ++r) {
    if (r == rank) continue;
    if (++listed > 16) {
      out += " ...";
      break;
    }
    out += std::string(listed > 1 ? "," : "") + " rank " + std::to_string(r) + " on " +
           hosts[static_cast<size_t>(r)];
  }
  return out;
}

void CollectiveTimedOut(const std::string& backend, const std::string& what, int timeout_ms,
                        int rank, int size, const std::string& note) {
  Fail(ErrorCode::kDeadlineExceeded, backend, " ", what, " did not complete within ", timeout_ms,
       " ms on ", DescribeRank(rank, size),
       ": a peer rank is stuck, dead or never joined this collective (comm allreduce timeout_ms)",
       note);
}

CollectiveClock::CollectiveClock(const Collective& c, int timeout_ms)
    : c_(c), deadline_(std::chrono::milliseconds(timeout_ms), [&c] { return c.PeerProgress(); }) {}

bool CollectiveClock::Expired(const std::string& what) {
  std::string news;
  if (deadline_.Expired(&news)) return true;
  if (!news.empty())
    IR_LOG_INFO(
        "comm: {} on {} is past timeout_ms={} but {}: waiting on (the time-out restarts while it "
        "progresses)",
        what, DescribeRank(c_.rank(), c_.size()), deadline_.timeout().count(), news);
  return false;
}

std::string MpiWorldRankName() {
  int init = 0, rank = -1, size = 0;
  MPI_Initialized(&init);
  if (init) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
  }
  return DescribeRank(rank, size);
}

void FreezeHereIfAsked(const char* kind, int rank) {
  struct Spec {
    std::string kind, file;
    int rank = -1;
  };
  static const Spec spec = [] {
    Spec s;
    const char* env = std::getenv("IRANKER_TEST_FREEZE");
    if (!env) return s;
    const std::string v = env;
    const size_t a = v.find(':'), b = a == std::string::npos ? a : v.find(':', a + 1);
    if (b == std::string::npos)
      Fail(ErrorCode::kInvalidArgument, "IRANKER_TEST_FREEZE='", v,
           "': expected KIND:RANK:FILE (KIND reduce-scatter or all-gather)");
    s.kind = v.substr(0, a);
    const std::string rank_text = v.substr(a + 1, b - a - 1);
    char* end = nullptr;
    const long r = std::strtol(rank_text.c_str(), &end, 10);
    if (rank_text.empty() || *end != '\0' || r < 0 ||
        (s.kind != "reduce-scatter" && s.kind != "all-gather") || b + 1 >= v.size())
      Fail(ErrorCode::kInvalidArgument, "IRANKER_TEST_FREEZE='", v,
           "': expected KIND:RANK:FILE (KIND reduce-scatter or all-gather, RANK >= 0)");
    s.rank = static_cast<int>(r);
    s.file = v.substr(b + 1);
    return s;
  }();
  if (spec.rank != rank || spec.kind != kind) return;
  struct stat st {};
  if (::stat(spec.file.c_str(), &st) != 0) return;
  IR_LOG_WARN("IRANKER_TEST_FREEZE: rank {} stops itself inside its {}", rank, kind);
  std::raise(SIGSTOP);
}

}  // namespace iranker::collective
