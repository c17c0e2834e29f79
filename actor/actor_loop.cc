#include "actor/actor_loop.h"

#include <chrono>
#include <set>
#include <utility>

#include "actor/rollout.h"
#include "actor/run_plan.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "cluster/progress_lease.h"
#include "cluster/roles.h"
#include "comm/stream.h"
#include "comm/weights.h"
#include "model/policy.h"
#include "model/weight_sync.h"

namespace iranker {
namespace {

// The actor's concise progress line, at most every 30 s (and after the last step).
class ActorReport {
 public:
  explicit ActorReport(int actor_id) : actor_id_(actor_id) {}

  void Add(const RolloutStats& rs, double seconds, uint64_t version, bool last,
           const TrajectoryBatch& batch) {
    batches_ += 1, steps_ += rs.steps, episodes_ += rs.episodes;
    generated_ += rs.generated_tokens, seconds_ += seconds;
    prompt_ += rs.prompt_tokens, reused_ += rs.reused_tokens;
    if (SecondsSince(last_line_) < 30 && !last) return;
    double reward = 0;
    for (const auto& st : batch.steps) reward += st.reward;
    IR_LOG_INFO(
        "actor {}: policy v{} | {} batches, {} episodes, {} steps since last line | {:.0f} gen "
        "tok/s | {:.0f}% prompt reused | reward {:.3f} (this batch)",
        actor_id_, version, batches_, episodes_, steps_, generated_ / std::max(1e-9, seconds_),
        prompt_ ? 100.0 * reused_ / prompt_ : 0.0,
        batch.steps.empty() ? 0.0 : reward / batch.steps.size());
    *this = ActorReport(actor_id_);
  }

 private:
  int actor_id_;
  int64_t batches_ = 0, steps_ = 0, episodes_ = 0, generated_ = 0, prompt_ = 0, reused_ = 0;
  double seconds_ = 0;
  Clock::time_point last_line_ = Clock::now();
};

class ActorLoop {
 public:
  ActorLoop(const ActorSpec& spec, zmq::context_t& ctx, const std::atomic<bool>* cancel)
      : spec_(spec),
        ctx_(ctx),
        cancel_(cancel),
        timeout_(std::chrono::milliseconds(static_cast<int64_t>(spec.weights_timeout_s * 1000))),
        rendezvous_(ReadAndAnnounce(spec, cancel)),
        policy_(LoadPolicy(rendezvous_.init_dir, spec.dtype, spec.device)),
        train_(LoadTrainRecords(spec.data)),
        stream_(train_.size(), spec.seed),
        prompts_(spec.prompt),
        runner_(*policy_.model.model, *policy_.tokenizer, prompts_, spec.reward, spec.actor,
                spec.actor_id),
        weights_(ctx, WeightsOptions(), /*subscriber_id=*/spec.actor_id + 1,
                 spec.group_transport ? spec.group_transport() : nullptr),
        sender_(ctx, StreamOptions(), spec.actor_id),
        learner_work_(ProgressLeaseDir(spec.run_dir), /*self_rank=*/-1),
        report_(spec.actor_id) {}

  void Run() {
    uint64_t version = TakeWeights(0);
    while (static_cast<int64_t>(version) < spec_.steps) {
      RollOut(version);
      if (static_cast<int64_t>(version) + 1 >= spec_.steps) break;
      version = TakeWeights(version + 1);
    }
    FlushAll();
  }

 private:
  static Rendezvous ReadAndAnnounce(const ActorSpec& spec, const std::atomic<bool>* cancel) {
    Rendezvous r = ReadRendezvous(spec.run_dir, spec.weights_timeout_s, cancel);
    IR_LOG_INFO("actor {}: learners at {}, weights at {} (session {})", spec.actor_id,
                r.streams.front(), r.weights, r.session);
    return r;
  }

  comm::WeightsOptions WeightsOptions() const {
    comm::WeightsOptions o = spec_.weights;
    o.endpoint = rendezvous_.weights;
    return o;
  }
  comm::StreamOptions StreamOptions() const {
    comm::StreamOptions o = spec_.stream;
    o.learner_endpoints = rendezvous_.streams;
    return o;
  }

  void ThrowIfCancelled() const {
    if (cancel_ && cancel_->load())
      Fail(ErrorCode::kUnavailable, "actor ", spec_.actor_id, ": cancelled");
  }

  // Learners that restarted (a requeued job, a new mpirun) write a new rendezvous: these
  // endpoints are dead. Exit so that the supervisor (or the srun loop) restarts this actor, which
  // then reads the new one.
  void ThrowIfLearnersRestarted() const {
    if (const std::string now = RendezvousSession(spec_.run_dir);
        !now.empty() && now != rendezvous_.session)
      Fail(ErrorCode::kUnavailable, "actor ", spec_.actor_id,
           ": the learners restarted (rendezvous session ", rendezvous_.session, " -> ", now,
           "); exiting to be restarted with the new endpoints");
  }

  // Waits for a policy version >= min_version, applies it and returns it (optimizer steps behind
  // the weights; on the wire it is one more, 0 meaning "nothing yet"). Learner rank 0 publishes
  // the next version only after its evaluation or checkpoint, which may outlast
  // weights_timeout_s: its progress lease says whether it is still at it.
  uint64_t TakeWeights(uint64_t min_version) {
    comm::WeightSet ws;
    auto next_check = Clock::now() + std::chrono::seconds(2);
    const bool got = WaitWhileProgressing(
        [&] {
          ThrowIfCancelled();
          if (weights_.WaitFor(min_version + 1, &ws, std::chrono::milliseconds(200))) return true;
          // This actor holds the weights of step min_version - 1: shares of that step handed to
          // it (their actors went silent) are rolled out now.
          if (min_version > 0) TakeOverShares(static_cast<int64_t>(min_version) - 1);
          if (Clock::now() > next_check) {
            next_check = Clock::now() + std::chrono::seconds(2);
            ThrowIfLearnersRestarted();
          }
          return false;
        },
        timeout_, &learner_work_,
        "actor " + std::to_string(spec_.actor_id) + " waiting for policy version " +
            std::to_string(min_version));
    if (!got)
      Fail(ErrorCode::kDeadlineExceeded, "actor ", spec_.actor_id,
           ": no policy version >= ", min_version, " from ", rendezvous_.weights,
           " within cluster.weights_timeout_s=", spec_.weights_timeout_s,
           " s: learner rank 0 is stuck or dead; see its log");
    ApplyWeights(*policy_.model.model, ws);
    runner_.InvalidateCache();
    return ws.version - 1;
  }

  // Rolls out this actor's share of step `version` and streams the batch (none when the share is
  // empty: more actors than queries per batch).
  void RollOut(uint64_t version) {
    auto part = ActorQueries(train_, stream_, version, spec_.actor.queries_per_batch,
                             spec_.actor_id, spec_.actors);
    if (part.empty()) return;
    TrajectoryBatch batch;
    batch.actor_id = spec_.actor_id;
    const auto t0 = Clock::now();
    const RolloutStats rs =
        runner_.Run(part, ActorSeed(spec_.seed, version, spec_.actor_id), version, &batch);
    report_.Add(rs, SecondsSince(t0), version,
                /*last=*/static_cast<int64_t>(version) + 1 >= spec_.steps, batch);
    if (!sender_.Send(std::move(batch), timeout_))
      Fail(ErrorCode::kDeadlineExceeded, "actor ", spec_.actor_id,
           ": no learner took the batch of version ", version,
           " within cluster.weights_timeout_s=", spec_.weights_timeout_s, " s");
  }

  // Rolls out the shares of `step` that RUN/takeover.json hands to this actor (checked once a
  // second). A share is fixed by (step, actor id): the queries and seed of the silent actor, so
  // its trajectories are the ones it would have sent. They go under that actor's id as a new
  // incarnation of it (as a restarted actor would send them); the sender is closed once the
  // learners took the batch, so that it does not keep the silent actor looking alive.
  void TakeOverShares(int64_t step) {
    if (Clock::now() < next_takeover_check_) return;
    next_takeover_check_ = Clock::now() + std::chrono::seconds(1);
    const Takeover t = ReadTakeover(spec_.run_dir);
    if (t.step != step) return;
    for (const auto& [share, by] : t.assign) {
      if (by != spec_.actor_id || !taken_over_.insert({step, share}).second) continue;
      auto part =
          ActorQueries(train_, stream_, step, spec_.actor.queries_per_batch, share, spec_.actors);
      if (part.empty()) continue;
      IR_LOG_WARN(
          "actor {}: rolling out actor {}'s share of step {} (the learners hand it over: "
          "actor {} is silent)",
          spec_.actor_id, share, step, share);
      RolloutRunner runner(*policy_.model.model, *policy_.tokenizer, prompts_, spec_.reward,
                           spec_.actor, share);
      TrajectoryBatch batch;
      batch.actor_id = share;
      runner.Run(part, ActorSeed(spec_.seed, step, share), static_cast<uint64_t>(step), &batch);
      comm::TrajectorySender sender(ctx_, StreamOptions(), share);
      if (!sender.Send(std::move(batch), timeout_))
        Fail(ErrorCode::kDeadlineExceeded, "actor ", spec_.actor_id, ": no learner took actor ",
             share, "'s share of step ", step, " within cluster.weights_timeout_s");
      const auto deadline = Clock::now() + timeout_;
      while (!sender.Flush(std::chrono::milliseconds(200)) && Clock::now() < deadline) {
        ThrowIfCancelled();
        if (RunFinished(spec_.run_dir)) break;
      }
    }
  }

  // Waits for the learners to accept this actor's last batches, unless they have completed the
  // run without them (another actor's batches filled the last step): an actor started by hand
  // or by a second srun step then exits instead of waiting out its time-out.
  void FlushAll() {
    const auto deadline = Clock::now() + timeout_;
    auto next_check = Clock::now() + std::chrono::seconds(1);
    bool flushed = false;
    while (!flushed && Clock::now() < deadline) {
      ThrowIfCancelled();
      flushed = sender_.Flush(std::chrono::milliseconds(200));
      if (!flushed && Clock::now() > next_check) {
        next_check = Clock::now() + std::chrono::seconds(1);
        if (RunFinished(spec_.run_dir)) {
          IR_LOG_INFO(
              "actor {}: the learners completed the run ({}/result.json); batches they "
              "did not need are dropped",
              spec_.actor_id, spec_.run_dir);
          return;
        }
      }
    }
    if (!flushed)
      Fail(ErrorCode::kDeadlineExceeded, "actor ", spec_.actor_id,
           ": batches not accepted by the learners at the end");
  }

  const ActorSpec& spec_;
  zmq::context_t& ctx_;
  const std::atomic<bool>* cancel_;
  std::set<std::pair<int64_t, int>> taken_over_;  // (step, share) rolled out for another actor
  Clock::time_point next_takeover_check_ = Clock::now();
  const std::chrono::milliseconds timeout_;
  const Rendezvous rendezvous_;
  Policy policy_;
  const std::vector<QueryRecord> train_;
  QueryStream stream_;
  PromptSet prompts_;
  RolloutRunner runner_;
  comm::WeightSubscriber weights_;
  comm::TrajectorySender sender_;
  ProgressWatch learner_work_;
  ActorReport report_;
};

}  // namespace

void RunActor(const ActorSpec& spec, zmq::context_t& ctx, const std::atomic<bool>* cancel) {
  ActorLoop(spec, ctx, cancel).Run();
}

}  // namespace iranker
