// cluster/progress_lease.h — "busy on my own, and still making progress": a rank's word to the
// peers that wait for it in a collective.
//
// Some work runs on one learner rank only: rank 0 writes the initial policy, evaluates the policy
// and writes checkpoints. Its peers meanwhile wait in their next collective, whose time-out
// (comm.allreduce.timeout_ms) is there to catch a hung rank, and the actors wait for the next
// policy version (cluster.weights_timeout_s, WaitWhileProgressing). A lease tells the two apart
// without a guess at how long that work may take: the busy rank opens a phase and beats from the
// thread doing the work (once per generated evaluation step, once per checkpoint file); a peer
// whose collective reaches its deadline asks its ProgressWatch, and while a phase is open and its
// count has moved since the last look, the peer waits one more time-out. A rank that hangs
// (stopped, deadlocked, stuck on a device or a file system) stops beating, and its peers time out
// as before: beats come from the working thread, never from a helper thread that would outlive a
// hang. So timeout_ms bounds the time between two signs of progress, not the length of the work:
// a peer times out once it has seen no beat for between one and two time-outs (it looks once per
// time-out), and any single step of the work (one generated answer, one file written) must fit
// in one.
//
// A lease is a fixed-size text record in <dir>/rank-R, in a directory every rank sees (the run
// directory, which is shared anyway: checkpoints and the rendezvous live there). Each write opens
// the file, overwrites the record in place and closes it, and each read opens it afresh, so NFS
// clients see new contents (close-to-open consistency). Only counts are compared, never clocks of
// different hosts. A lease touches the disk only once a phase begins (a run that fails its input
// checks writes nothing), except to reset a record a previous run left behind. The lease is
// advisory: a write that fails is logged once and training goes on (peers then time out as they
// would without it).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace iranker {

class ProgressLease {
 public:
  // The lease of `rank` in `dir` (created with the first phase); a record left there by an earlier
  // run is reset to idle now.
  ProgressLease(std::string dir, int rank);
  ~ProgressLease();
  ProgressLease(const ProgressLease&) = delete;
  ProgressLease& operator=(const ProgressLease&) = delete;

  // Opens a phase; `what` names it in the peers' logs. Phases nest: the innermost open one is
  // shown, and the rank is busy until the outermost ends.
  void Begin(const std::string& what);
  // A sign of progress within an open phase (ignored outside one). Cheap: the record is written
  // at most every kMinWriteMs.
  void Beat();
  // Closes the innermost phase; after the outermost, peers waiting from now on see an idle rank.
  void End();
  // A callback that beats `lease`, for the work's progress hooks; empty for a null lease.
  static std::function<void()> BeatOf(ProgressLease* lease) {
    if (!lease) return {};
    return [lease] { lease->Beat(); };
  }
  // The beats counted so far (every Begin, Beat and End counts one).
  uint64_t count() const { return count_; }
  const std::string& path() const { return path_; }

  static constexpr int64_t kMinWriteMs = 100;

  // Begin on construction, End on destruction; a null lease does nothing.
  class Phase {
   public:
    Phase(ProgressLease* lease, const std::string& what) : lease_(lease) {
      if (lease_) lease_->Begin(what);
    }
    ~Phase() {
      if (lease_) lease_->End();
    }
    Phase(const Phase&) = delete;
    Phase& operator=(const Phase&) = delete;

   private:
    ProgressLease* lease_;
  };

 private:
  void Write();

  std::string dir_, path_;
  uint64_t count_ = 0;
  std::vector<std::string> phases_;  // open phases, outermost first
  int64_t last_write_ms_ = 0;
  bool dir_made_ = false;  // `dir` created (once, before the first write)
  bool warned_ = false;
};

// <run>/progress: the learner ranks' leases of a run directory.
std::string ProgressLeaseDir(const std::string& run_dir);

// What a lease file says (ReadProgressLease): false when it is missing or not a lease record.
struct LeaseRecord {
  uint64_t count = 0;
  bool busy = false;
  std::string what;
};
bool ReadProgressLease(const std::string& path, LeaseRecord* out);

// The other ranks' leases, as one waiting rank sees them.
class ProgressWatch {
 public:
  ProgressWatch(std::string dir, int self_rank);
  // "" unless the count of some other rank moved since this watch last looked (a first look
  // counts as moved) and that rank has a phase open ("rank 0 is busy with 'evaluation' and making
  // progress") or had one open at the last look ("rank 0 has just finished 'evaluation'": it is
  // on its way). Reads the directory: meant for the rare moment a wait reaches its deadline.
  std::string Progress();

 private:
  struct Seen {
    uint64_t count;
    bool busy;
    std::string what;
  };
  std::string dir_;
  int self_;
  std::map<int, Seen> seen_;
};

// Polls `ready` (each call may block for a moment) until it returns true, or until `timeout` has
// passed with neither that nor news from `watch` (may be null), which is asked each time the
// time-out is reached: progress restarts it, and the first such news is logged as `who` waiting
// on it. Returns false on time-out. Exceptions from `ready` pass through. Actors use it to wait
// for weights and for the rendezvous while learner rank 0 evaluates or writes a checkpoint.
bool WaitWhileProgressing(const std::function<bool()>& ready, std::chrono::milliseconds timeout,
                          ProgressWatch* watch, const std::string& who);

}  // namespace iranker
