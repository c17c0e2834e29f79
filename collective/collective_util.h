// collective/collective_util.h — shared by the all-reduce back-ends (internal to the room).
#pragma once

#include <string>
#include <vector>

#include "base/progress_deadline.h"

namespace iranker::collective {

class Collective;

// "rank R of N (host H, pid P)": the identity printed in every collective error.
std::string DescribeRank(int rank, int size);
// DescribeRank of this process in MPI_COMM_WORLD ("rank -1 of 0" before MPI is initialised).
std::string MpiWorldRankName();
// Throws Error(kDeadlineExceeded) naming the stuck collective and this rank; `note` (may be
// empty) is appended to the message.
// Every rank's host name, by rank, gathered over *comm (a pointer to an MPI_Comm, so that this
// header needs no mpi.h). A collective: every rank of the communicator calls it.
std::vector<std::string> GatherHostNames(const void* comm);
// For a time-out's message: the peers of `rank` and their hosts ("; the peer is rank 1 on host
// b" with two ranks, "; the peers: rank 1 on b, rank 2 on c, ..." with more; "" with none).
std::string PeerHostsNote(const std::vector<std::string>& hosts, int rank);
[[noreturn]] void CollectiveTimedOut(const std::string& backend, const std::string& what,
                                     int timeout_ms, int rank, int size,
                                     const std::string& note = "");

// The time-out of one pending collective: a ProgressDeadline whose probe is the collective's
// peer-progress probe (Collective::PeerProgress); the first time a busy peer restarts it, a line
// naming the collective and this rank is logged.
class CollectiveClock {
 public:
  CollectiveClock(const Collective& c, int timeout_ms);
  bool Expired(const std::string& what);
  std::string Note() const { return deadline_.Note(); }

 private:
  const Collective& c_;
  ProgressDeadline deadline_;
};

// Fault injection for the e2e tests of hung ranks (MPI back-end). With
// IRANKER_TEST_FREEZE="KIND:RANK:FILE" in the environment (KIND "reduce-scatter" or "all-gather"),
// rank RANK stops itself (SIGSTOP) right after it has started a collective of that kind while FILE
// exists: its peers are left inside that collective, as with a rank hung mid-collective. Without
// the variable: one getenv, once.
void FreezeHereIfAsked(const char* kind, int rank);

}  // namespace iranker::collective
