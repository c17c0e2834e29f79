#include "learner/learner_rank.h"

#include <sys/resource.h>

#include <algorithm>
#include <set>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "cluster/roles.h"
#include "learner/samples.h"
#include "model/weight_sync.h"

namespace iranker {
namespace {

double PeakRssMb() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;  // Linux: kilobytes
}

}  // namespace

LearnerRank::LearnerRank(const LearnerRankSpec& spec, zmq::context_t& ctx,
                         collective::Collective& learners, Learner& learner,
                         TrajectoryLogWriter* log, ProgressLease* lease,
                         std::unique_ptr<comm::GroupTransport> group)
    : spec_(spec), learners_(learners), learner_(learner), log_(log), lease_(lease) {
  receiver_ = std::make_unique<comm::TrajectoryReceiver>(ctx, spec_.stream, spec_.rank);
  if (spec_.rank == 0)
    publisher_ = std::make_unique<comm::WeightPublisher>(ctx, spec_.weights, /*publisher_id=*/0,
                                                         std::move(group));
  // Each bound address is broadcast from its owner to all ranks, in rank order on every rank.
  for (int r = 0; r < spec_.ranks; ++r) {
    std::string s = spec_.rank == r ? receiver_->endpoint() : std::string();
    learners_.BroadcastBytes(&s, r, "stream endpoint of learner " + std::to_string(r));
    streams_.push_back(s);
  }
}

LearnerRank::~LearnerRank() = default;

std::string LearnerRank::weights_endpoint() const {
  return publisher_ ? publisher_->endpoint() : std::string();
}

void LearnerRank::Publish() {
  if (!publisher_) return;
  ProgressLease::Phase phase(lease_, "publishing the policy weights");
  const auto t0 = Clock::now();
  // On the wire, version v + 1 carries the weights after v optimizer steps: the subscriber
  // treats 0 as "nothing yet".
  [[maybe_unused]] const size_t bytes =
      publisher_->Publish(learner_.version() + 1, PolicyTensorViews(learner_.policy()));
  publish_seconds_ = SecondsSince(t0);
  IR_LOG_DEBUG("published policy version {} ({} bytes)", learner_.version(),
               static_cast<uint64_t>(bytes));
}

bool LearnerRank::AnyStopSignal(bool mine) {
  std::vector<double> stop = {mine ? 1.0 : 0.0};
  SumOverRanks(&stop, "stop signal");
  return stop[0] > 0;
}

void LearnerRank::SumOverRanks(std::vector<double>* values, const std::string& what) {
  if (spec_.ranks > 1) learners_.AllreduceSumDoubles(values, what);
}

std::vector<TrajectoryBatch> LearnerRank::Collect(
    int64_t step, const std::function<void()>& poll_actors,
    const std::function<std::string()>& describe_actors) {
  const auto t0 = Clock::now();
  const bool one_rank = spec_.ranks == 1;
  std::vector<TrajectoryBatch> batches;
  std::set<int> from;
  while (true) {
    TrajectoryBatch b;
    while (receiver_->Receive(&b, std::chrono::milliseconds(one_rank ? 200 : 20))) {
      const uint64_t v =
          b.steps.empty() ? static_cast<uint64_t>(step) : b.steps.front().policy_version;
      if (v != static_cast<uint64_t>(step)) {
        ++stale_dropped_;
        IR_LOG_WARN("learner {}: dropped a batch of actor {} for policy version {} at step {}",
                    spec_.rank, b.actor_id, v, step);
        continue;
      }
      if (!from.insert(b.actor_id).second) {
        // A restarted actor rolled out the step it had already delivered: keep the first.
        IR_LOG_WARN("learner {}: dropped a second batch of actor {} for step {} (restarted actor)",
                    spec_.rank, b.actor_id, step);
        continue;
      }
      delivered_ever_.insert(b.actor_id);
      batches.push_back(std::move(b));
      b = TrajectoryBatch();
      if (one_rank) break;
    }
    if (poll_actors) poll_actors();
    // With the count, whether any rank has waited past cluster.actor_takeover_s: from then on the
    // ranks compare which shares they hold (all together, as they see the same sums).
    // (At once when an earlier step already handed shares on: their actors may still be gone.)
    const bool late = spec_.actor_takeover_s > 0 &&
                      (SecondsSince(t0) > spec_.actor_takeover_s || !takeover_.assign.empty());
    std::vector<double> total = {static_cast<double>(batches.size()), late ? 1.0 : 0.0};
    SumOverRanks(&total, "batch count of step " + std::to_string(step));
    if (total[1] == 0 && total[0] >= spec_.batches_per_step) return batches;
    if (total[1] > 0 && TakeOver(step, from, &batches)) return batches;
    if (SecondsSince(t0) > spec_.collect_timeout_s) {
      std::string have;
      for (int a : from) have += " " + std::to_string(a);
      Fail(ErrorCode::kDeadlineExceeded, "learner ", spec_.rank, ": step ", step, " has ", total[0],
           " of ", spec_.batches_per_step,
           " actor batches after cluster.collect_timeout_s=", spec_.collect_timeout_s,
           " s (this rank received from actors:", have.empty() ? " none" : have, "; ",
           receiver_->live_actors(), " actors alive",
           describe_actors ? "; " + describe_actors() : std::string(),
           "): an actor is stuck or dead; see ", spec_.logs_dir);
    }
  }
}

bool LearnerRank::TakeOver(int64_t step, const std::set<int>& from,
                           std::vector<TrajectoryBatch>* batches) {
  // Which rank holds each share (actor a's share is a batch with actor_id a): the lowest rank
  // that holds it keeps it; another copy (the actor came back after its share was handed on) is
  // dropped, so every share is trained once.
  // After them, the actors each rank hears from (an actor slow to roll out is alive, and keeps
  // its share; only a silent one's share is handed on).
  // An actor never heard of in this run may still be loading its model: its share waits (for
  // collect_timeout_s, as before).
  const int shares = spec_.batches_per_step, ranks = spec_.ranks;
  const size_t live_at = static_cast<size_t>(shares) * ranks, known_at = live_at + shares;
  std::vector<double> held(known_at + shares, 0.0);
  for (int a : from)
    if (a >= 0 && a < shares) held[static_cast<size_t>(spec_.rank) * shares + a] = 1.0;
  for (int32_t a : receiver_->live_actor_ids())
    if (a >= 0 && a < shares) held[live_at + a] = held[known_at + a] = 1.0;
  for (int a : delivered_ever_)
    if (a >= 0 && a < shares) held[known_at + a] = 1.0;
  SumOverRanks(&held, "actor shares of step " + std::to_string(step));
  std::vector<int> owner(shares, -1), missing, helpers;
  bool waiting = false;  // a share is missing but its actor is alive
  for (int a = 0; a < shares; ++a) {
    for (int r = 0; r < ranks && owner[a] < 0; ++r)
      if (held[static_cast<size_t>(r) * shares + a] > 0) owner[a] = r;
    const bool alive = held[live_at + a] > 0, known = held[known_at + a] > 0;
    if (owner[a] >= 0 && alive)
      helpers.push_back(a);  // delivered its share and is still there
    else if (owner[a] < 0 && (alive || !known))
      waiting = true;
    else if (owner[a] < 0)
      missing.push_back(a);
  }
  if (missing.empty() && waiting) return false;
  // Every rank decides this from the same sums: the ranks stop together.
  int live = 0;
  for (int a = 0; a < shares; ++a) live += held[live_at + a] > 0;
  if (!missing.empty() && live < spec_.min_actors) {
    std::string silent;
    for (int a : missing) silent += (silent.empty() ? "" : ",") + std::to_string(a);
    Fail(ErrorCode::kUnavailable, "learner ", spec_.rank, ": step ", step, ": ", live, " of ",
         shares, " actors heard from, fewer than cluster.min_actors=", spec_.min_actors,
         " (silent: ", silent, "); the run stops (the newest checkpoint resumes it); see ",
         spec_.logs_dir);
  }
  if (missing.empty()) {
    std::vector<TrajectoryBatch> kept;
    for (auto& b : *batches) {
      if (b.actor_id >= 0 && b.actor_id < shares && owner[b.actor_id] != spec_.rank) {
        IR_LOG_WARN("learner {}: dropped actor {}'s batch of step {}: learner {} has its share",
                    spec_.rank, b.actor_id, step, owner[b.actor_id]);
        continue;
      }
      kept.push_back(std::move(b));
    }
    *batches = std::move(kept);
    return true;
  }
  // Rank 0 hands each missing share to a live actor whose own share arrived.
  if (spec_.rank == 0 && !spec_.run_dir.empty() && !helpers.empty()) {
    Takeover t;
    t.step = step;
    for (size_t i = 0; i < missing.size(); ++i)
      t.assign.emplace_back(missing[i], helpers[i % helpers.size()]);
    if (t.assign != takeover_.assign || t.step != takeover_.step) {
      std::string what;
      for (const auto& [share, by] : t.assign)
        what += " " + std::to_string(share) + "->" + std::to_string(by);
      IR_LOG_WARN(
          "learner 0: step {} misses the batch of actor(s) {}, silent (a wait of "
          "cluster.actor_takeover_s={} s, or gone since an earlier step); their shares go to "
          "live actors (share->actor):{}",
          step,
          [&] {
            std::string m;
            for (int a : missing) m += (m.empty() ? "" : ",") + std::to_string(a);
            return m;
          }(),
          spec_.actor_takeover_s, what);
      WriteTakeover(spec_.run_dir, t);
      takeover_ = t;
    }
  }
  return false;
}

nlohmann::json LearnerRank::Step(int64_t step, const std::function<void()>& poll_actors,
                                 const std::function<std::string()>& describe_actors) {
  const auto t0 = Clock::now();
  std::vector<TrajectoryBatch> batches = Collect(step, poll_actors, describe_actors);
  const double wait_s = SecondsSince(t0);
  const auto t_log = Clock::now();
  if (log_)
    for (const auto& b : batches) log_->Append(b);
  const double log_s = SecondsSince(t_log);

  nlohmann::json rec = {{"type", "train"}, {"step", step + 1}};
  std::vector<TrainSample> samples = SamplesFromBatches(batches, &rec);
  int64_t learn_tokens = 0, response_tokens = 0;
  for (const auto& s : samples) {
    learn_tokens += s.prompt.size() + s.response.size();
    response_tokens += s.response.size();
  }
  // Over all learner ranks: samples, tokens trained, response tokens generated.
  std::vector<double> counts = {static_cast<double>(samples.size()),
                                static_cast<double>(learn_tokens),
                                static_cast<double>(response_tokens)};
  SumOverRanks(&counts, "trajectory count");
  trajectories_ += static_cast<int64_t>(counts[0]);

  const auto t1 = Clock::now();
  Metrics m = learner_.Step(std::move(samples));
  const double learn_s = SecondsSince(t1);
  // Tokens the forward/backward actually computed, over all ranks (a prompt shared by G samples
  // counts once): the basis of model FLOP utilisation.
  std::vector<double> computed = {m.count("prefix_sharing") && m["prefix_sharing"] > 0
                                      ? static_cast<double>(learn_tokens) / m["prefix_sharing"]
                                      : static_cast<double>(learn_tokens)};
  Publish();  // the actors start the next rollout while the trainer logs, evaluates, checkpoints
  // With it, each rank's peak resident memory in its own slot (zeros elsewhere).
  computed.resize(1 + spec_.ranks, 0.0);
  computed[1 + spec_.rank] = PeakRssMb();
  SumOverRanks(&computed, "computed token count");
  double peak_rss_max = 0, peak_rss_min = computed[1];
  for (int r = 0; r < spec_.ranks; ++r) {
    peak_rss_max = std::max(peak_rss_max, computed[1 + r]);
    peak_rss_min = std::min(peak_rss_min, computed[1 + r]);
  }

  for (const auto& [k, v] : m) rec[k] = v;
  rec["trajectories"] = counts[0];
  rec["wait_seconds"] = wait_s;
  rec["trajlog_append_seconds"] = log_s;
  rec["learn_seconds"] = learn_s;
  rec["learner_tokens_per_s"] = counts[1] / std::max(1e-9, learn_s);
  rec["learner_computed_tokens_per_s"] = computed[0] / std::max(1e-9, learn_s);
  // All actors together: the step's response tokens over the time the learner waited for them.
  // (Only when the learner actually waited: batches that arrived during an evaluation say
  // nothing.)
  if (wait_s > 0.05) rec["generated_tokens_per_s"] = counts[2] / wait_s;
  rec["stale_batches_dropped"] = stale_dropped_;
  rec["publish_seconds"] = publish_seconds_;
  rec["peak_rss_mb"] = PeakRssMb();       // this rank's (rank 0's in metrics.jsonl)
  rec["peak_rss_mb_max"] = peak_rss_max;  // the largest learner rank's, after Publish
  rec["peak_rss_mb_min"] = peak_rss_min;  // the smallest learner rank's
  return rec;
}

comm::ReceiverStats LearnerRank::Close() {
  const comm::ReceiverStats stats = receiver_->stats();
  receiver_.reset();
  publisher_.reset();
  learners_.Barrier("trajectory logs closed");
  return stats;
}

}  // namespace iranker
