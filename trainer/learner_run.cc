#include "trainer/learner_run.h"

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/log.h"
#include "base/rng.h"
#include "learner/data_parallel.h"
#include "learner/learner_rank.h"
#include "model/policy.h"
#include "trainer/checkpoints.h"
#include "trainer/config_io.h"
#include "trainer/run_book.h"
#include "trainer/run_dir.h"
#include "trainer/wiring.h"

namespace iranker {
namespace fs = std::filesystem;

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

// A random id of this start of the learners: actors that find another one in the rendezvous know
// the learners restarted.
std::string RandomSession() {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(RandomNonZeroU64()));
  return b;
}

}  // namespace

std::string PrepareRun(const Config& config, const RankLayout& me, ProgressLease* lease) {
  // The actors load the same records again.
  LoadTrainRecords(config.data);
  ProgressLease::Phase phase(lease, "preparing the run directory and the initial policy");
  const std::string run_dir = config.RunDir();
  MakeDirs(run_dir + "/checkpoints");
  std::error_code ec;
  fs::remove(RendezvousPath(run_dir), ec);  // a previous start's endpoints are stale
  fs::remove(TakeoverPath(run_dir), ec);    // and so are its hand-overs
  WriteResolvedConfig(config, run_dir);
  const std::string init_dir = PrepareInitDir(config, run_dir, ProgressLease::BeatOf(lease));
  const bool local = config.cluster.transport == Transport::kInproc;
  IR_LOG_INFO(
      "{} run: {} learner rank(s), {} actor {}{}, launcher {}, transport {}",
      local ? "local" : "distributed", me.learners, me.actors, local ? "thread(s)" : "process(es)",
      config.cluster.spawn_actors ? " (supervised by learner 0)" : "",
      DetectLauncher().empty() ? "none" : DetectLauncher(), NameOf(config.cluster.transport));
  return init_dir;
}

TrainResult RunLearner(const Config& config, const RankLayout& me, collective::Collective& learners,
                       const std::string& init_dir, zmq::context_t& ctx,
                       const std::function<void()>& poll_actors, ProgressLease* lease) {
  TrainResult result;
  const std::string run_dir = config.RunDir();
  result.run_dir = run_dir;
  const bool lead = me.learner_rank == 0;

  Policy policy = LoadPolicy(init_dir, config.model.dtype, ProcessDevice(config, me));
  DecoderLM& model = *policy.model.model;
  std::unique_ptr<CollectiveDataParallel> dp;
  if (me.learners > 1)
    dp = std::make_unique<CollectiveDataParallel>(learners, config.comm.allreduce);
  Learner learner(policy.model.model, config.learner, config.train.steps, dp.get());
  const ResumePoint resume =
      ResumeFromCheckpoint(run_dir, config.run.seed, model, learner, /*announce=*/lead);
  int64_t step = resume.step;
  if (learner.version() != static_cast<uint64_t>(step))
    Fail(ErrorCode::kFailedPrecondition, resume.checkpoint, ": policy version ", learner.version(),
         " differs from the step ", step);

  auto trajlog = OpenTrajectoryLog(config, run_dir, me.learner_rank, step, model.config().ToJson());
  // Rank 0's progress lease: its publications are phases of it.
  ProgressLease* lead_lease = lead ? lease : nullptr;
  LearnerRank rank(LearnerRankSpecFor(config, me), ctx, learners, learner, trajlog.get(),
                   lead_lease, lead ? WeightGroupTransport(config, me) : nullptr);
  // From here to the first step, rank 0 works on its own (rendezvous, actors, first weights, test
  // sets, initial evaluation) while the others wait in the step's first collective.
  std::optional<ProgressLease::Phase> startup;
  startup.emplace(lead_lease, "starting the run");
  std::unique_ptr<ProcessSupervisor> supervisor;
  if (lead) {
    WriteRendezvous(run_dir, {rank.stream_endpoints(), rank.weights_endpoint(),
                              fs::absolute(init_dir).string(), RandomSession()});
    IR_LOG_INFO("learner 0: trajectories at {}, weights at {}; actors find them in {}",
                rank.stream_endpoints().front(), rank.weights_endpoint(), RendezvousPath(run_dir));
    if (config.cluster.spawn_actors) supervisor = SpawnActors(config, run_dir);
    if (lead_lease) lead_lease->Beat();
  }
  rank.Publish();
  std::unique_ptr<RunBook> book;
  if (lead)
    book = std::make_unique<RunBook>(config, run_dir, init_dir, model, *policy.tokenizer, learner,
                                     step, &result, lease);
  if (lead_lease) lead_lease->Beat();
  // The initial evaluation overlaps the actors' first rollout.
  if (lead && step == 0) book->EvaluateInitial();
  startup.reset();

  if (lead) book->BeginTraining();
  InstallStopHandlers();
  std::function<std::string()> describe_actors;
  if (supervisor) describe_actors = [&supervisor] { return supervisor->Describe(); };
  // Under learner.sharding the ranks other than 0 stage their shares of the optimizer state for
  // a checkpoint; the barrier tells rank 0 they are there before it writes the checkpoint.
  auto stage_shards = [&](int64_t at) {
    learner.GatherForCheckpoint();
    if (config.learner.sharding == Sharding::kNone || me.learners == 1) return;
    if (!lead) {
      const std::string staged = ShardStagingDir(run_dir, at);
      MakeDirs(staged);
      learner.SaveShard(staged);
    }
    learners.Barrier("optimizer shards of step " + std::to_string(at));
  };
  while (step < config.train.steps) {
    if (rank.AnyStopSignal(g_stop_signal.load() != 0)) {
      result.interrupted = true;
      stage_shards(step);
      if (lead) {
        book->Checkpoint(step);
        IR_LOG_WARN(
            "stop signal: checkpoint written at step {} ({}); run the same command again to resume",
            step, CheckpointDir(run_dir, step));
      }
      break;
    }
    nlohmann::json rec = rank.Step(step, poll_actors, describe_actors);
    ++step;
    if (CheckpointDue(config.train, step)) stage_shards(step);
    if (lead) book->EndStep(step, std::move(rec));
  }
  result.trajectories = rank.trajectories();
  if (trajlog) {
    trajlog->Close();
    result.trajlog_write_seconds = trajlog->stats().write_seconds;
  }
  // The actors are done: close the stream before the final evaluation (its peers fall silent).
  const comm::ReceiverStats stream_stats = rank.Close();
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

}  // namespace iranker
