// learner/learner_rank.h — one data-parallel learner rank's side of a training run: each step it
// collects the actors' batches (exactly one per actor with a share of the step's queries, counted
// across the learner ranks), appends them to the HDF5 trajectory log, trains on them with the
// gradients averaged over the ranks (learner/learner.h, learner/data_parallel.h) and — learner
// rank 0 — publishes the next policy version to the actors.
//
//   learner rank 0 ── WeightPublisher ──(policy version v)─────────► every actor
//   every actor ──── TrajectorySender ──(batches of version v)─────► learner ranks (round robin)
//   learner ranks ── all-reduce of gradients and of the step's counts ── each other
//
// The trainer (trainer/distributed.cc, trainer/local.cc) composes it with the run directory:
// the rendezvous, the actors, evaluations and checkpoints.
//
// What it drops, and says so: a batch for another policy version than the step's (stale), and a
// second batch of one actor for one step (a restarted actor repeating the step it had already
// delivered; the first one is kept). Nothing waits forever: a step still missing batches after
// cluster.collect_timeout_s fails naming the step, the actors heard from and the actors alive.
// All ranks call Step and AnyStopSignal in the same order (they are collectives).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "cluster/progress_lease.h"
#include "cluster/roles.h"
#include "collective/collective.h"
#include "comm/options.h"
#include "comm/stream.h"
#include "comm/weight_group.h"
#include "comm/weights.h"
#include "learner/learner.h"
#include "trajlog/trajlog.h"

namespace iranker {

struct LearnerRankSpec {
  int rank = 0, ranks = 1;       // this learner rank, of `ranks`
  int batches_per_step = 1;      // actors with a non-empty share of each step's queries
  comm::StreamOptions stream;    // this rank binds stream.learner_endpoints[rank]
  comm::WeightsOptions weights;  // rank 0 binds weights.endpoint
  double collect_timeout_s = 600;
  double actor_takeover_s = 0;  // cluster.actor_takeover_s (0: never)
  int min_actors = 1;           // cluster.min_actors
  std::string run_dir;          // rank 0 writes RUN/takeover.json there ("": never)
  std::string logs_dir;         // where the actors' logs are, named in time-out messages
};

class LearnerRank {
 public:
  // Binds this rank's trajectory endpoint (and on rank 0 the weight publisher, with the group
  // transport `group`, which may be null), then exchanges the bound endpoints over `learners` (a
  // collective: every rank constructs its LearnerRank together). `log` (may be null) receives
  // every batch; `lease` (may be null) is rank 0's progress lease, of which each publication is
  // a phase. `learner`, `policy`, `log` and `lease` must outlive this object.
  LearnerRank(const LearnerRankSpec& spec, zmq::context_t& ctx, collective::Collective& learners,
              Learner& learner, TrajectoryLogWriter* log, ProgressLease* lease,
              std::unique_ptr<comm::GroupTransport> group);
  ~LearnerRank();

  // The bound trajectory endpoint of every rank, in rank order.
  const std::vector<std::string>& stream_endpoints() const { return streams_; }
  // Rank 0: the weight publisher's bound endpoint ("" on other ranks).
  std::string weights_endpoint() const;

  // Rank 0: publishes the policy's weights as the version after learner.version() optimizer
  // steps; a no-op on other ranks.
  void Publish();

  // Whether any rank saw a stop signal (`mine` on this one): every rank returns the same answer.
  bool AnyStopSignal(bool mine);

  // Trains step `step` (0-based): collects its batches, logs them, runs the learner's optimizer
  // step and publishes the next version (rank 0). `poll_actors` (may be empty) is called while
  // waiting and throws to stop at once (an actor thread failed); `describe_actors` (may be
  // empty) adds the actors' supervisor state to a time-out message. Returns the step's record for
  // metrics.jsonl (type, step, the learner's metrics, rollout figures, timings; sums over the
  // ranks where marked), complete on rank 0.
  nlohmann::json Step(int64_t step, const std::function<void()>& poll_actors,
                      const std::function<std::string()>& describe_actors);

  // Step records trained on so far, over all ranks.
  int64_t trajectories() const { return trajectories_; }

  // Closes the stream and the publisher (after the last step), then waits for every rank.
  // Returns this rank's stream figures.
  comm::ReceiverStats Close();

 private:
  std::vector<TrajectoryBatch> Collect(int64_t step, const std::function<void()>& poll_actors,
                                       const std::function<std::string()>& describe_actors);
  // Sums `values` over the ranks (in place); a no-op for one rank.
  void SumOverRanks(std::vector<double>* values, const std::string& what);

  LearnerRankSpec spec_;
  collective::Collective& learners_;
  Learner& learner_;
  TrajectoryLogWriter* log_;
  ProgressLease* lease_;
  std::unique_ptr<comm::TrajectoryReceiver> receiver_;
  // After cluster.actor_takeover_s: compares the ranks' shares of `step` (a collective); true
  // when every share is held (this rank's copies of shares a lower rank holds dropped from
  // *batches); otherwise rank 0 hands the missing shares to live actors (RUN/takeover.json).
  bool TakeOver(int64_t step, const std::set<int>& from, std::vector<TrajectoryBatch>* batches);
  Takeover takeover_;             // rank 0: the hand-over last written
  std::set<int> delivered_ever_;  // actors whose batches this rank received in this run
  std::unique_ptr<comm::WeightPublisher> publisher_;
  std::vector<std::string> streams_;
  double publish_seconds_ = 0;  // the last publication's time
  int64_t stale_dropped_ = 0;
  int64_t trajectories_ = 0;
};

}  // namespace iranker
