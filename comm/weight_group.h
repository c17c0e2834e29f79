// comm/weight_group.h — the group path of the weight broadcast (comm/weights.h): learner rank 0
// and the actors that can join form a broadcast group, and each new policy version's blob goes
// out as one group broadcast (NCCL on GPUs) instead of chunk by chunk over ZeroMQ.
//
// ZeroMQ stays the control plane and the fallback. A subscriber given a transport says so in
// every POLL, with the group epoch it is in (0: none). At each Publish the publisher's group
// thread (never its I/O thread, never the caller of Publish) takes the newest version and
//   1. if the live capable subscribers differ from the group's members, or a member reports
//      another epoch (it restarted, or its side failed), forms a new group: a fresh id (an
//      ncclUniqueId) goes to each member in a GROUP message {epoch, size, rank, id} and all join
//      (collective, bounded by peer_timeout_ms);
//   2. sends GROUP_SEND {epoch, version, size, chunking, blob checksum} to the members and
//      broadcasts the blob (bounded by peer_timeout_ms).
// Members verify the received blob against the checksum exactly as a ZeroMQ download is verified
// and stage it the same way, so the actor's HasNewer/TakeLatest/WaitFor do not change. Meanwhile
// members are announced only the versions the group has dealt with; every other subscriber (not
// capable, a late joiner, a restarted actor) is served over ZeroMQ at once, and joins the group at
// the next version. When anything fails (a member that died, a join or broadcast past its time,
// a blob that does not verify), the group is left, the publisher announces that version to the
// members over ZeroMQ and a member falls back to fetching it there: a failure costs one version's
// speed, never the version, and the next version forms a new group.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace iranker::comm {

// The data plane of the group path: one group at a time, rank 0 its root. Calls come from one
// thread. Every call is bounded: past its time-out it throws Error(kUnavailable) or
// Error(kDeadlineExceeded) and leaves the group (aborted, nothing left waiting).
class GroupTransport {
 public:
  virtual ~GroupTransport() = default;
  virtual std::string name() const = 0;  // "nccl", or a test transport's name
  // Root only: the id of a new group (opaque bytes, e.g. an ncclUniqueId).
  virtual std::string NewGroupId() = 0;
  // Collective over `size` processes: joins the group `id` as `rank`, leaving any earlier group.
  virtual void Join(const std::string& id, int size, int rank, int timeout_ms) = 0;
  // Collective over the group: rank 0's `n` bytes at `data` reach `data` on every member.
  virtual void Broadcast(char* data, size_t n, int timeout_ms) = 0;
  // Leaves the group, aborting anything outstanding. No-op without one.
  virtual void Leave() = 0;
};

// The NCCL transport is collective/nccl_weight_group.h (MakeNcclGroupTransport): comm/ stays free
// of CUDA and NCCL, and tests use an in-process transport.

}  // namespace iranker::comm
