#include "trainer/distributed_trainer.h"

#include <signal.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "actor/rollout.h"
#include "actor/weight_sync.h"
#include "base/atomic_file.h"
#include "base/error.h"
#include "base/log.h"
#include "cluster/progress_lease.h"
#include "cluster/roles.h"
#include "cluster/supervisor.h"
#include "comm/allreduce.h"
#include "comm/stream.h"
#include "comm/weights.h"
#include "learner/learner.h"
#include "trainer/config_io.h"
#include "trainer/policy_setup.h"
#include "trainer/progress.h"
#include "trainer/run_dir.h"
#include "trainer/train_common.h"

namespace iranker {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// SIGTERM / SIGUSR1 (Slurm's warning before the time limit, preemption, a user's kill): finish the
// current step, checkpoint, exit 0.
std::atomic<int> g_stop_signal{0};
extern "C" void OnStopSignal(int sig) { g_stop_signal.store(sig); }

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGUSR1, &sa, nullptr);
}

// This process's device: with model.device=cuda one GPU per process by its local index
// (cluster/roles.h DeviceForProcess).
std::string ProcessDevice(const Config& config, const RankLayout& me) {
  if (config.model.device != "cuda") return config.model.device;
  const int gpus = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  return DeviceForProcess(config.model.device, me.local_rank,
                          me.role == Role::kActor ? config.cluster.actor_gpu_offset : 0, gpus);
}

// The weight broadcast's group transport (comm.weights.group): NCCL on this process's GPU.
std::unique_ptr<comm::GroupTransport> WeightGroupTransport(const Config& config,
                                                           const RankLayout& me) {
  if (config.comm.weights.group != "nccl") return nullptr;
  if (config.cluster.transport == "inproc") {  // --local: actor threads share the learner's GPU
    if (me.role == Role::kLearner)
      IR_LOG_WARN(
          "comm.weights.group=nccl is not used by `train --local`: its actors are threads of this "
          "process on its GPU, and weights reach them over inproc:// ZeroMQ");
    return nullptr;
  }
  const std::string device = ProcessDevice(config, me);  // "cuda:N" (config.h checks model.device)
  return comm::MakeNcclGroupTransport(std::stoi(device.substr(device.find(':') + 1)));
}

double PeakRssMb() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;  // Linux: kilobytes
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Gradient averaging over the learner ranks. Parameters of one dtype and device go through a
// comm::GradientBucketer: armed before a step's last backward, its buckets are reduced while the
// rest of that backward runs, and the gradients end as slots of the averaged buckets. Otherwise
// (mixed dtypes: the same decision on every rank, as every rank holds the same model) one flat
// all-reduce of every gradient.
class CollectiveDataParallel : public DataParallel {
 public:
  CollectiveDataParallel(comm::Collective& c, const comm::AllreduceOptions& o) : c_(c), opt_(o) {}
  int rank() const override { return c_.rank(); }
  int world_size() const override { return c_.size(); }
  void BeforeLastBackward(const std::vector<at::Tensor>& params) override {
    if (comm::GradientBucketer* b = BucketerFor(params)) {
      b->BeginBackward();
      armed_ = b;
    }
  }
  void AverageGradients(const std::vector<at::Tensor>& params) override {
    comm::GradientBucketer* b = BucketerFor(params);
    if (b) {
      // A rank without micro-batches this step never armed it; every rank still reduces every
      // bucket, in the same order.
      if (armed_ != b) b->BeginBackward();
      armed_ = nullptr;
      b->FinishBackward();
      const comm::BucketerStats st = b->stats();
      last_ = {{"grad_buckets", st.buckets},
               {"grad_buckets_overlapped", st.buckets_started_in_backward},
               {"grad_allreduce_wait_s", st.finish_wait_seconds},
               {"grad_copied_mb", st.copied_bytes / 1e6}};
      return;
    }
    FlatAverage(params);
    last_.clear();
  }
  std::map<std::string, double> LastStats() const override { return last_; }
  double SumScalar(double x) override {
    std::vector<double> v = {x};
    c_.AllreduceSumDoubles(&v, "learner scalar");
    return v[0];
  }

 private:
  comm::GradientBucketer* BucketerFor(const std::vector<at::Tensor>& params) {
    if (params.empty()) return nullptr;
    const void* key = params.front().unsafeGetTensorImpl();
    auto it = bucketers_.find(key);
    if (it == bucketers_.end()) {
      std::unique_ptr<comm::GradientBucketer> b;
      bool uniform = true;
      for (const auto& p : params)
        uniform = uniform && p.scalar_type() == params[0].scalar_type() &&
                  p.device() == params[0].device();
      if (uniform) b = std::make_unique<comm::GradientBucketer>(c_, params, opt_);
      it = bucketers_.emplace(key, std::move(b)).first;
    }
    return it->second.get();
  }

  void FlatAverage(const std::vector<at::Tensor>& params) {
    std::vector<at::Tensor> grads;
    for (const auto& p : params) {
      at::Tensor g = p.grad();
      grads.push_back(g.defined() ? g.reshape({-1}).to(torch::kFloat)
                                  : torch::zeros({p.numel()}, torch::kFloat));
    }
    at::Tensor flat = torch::cat(grads).contiguous();
    c_.AllreduceMean(flat, "gradients");
    int64_t off = 0;
    for (const auto& p : params) {
      const int64_t n = p.numel();
      at::Tensor g = flat.slice(0, off, off + n).view(p.sizes()).to(p.scalar_type());
      if (p.grad().defined())
        p.mutable_grad().copy_(g);
      else
        p.mutable_grad() = g.clone();
      off += n;
    }
  }

  comm::Collective& c_;
  comm::AllreduceOptions opt_;
  // Per parameter set (policy, critic), keyed by its first parameter; null: flat averaging.
  std::map<const void*, std::unique_ptr<comm::GradientBucketer>> bucketers_;
  comm::GradientBucketer* armed_ = nullptr;
  std::map<std::string, double> last_;
};

// Every learner binds, then each bound address is broadcast from its owner to all learners (in
// rank order on every rank); rank 0 writes them to the rendezvous file for the actors.
std::vector<std::string> ExchangeStreamEndpoints(comm::Collective& learners, const RankLayout& me,
                                                 const std::string& mine) {
  std::vector<std::string> all;
  for (int r = 0; r < me.learners; ++r) {
    std::string s = me.learner_rank == r ? mine : std::string();
    learners.BroadcastBytes(&s, r, "stream endpoint of learner " + std::to_string(r));
    all.push_back(s);
  }
  return all;
}

std::string RandomSession() {
  std::random_device rd;
  char b[17];
  std::snprintf(b, sizeof b, "%08x%08x", rd(), rd());
  return b;
}

// The actor processes learner rank 0 supervises: this binary's `actor` command on the run's
// resolved config, with each actor's share of the host's cores.
std::unique_ptr<ProcessSupervisor> SpawnActors(const Config& config, const std::string& run_dir) {
  std::error_code ec;
  std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  if (ec)
    Fail(ErrorCode::kInternal, "cannot find this executable (/proc/self/exe): ", ec.message());
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const int threads =
      config.run.threads > 0 ? config.run.threads : std::max(1, cores / config.train.actors);
  const std::string abs_run = fs::absolute(run_dir).string();
  std::vector<ChildSpec> children;
  for (int a = 0; a < config.train.actors; ++a)
    children.push_back({"actor-" + std::to_string(a),
                        {self, "actor", "-c", abs_run + "/config.yaml", "--id", std::to_string(a),
                         "run.dir=" + abs_run, "run.threads=" + std::to_string(threads)}});
  auto sup = std::make_unique<ProcessSupervisor>(std::move(children), abs_run + "/logs",
                                                 config.cluster.max_actor_restarts);
  sup->Start();
  return sup;
}

// ---------------------------------------------------------------------------------------------
// Learner ranks.

// poll_actors (may be empty) is called while waiting for batches; it throws when an in-process
// actor has failed (--local), so the learner stops at once with the actor's error.
// lease (may be null): this rank's progress lease (evaluations and checkpoints are phases of it).
TrainResult RunLearner(const Config& config, const RankLayout& me, comm::Collective& learners,
                       const std::string& init_dir, zmq::context_t& ctx,
                       const std::function<void()>& poll_actors, ProgressLease* lease) {
  TrainResult result;
  const std::string run_dir = config.RunDir();
  result.run_dir = run_dir;
  const bool lead = me.learner_rank == 0;
  const uint64_t seed = config.run.seed;

  Policy policy = LoadPolicy(init_dir, config.model.dtype, ProcessDevice(config, me));
  DecoderLM& model = *policy.model.model;
  std::unique_ptr<CollectiveDataParallel> dp;
  if (me.learners > 1)
    dp = std::make_unique<CollectiveDataParallel>(learners, config.comm.allreduce);
  Learner learner(policy.model.model, config.learner, config.train.steps, dp.get());
  const ResumePoint resume = ResumeFromCheckpoint(run_dir, seed, model, learner, /*announce=*/lead);
  int64_t step = resume.step;

  comm::StreamOptions sopt = config.comm.stream;
  sopt.learner_endpoints.assign(me.learners, "");
  sopt.learner_endpoints[me.learner_rank] =
      StreamBindEndpoint(config.cluster, run_dir, me.learner_rank);
  auto receiver_ptr = std::make_unique<comm::TrajectoryReceiver>(ctx, sopt, me.learner_rank);
  comm::TrajectoryReceiver& receiver = *receiver_ptr;
  std::unique_ptr<comm::WeightPublisher> publisher;
  if (lead) {
    comm::WeightsOptions wopt = config.comm.weights;
    wopt.endpoint = WeightsBindEndpoint(config.cluster, run_dir);
    publisher = std::make_unique<comm::WeightPublisher>(ctx, wopt, /*publisher_id=*/0,
                                                        WeightGroupTransport(config, me));
  }
  const auto streams = ExchangeStreamEndpoints(learners, me, receiver.endpoint());
  // From here to the first step, rank 0 works on its own (rendezvous, actors, first weights, test
  // sets, initial evaluation) while the others wait in the step's first collective.
  ProgressLease* lead_lease = lead ? lease : nullptr;
  auto beat = [lead_lease] {
    if (lead_lease) lead_lease->Beat();
  };
  std::optional<ProgressLease::Phase> startup;
  startup.emplace(lead_lease, "starting the run");
  std::unique_ptr<ProcessSupervisor> supervisor;
  if (lead) {
    WriteRendezvous(run_dir, {streams, publisher->endpoint(), fs::absolute(init_dir).string(),
                              RandomSession()});
    IR_LOG_INFO("learner 0: trajectories at {}, weights at {}; actors find them in {}",
                receiver.endpoint(), publisher->endpoint(), RendezvousPath(run_dir));
    if (config.cluster.spawn_actors) supervisor = SpawnActors(config, run_dir);
    beat();
  }

  double publish_s = 0;  // the last publication's time on this rank (weight sync, learner side)
  auto publish = [&] {
    if (!publisher) return;
    ProgressLease::Phase phase(lead_lease, "publishing the policy weights");
    const auto t_pub = Clock::now();
    // On the wire, version v + 1 carries the weights after v optimizer steps: the subscriber
    // treats 0 as "nothing yet".
    [[maybe_unused]] const size_t bytes =
        publisher->Publish(learner.version() + 1, PolicyTensorViews(model));
    publish_s = Seconds(t_pub);
    IR_LOG_DEBUG("published policy version {} ({} bytes)", learner.version(),
                 static_cast<uint64_t>(bytes));
  };
  if (learner.version() != static_cast<uint64_t>(step))
    Fail(ErrorCode::kFailedPrecondition, resume.checkpoint, ": policy version ", learner.version(),
         " differs from the step ", step);
  publish();

  auto trajlog = OpenTrajectoryLog(config, run_dir, me.learner_rank, step, model.config().ToJson());
  beat();
  std::unique_ptr<RunBook> book;
  if (lead)
    book = std::make_unique<RunBook>(config, run_dir, init_dir, model, *policy.tokenizer, learner,
                                     step, &result, lease);
  beat();
  // The initial evaluation overlaps the actors' first rollout.
  if (lead && step == 0) book->EvaluateInitial();
  startup.reset();

  // Actors with a non-empty share of each step's queries each send one batch per step.
  const int expected = std::min(me.actors, config.actor.queries_per_batch);
  if (lead) book->BeginTraining();
  int64_t stale_dropped = 0;
  InstallStopHandlers();
  while (step < config.train.steps) {
    // A stop signal on any learner rank: every rank stops at the same step boundary.
    std::vector<double> stop = {g_stop_signal.load() != 0 ? 1.0 : 0.0};
    if (me.learners > 1) learners.AllreduceSumDoubles(&stop, "stop signal");
    if (stop[0] > 0) {
      result.interrupted = true;
      if (lead) {
        book->Checkpoint(step);
        IR_LOG_WARN(
            "stop signal: checkpoint written at step {} ({}); run the same command again to resume",
            step, CheckpointDir(run_dir, step));
      }
      break;
    }
    // Collect this step's batches across the learner ranks.
    const auto t0 = Clock::now();
    std::vector<TrajectoryBatch> batches;
    std::set<int> from;
    double total = 0;
    while (true) {
      TrajectoryBatch b;
      while (receiver.Receive(&b, std::chrono::milliseconds(me.learners > 1 ? 20 : 200))) {
        const uint64_t v =
            b.steps.empty() ? static_cast<uint64_t>(step) : b.steps.front().policy_version;
        if (v != static_cast<uint64_t>(step)) {
          ++stale_dropped;
          IR_LOG_WARN("learner {}: dropped a batch of actor {} for policy version {} at step {}",
                      me.learner_rank, b.actor_id, v, step);
          continue;
        }
        if (!from.insert(b.actor_id).second) {
          // A restarted actor rolled out the step it had already delivered: keep the first.
          IR_LOG_WARN(
              "learner {}: dropped a second batch of actor {} for step {} (restarted actor)",
              me.learner_rank, b.actor_id, step);
          continue;
        }
        batches.push_back(std::move(b));
        b = TrajectoryBatch();
        if (me.learners == 1) break;
      }
      if (poll_actors) poll_actors();
      if (me.learners > 1) {
        std::vector<double> n = {static_cast<double>(batches.size())};
        learners.AllreduceSumDoubles(&n, "batch count of step " + std::to_string(step));
        total = n[0];
      } else {
        total = batches.size();
      }
      if (total >= expected) break;
      if (Seconds(t0) > config.cluster.collect_timeout_s) {
        std::string have;
        for (int a : from) have += " " + std::to_string(a);
        Fail(ErrorCode::kDeadlineExceeded, "learner ", me.learner_rank, ": step ", step, " has ",
             total, " of ", expected,
             " actor batches after cluster.collect_timeout_s=", config.cluster.collect_timeout_s,
             " s (this rank received from actors:", have.empty() ? " none" : have, "; ",
             receiver.live_actors(), " actors alive",
             supervisor ? "; " + supervisor->Describe() : std::string(),
             "): an actor is stuck or dead; see ", run_dir, "/logs");
      }
    }
    const double wait_s = Seconds(t0);
    const auto t_log = Clock::now();
    if (trajlog)
      for (const auto& b : batches) trajlog->Append(b);
    const double log_s = Seconds(t_log);

    nlohmann::json rec = {{"type", "train"}, {"step", step + 1}};
    std::vector<TrainSample> samples = SamplesFromBatches(batches, &rec);
    int64_t learn_tokens = 0, response_tokens = 0;
    for (const auto& s : samples)
      learn_tokens += s.prompt.size() + s.response.size(), response_tokens += s.response.size();
    // Over all learner ranks: samples, tokens trained, response tokens generated.
    std::vector<double> counts = {static_cast<double>(samples.size()),
                                  static_cast<double>(learn_tokens),
                                  static_cast<double>(response_tokens)};
    if (me.learners > 1) learners.AllreduceSumDoubles(&counts, "trajectory count");
    result.trajectories += static_cast<int64_t>(counts[0]);

    const auto t1 = Clock::now();
    Metrics m = learner.Step(std::move(samples));
    const double learn_s = Seconds(t1);
    // Tokens the forward/backward actually computed, over all ranks (a prompt shared by G samples
    // counts once): the basis of model FLOP utilisation.
    std::vector<double> computed = {m.count("prefix_sharing") && m["prefix_sharing"] > 0
                                        ? static_cast<double>(learn_tokens) / m["prefix_sharing"]
                                        : static_cast<double>(learn_tokens)};
    if (me.learners > 1) learners.AllreduceSumDoubles(&computed, "computed token count");
    ++step;
    publish();  // the actors start the next rollout while this rank logs, evaluates, checkpoints

    if (!lead) continue;
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
    rec["stale_batches_dropped"] = stale_dropped;
    rec["publish_seconds"] = publish_s;
    rec["peak_rss_mb"] = PeakRssMb();
    book->EndStep(step, std::move(rec));
  }
  if (trajlog) {
    trajlog->Close();
    result.trajlog_write_seconds = trajlog->stats().write_seconds;
  }
  // The actors are done: close the stream before the final evaluation (its peers fall silent).
  const comm::ReceiverStats stream_stats = receiver.stats();
  receiver_ptr.reset();
  publisher.reset();
  learners.Barrier("trajectory logs closed");
  // After the last collective: stopping the actors may take their grace period.
  if (supervisor) {
    supervisor->Stop(/*grace_s=*/10);
    IR_LOG_INFO("actors: {}", supervisor->Describe());
  }
  if (lead) {
    book->Finish(step, result.interrupted);
    if (result.interrupted) return result;
    const auto& s = stream_stats;
    IR_LOG_INFO(
        "learner 0: {} batches received, {} duplicates, {} malformed, {} refused (queue full)",
        s.received, s.duplicates, s.malformed, s.refused_full);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Actors.

// cancel (may be null): set by the --local trainer when its learner failed; the actor then stops
// within a fraction of a second by throwing Error(kUnavailable).
void RunActor(const Config& config, const RankLayout& me, zmq::context_t& ctx,
              const std::atomic<bool>* cancel) {
  const std::string run_dir = config.RunDir();
  const Rendezvous ep = ReadRendezvous(run_dir, config.cluster.weights_timeout_s, cancel);
  IR_LOG_INFO("actor {}: learners at {}, weights at {} (session {})", me.actor_id,
              ep.streams.front(), ep.weights, ep.session);
  Policy policy = LoadPolicy(ep.init_dir, config.model.dtype, ProcessDevice(config, me));
  DecoderLM& model = *policy.model.model;
  auto train = LoadTrainRecords(config.data);
  QueryStream stream(train.size(), config.run.seed);
  PromptSet prompts(config.prompt);
  RolloutRunner runner(model, *policy.tokenizer, prompts, config.reward, config.actor, me.actor_id);

  comm::StreamOptions sopt = config.comm.stream;
  sopt.learner_endpoints = ep.streams;
  comm::WeightsOptions wopt = config.comm.weights;
  wopt.endpoint = ep.weights;
  comm::WeightSubscriber weights(ctx, wopt, /*subscriber_id=*/me.actor_id + 1,
                                 WeightGroupTransport(config, me));
  comm::TrajectorySender sender(ctx, sopt, me.actor_id);
  const auto timeout =
      std::chrono::milliseconds(static_cast<int64_t>(config.cluster.weights_timeout_s * 1000));

  // Returns the policy version (optimizer steps behind the weights); the wire version is one more.
  auto cancelled = [&] {
    if (cancel && cancel->load())
      Fail(ErrorCode::kUnavailable, "actor ", me.actor_id, ": cancelled");
  };
  // Learner rank 0 publishes the next version only after its evaluation or checkpoint, which may
  // outlast weights_timeout_s: its progress lease says whether it is still at it.
  ProgressWatch learner_work(ProgressLeaseDir(run_dir), /*self_rank=*/-1);
  auto take = [&](uint64_t min_version) {
    comm::WeightSet ws;
    auto next_check = Clock::now() + std::chrono::seconds(2);
    const bool got = WaitWhileProgressing(
        [&] {
          cancelled();
          if (weights.WaitFor(min_version + 1, &ws, std::chrono::milliseconds(200))) return true;
          if (Clock::now() > next_check) {
            // Learners that restarted (a requeued job, a new mpirun) write a new rendezvous: these
            // endpoints are dead. Exit so that the supervisor (or the srun loop) restarts this
            // actor, which then reads the new one.
            next_check = Clock::now() + std::chrono::seconds(2);
            if (const std::string now = RendezvousSession(run_dir);
                !now.empty() && now != ep.session)
              Fail(ErrorCode::kUnavailable, "actor ", me.actor_id,
                   ": the learners restarted (rendezvous session ", ep.session, " -> ", now,
                   "); exiting to be restarted with the new endpoints");
          }
          return false;
        },
        timeout, &learner_work,
        "actor " + std::to_string(me.actor_id) + " waiting for policy version " +
            std::to_string(min_version));
    if (!got)
      Fail(ErrorCode::kDeadlineExceeded, "actor ", me.actor_id,
           ": no policy version >= ", min_version, " from ", ep.weights,
           " within cluster.weights_timeout_s=", config.cluster.weights_timeout_s,
           " s: learner rank 0 is stuck or dead; see its log");
    ApplyWeights(model, ws);
    runner.InvalidateCache();
    return ws.version - 1;
  };
  struct Window {
    int64_t batches = 0, steps = 0, episodes = 0, generated = 0, prompt = 0, reused = 0;
    double seconds = 0;
  } window;
  auto last_line = Clock::now();
  uint64_t version = take(0);
  while (static_cast<int64_t>(version) < config.train.steps) {
    auto part = ActorQueries(train, stream, version, config.actor.queries_per_batch, me.actor_id,
                             me.actors);
    if (!part.empty()) {
      TrajectoryBatch batch;
      batch.actor_id = me.actor_id;
      const auto t0 = Clock::now();
      auto rs = runner.Run(part, ActorSeed(config.run.seed, version, me.actor_id), version, &batch);
      const double secs = Seconds(t0);
      // A concise line at a slower cadence than the learner's progress (every 30 s at most).
      window.batches += 1, window.steps += rs.steps, window.episodes += rs.episodes;
      window.generated += rs.generated_tokens, window.seconds += secs;
      window.prompt += rs.prompt_tokens, window.reused += rs.reused_tokens;
      if (Seconds(last_line) >= 30 || static_cast<int64_t>(version) + 1 >= config.train.steps) {
        double reward = 0;
        for (const auto& st : batch.steps) reward += st.reward;
        IR_LOG_INFO(
            "actor {}: policy v{} | {} batches, {} episodes, {} steps since last line | {:.0f} gen "
            "tok/s | "
            "{:.0f}% prompt reused | reward {:.3f} (this batch)",
            me.actor_id, version, window.batches, window.episodes, window.steps,
            window.generated / std::max(1e-9, window.seconds),
            window.prompt ? 100.0 * window.reused / window.prompt : 0.0,
            batch.steps.empty() ? 0.0 : reward / batch.steps.size());
        window = Window();
        last_line = Clock::now();
      }
      if (!sender.Send(std::move(batch), timeout))
        Fail(ErrorCode::kDeadlineExceeded, "actor ", me.actor_id,
             ": no learner took the batch of version ", version,
             " within cluster.weights_timeout_s=", config.cluster.weights_timeout_s, " s");
    }
    if (static_cast<int64_t>(version) + 1 >= config.train.steps) break;
    version = take(version + 1);
  }
  const auto deadline = Clock::now() + timeout;
  bool flushed = false;
  while (!flushed && Clock::now() < deadline) {
    cancelled();
    flushed = sender.Flush(std::chrono::milliseconds(200));
  }
  if (!flushed)
    Fail(ErrorCode::kDeadlineExceeded, "actor ", me.actor_id,
         ": batches not accepted by the learners at the end");
}

// Rank 0's preparation of the run directory: a fresh rendezvous, the resolved config, the initial
// policy (a phase of `lease`, which may be null). Returns the initial policy directory.
std::string PrepareRun(const Config& config, const RankLayout& me, ProgressLease* lease) {
  // Bad training data fails here, naming the file and line, before anything is written or
  // started (the actors load the same records again).
  LoadTrainRecords(config.data);
  ProgressLease::Phase phase(lease, "preparing the run directory and the initial policy");
  const std::string run_dir = config.RunDir();
  MakeDirs(run_dir + "/checkpoints");
  std::error_code ec;
  fs::remove(RendezvousPath(run_dir), ec);  // a previous start's endpoints are stale
  WriteResolvedConfig(config, run_dir);
  const std::string init_dir = PrepareInitDir(config, run_dir, ProgressLease::BeatOf(lease));
  IR_LOG_INFO("{} run: {} learner rank(s), {} actor {}{}, launcher {}, transport {}",
              config.cluster.transport == "inproc" ? "local" : "distributed", me.learners,
              me.actors, config.cluster.transport == "inproc" ? "thread(s)" : "process(es)",
              config.cluster.spawn_actors ? " (supervised by learner 0)" : "",
              DetectLauncher().empty() ? "none" : DetectLauncher(), config.cluster.transport);
  return init_dir;
}
}  // namespace

TrainResult TrainDistributed(const Config& config) {
  if (config.cluster.transport == "inproc")
    Fail(ErrorCode::kInvalidArgument,
         "cluster.transport=inproc runs actors as threads: use `iranker train --local`");
  // Work one rank does on its own (the initial policy, evaluations, checkpoints) beats a progress
  // lease in the run directory; a rank whose collective reaches comm.allreduce.timeout_ms
  // meanwhile waits on while the lease moves, and times out once it stops (a hung rank).
  std::unique_ptr<ProgressWatch> watch;  // outlives the collective that asks it
  auto learners = comm::MakeMpiCollective(config.comm.allreduce);
  const RankLayout me =
      LearnerLayout(learners->rank(), learners->size(), config.cluster, config.train.actors);
  ProgressLease lease(ProgressLeaseDir(config.RunDir()), me.learner_rank);
  watch = std::make_unique<ProgressWatch>(ProgressLeaseDir(config.RunDir()), me.learner_rank);
  learners->SetPeerProgressProbe([w = watch.get()] { return w->Progress(); });
  // Rank 0 prepares the run directory and the initial policy; the others wait for its path.
  std::string init_dir;
  if (me.world_rank == 0) init_dir = PrepareRun(config, me, &lease);
  learners->BroadcastBytes(&init_dir, 0, "initial policy directory");
  zmq::context_t ctx(1);
  return RunLearner(config, me, *learners, init_dir, ctx, nullptr, &lease);
}

TrainResult TrainLocal(const Config& config_in) {
  // The distributed run's code in one process: one learner (a world of one, no MPI) and the
  // actors as threads, over inproc:// endpoints of one ZeroMQ context.
  Config config = config_in;
  config.cluster.learners = 1;
  config.cluster.spawn_actors = false;
  config.cluster.transport = "inproc";
  auto learners = comm::MakeLocalCollective();
  const RankLayout me = LearnerLayout(0, 1, config.cluster, config.train.actors);
  // The actor threads wait for weights while the learner evaluates or checkpoints, as in the
  // distributed run: the same progress lease tells them it is still at it.
  ProgressLease lease(ProgressLeaseDir(config.RunDir()), 0);
  const std::string init_dir = PrepareRun(config, me, &lease);
  zmq::context_t ctx(1);
  std::atomic<bool> cancel{false};
  std::mutex mu;
  std::string actor_error;  // the first actor failure, guarded by mu
  std::vector<std::thread> actors;
  for (int a = 0; a < config.train.actors; ++a)
    actors.emplace_back([&, a] {
      try {
        RunActor(config, ActorLayout(a, config.cluster, config.train.actors), ctx, &cancel);
      } catch (const std::exception& e) {
        if (cancel.load()) return;
        std::lock_guard<std::mutex> l(mu);
        if (actor_error.empty())
          actor_error = "actor " + std::to_string(a) + " (thread): " + e.what();
      }
    });
  auto poll = [&] {
    std::lock_guard<std::mutex> l(mu);
    if (!actor_error.empty()) Fail(ErrorCode::kUnavailable, actor_error);
  };
  auto stop_actors = [&] {
    cancel.store(true);
    for (auto& t : actors) t.join();
  };
  TrainResult result;
  try {
    result = RunLearner(config, me, *learners, init_dir, ctx, poll, &lease);
  } catch (...) {
    stop_actors();
    throw;
  }
  for (auto& t : actors) t.join();  // they finish after the last step's batch is acknowledged
  poll();
  return result;
}

void RunActorProcess(const Config& config, int actor_id) {
  if (config.cluster.transport == "inproc")
    Fail(ErrorCode::kInvalidArgument,
         "this run uses cluster.transport=inproc (`iranker train --local`): its actors "
         "are threads of the learner process, and an actor process cannot join it");
  zmq::context_t ctx(1);
  RunActor(config, ActorLayout(actor_id, config.cluster, config.train.actors), ctx, nullptr);
}

}  // namespace iranker
