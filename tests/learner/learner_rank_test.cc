// A learner rank's side of a training run (learner/learner_rank.h), with actors played by the
// test over inproc:// streams: exactly one batch per actor per step, stale and repeated batches
// dropped and counted, the new version published, and a missing batch a clear time-out.
#include "learner/learner_rank.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "../model/test_util.h"
#include "base/error.h"
#include "cluster/roles.h"
#include "collective/collective.h"

namespace iranker {
namespace {
using namespace std::chrono_literals;

// A batch of actor `actor` for policy version `version`: `steps` samples of one GRPO group, with
// token ids inside the tiny model's vocabulary.
TrajectoryBatch ActorBatch(int actor, uint64_t version, int steps) {
  TrajectoryBatch b;
  b.actor_id = actor;
  for (int i = 0; i < steps; ++i) {
    StepRecord s;
    s.episode_id = (uint64_t(actor) << 40) | i;
    s.actor_id = actor;
    s.policy_version = version;
    s.group_id = 100 + actor;
    s.prompt_ids = {1, 2, 3, 4 + actor};
    s.response_ids = {5 + i, 6};
    s.logprobs = {-4.5f, -4.6f};
    s.reward = static_cast<float>(i % 2);
    s.valid_format = i % 2 == 0;
    b.steps.push_back(s);
  }
  EpisodeSummary e;
  e.actor_id = actor;
  e.policy_version = version;
  e.mrr = 0.5f;
  b.episodes.push_back(e);
  return b;
}

struct Fixture {
  explicit Fixture(int actors, double collect_timeout_s = 30,
                   const std::function<void(LearnerRankSpec&)>& tweak = {}) {
    spec.rank = 0;
    spec.ranks = 1;
    spec.batches_per_step = actors;
    spec.stream.learner_endpoints = {"inproc://learner-0"};
    spec.stream.heartbeat_ms = 20;
    spec.stream.peer_timeout_ms = 2000;
    spec.weights.endpoint = "inproc://weights";
    spec.weights.poll_ms = 20;
    spec.collect_timeout_s = collect_timeout_s;
    spec.logs_dir = "RUN/logs";
    if (tweak) tweak(spec);
    model = testing::TinyModel(5);
    LearnerOptions o;
    o.algorithm = Algorithm::kGrpo;
    learner = std::make_unique<Learner>(model, o, /*total_steps=*/4);
    rank = std::make_unique<LearnerRank>(spec, ctx, *local, *learner, nullptr, nullptr, nullptr);
    for (int a = 0; a < actors; ++a)
      senders.push_back(std::make_unique<comm::TrajectorySender>(ctx, spec.stream, a));
  }
  void Send(int actor, TrajectoryBatch b) { ASSERT_TRUE(senders[actor]->Send(std::move(b), 5s)); }

  LearnerRankSpec spec;
  zmq::context_t ctx;
  std::unique_ptr<collective::Collective> local = collective::MakeLocalCollective();
  std::shared_ptr<DecoderLM> model;
  std::unique_ptr<Learner> learner;
  std::unique_ptr<LearnerRank> rank;
  std::vector<std::unique_ptr<comm::TrajectorySender>> senders;
};

TEST(LearnerRank, TrainsOnExactlyOneBatchPerActorAndPublishes) {
  Fixture f(/*actors=*/2);
  EXPECT_EQ(f.rank->stream_endpoints(), std::vector<std::string>{"inproc://learner-0"});
  EXPECT_EQ(f.rank->weights_endpoint(), "inproc://weights");
  comm::WeightsOptions wo = f.spec.weights;
  comm::WeightSubscriber sub(f.ctx, wo, /*subscriber_id=*/1);
  f.rank->Publish();
  comm::WeightSet ws;
  ASSERT_TRUE(sub.WaitFor(1, &ws, 10s));
  EXPECT_EQ(ws.version, 1u);  // the initial policy: 0 optimizer steps, 1 on the wire

  f.Send(1, ActorBatch(1, /*version=*/5, 2));  // stale: another step's version
  f.Send(0, ActorBatch(0, 0, 3));
  f.Send(0, ActorBatch(0, 0, 4));  // a restarted actor repeating the step: dropped
  f.Send(1, ActorBatch(1, 0, 2));
  const nlohmann::json rec = f.rank->Step(0, nullptr, nullptr);
  EXPECT_EQ(rec["type"], "train");
  EXPECT_EQ(rec["step"], 1);
  EXPECT_EQ(rec["trajectories"].get<double>(), 3 + 2);  // the first batch of each actor
  EXPECT_EQ(rec["stale_batches_dropped"].get<int64_t>(), 1);
  EXPECT_DOUBLE_EQ(rec["episode_mrr"].get<double>(), 0.5);
  EXPECT_TRUE(rec.contains("pg_loss"));
  EXPECT_EQ(rec["samples"].get<double>(), 5);
  EXPECT_EQ(f.learner->version(), 1u);
  EXPECT_EQ(f.rank->trajectories(), 5);
  // The step published the trained policy.
  ASSERT_TRUE(sub.WaitFor(2, &ws, 10s));
  EXPECT_EQ(ws.version, 2u);

  EXPECT_TRUE(f.rank->AnyStopSignal(true));
  EXPECT_FALSE(f.rank->AnyStopSignal(false));
  const comm::ReceiverStats st = f.rank->Close();
  EXPECT_EQ(st.received, 4u);
}

TEST(LearnerRank, AMissingBatchIsATimeOutNamingTheActors) {
  Fixture f(/*actors=*/2, /*collect_timeout_s=*/0.5);
  f.Send(1, ActorBatch(1, 0, 2));
  int polls = 0;
  try {
    f.rank->Step(
        0, [&] { ++polls; }, [] { return std::string("actor-0 running"); });
    FAIL() << "no time-out";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDeadlineExceeded);
    const std::string what = e.what();
    EXPECT_NE(what.find("step 0 has 1 of 2 actor batches"), std::string::npos) << what;
    EXPECT_NE(what.find("received from actors: 1;"), std::string::npos) << what;
    EXPECT_NE(what.find("actor-0 running"), std::string::npos) << what;
    EXPECT_NE(what.find("RUN/logs"), std::string::npos) << what;
  }
  EXPECT_GT(polls, 0);
  EXPECT_EQ(f.learner->version(), 0u);  // nothing trained
}

TEST(LearnerRank, AnActorFailureStopsTheWaitAtOnce) {
  Fixture f(/*actors=*/1, /*collect_timeout_s=*/60);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(f.rank->Step(
                   0, [] { Fail(ErrorCode::kUnavailable, "actor 0 (thread): boom"); }, nullptr),
               Error);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

TEST(LearnerRank, ASilentActorsShareGoesToALiveActorAndIsTrainedOnce) {
  const std::string run_dir =
      ::testing::TempDir() + "iranker_takeover_" + std::to_string(::getpid());
  std::filesystem::create_directories(run_dir);
  std::filesystem::remove(TakeoverPath(run_dir));
  Fixture f(/*actors=*/2, /*collect_timeout_s=*/20, [&](LearnerRankSpec& s) {
    s.actor_takeover_s = 0.3;
    s.run_dir = run_dir;
    s.stream.peer_timeout_ms = 300;
  });
  // Step 0: both actors deliver.
  f.Send(0, ActorBatch(0, 0, 3));
  f.Send(1, ActorBatch(1, 0, 2));
  EXPECT_EQ(f.rank->Step(0, nullptr, nullptr)["trajectories"].get<double>(), 5);
  EXPECT_EQ(ReadTakeover(run_dir).step, -1);  // nothing handed over
  // Step 1: actor 0 goes silent (its sender is gone); actor 1 delivers. Past actor_takeover_s,
  // actor 0's share is handed to actor 1, which sends it as a new incarnation of actor 0.
  f.senders[0].reset();
  f.Send(1, ActorBatch(1, 1, 2));
  nlohmann::json rec;
  std::thread step([&] { rec = f.rank->Step(1, nullptr, nullptr); });
  Takeover t;
  for (int i = 0; i < 200 && t.step != 1; ++i) {
    std::this_thread::sleep_for(50ms);
    t = ReadTakeover(run_dir);
  }
  ASSERT_EQ(t.step, 1);
  EXPECT_EQ(t.assign, (std::vector<std::pair<int, int>>{{0, 1}}));
  comm::TrajectorySender substitute(f.ctx, f.spec.stream, /*actor_id=*/0);
  ASSERT_TRUE(substitute.Send(ActorBatch(0, 1, 3), 5s));
  step.join();
  EXPECT_EQ(rec["trajectories"].get<double>(), 3 + 2);
  EXPECT_EQ(f.learner->version(), 2u);
  // Step 2: an actor that is alive but slow keeps its share: no new hand-over while it is heard.
  f.senders[0] = std::make_unique<comm::TrajectorySender>(f.ctx, f.spec.stream, 0);
  f.Send(1, ActorBatch(1, 2, 2));
  std::thread late([&] {
    std::this_thread::sleep_for(800ms);
    f.Send(0, ActorBatch(0, 2, 3));
  });
  EXPECT_EQ(f.rank->Step(2, nullptr, nullptr)["trajectories"].get<double>(), 5);
  late.join();
  EXPECT_EQ(ReadTakeover(run_dir).step, 1);
}

TEST(LearnerRank, FewerLiveActorsThanMinActorsStopTheRunWithTheReason) {
  const std::string run_dir =
      ::testing::TempDir() + "iranker_min_actors_" + std::to_string(::getpid());
  std::filesystem::create_directories(run_dir);
  Fixture f(/*actors=*/2, /*collect_timeout_s=*/20, [&](LearnerRankSpec& s) {
    s.actor_takeover_s = 0.3;
    s.min_actors = 2;
    s.run_dir = run_dir;
    s.stream.peer_timeout_ms = 300;
  });
  f.Send(0, ActorBatch(0, 0, 3));
  f.Send(1, ActorBatch(1, 0, 2));
  f.rank->Step(0, nullptr, nullptr);
  f.senders[0].reset();  // actor 0 gone: 1 live actor, fewer than 2
  f.Send(1, ActorBatch(1, 1, 2));
  const auto t0 = std::chrono::steady_clock::now();
  try {
    f.rank->Step(1, nullptr, nullptr);
    FAIL() << "the run went on with too few actors";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    const std::string what = e.what();
    EXPECT_NE(what.find("1 of 2 actors heard from, fewer than cluster.min_actors=2 (silent: 0)"),
              std::string::npos)
        << what;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);  // not the collect time-out
}

}  // namespace
}  // namespace iranker
