// The actor's loop (actor/actor_loop.h) against a learner played by the test over inproc://: one
// batch per policy version with the run plan's queries, the end of training, and each way it
// stops early with a clear error.
#include "actor/actor_loop.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <set>
#include <thread>

#include "../model/test_util.h"
#include "actor/run_plan.h"
#include "base/error.h"
#include "cluster/roles.h"
#include "comm/stream.h"
#include "comm/weights.h"
#include "model/policy.h"
#include "model/weight_sync.h"

namespace iranker {
namespace {
using namespace std::chrono_literals;

const std::string kSource = IRANKER_SOURCE_DIR;

// A run directory with a tiny initial policy, and the learners' endpoints in its rendezvous.
struct ActorRun {
  explicit ActorRun(const std::string& tag) : dir(testing::TempDir("actor_loop_" + tag)) {
    InitModelDirectory("tiny", kSource + "/data/tokenizer/quickstart/tokenizer.json", 1, "float32",
                       dir + "/init");
    spec.actor_id = 1;
    spec.actors = 2;
    spec.run_dir = dir;
    spec.seed = 3;
    spec.steps = 2;
    spec.data.train = {kSource + "/data/quickstart/train.jsonl"};
    spec.prompt.dir = kSource + "/configs/prompts/compact";
    spec.prompt.assistant_prefill = "<think>\n</think>\n<answer>";
    spec.actor.group_size = 2;
    spec.actor.answer_template = " {text}</answer>";
    spec.actor.queries_per_batch = 4;
    spec.actor.slots = 8;
    spec.stream.heartbeat_ms = 20;
    spec.weights.poll_ms = 20;
    spec.weights_timeout_s = 30;
  }
  void WriteRendezvousFile(const std::string& session) {
    WriteRendezvous(
        dir, {{"inproc://learner-" + tag}, "inproc://weights-" + tag, dir + "/init", session});
  }
  // Runs the actor on its own thread; its error (if any) lands in `error`.
  void Start(zmq::context_t& ctx) {
    thread = std::thread([this, &ctx] {
      try {
        RunActor(spec, ctx, &cancel);
      } catch (const Error& e) {
        code = e.code();
        error = e.what();
      }
    });
  }
  std::string Join() {
    if (thread.joinable()) thread.join();
    return error;
  }

  std::string dir;
  std::string tag = "t";
  ActorSpec spec;
  std::atomic<bool> cancel{false};
  std::thread thread;
  ErrorCode code = ErrorCode::kInternal;
  std::string error;
};

TEST(ActorLoop, RollsOutItsShareOfEachVersionAndEnds) {
  ActorRun run("ok");
  zmq::context_t ctx;
  comm::WeightsOptions wo;
  wo.endpoint = "inproc://weights-t";
  comm::WeightPublisher pub(ctx, wo);
  comm::StreamOptions so;
  so.learner_endpoints = {"inproc://learner-t"};
  comm::TrajectoryReceiver receiver(ctx, so, 0);
  run.WriteRendezvousFile("s1");
  Policy policy = LoadPolicy(run.dir + "/init");
  run.Start(ctx);

  std::vector<QueryRecord> train = LoadTrainRecords(run.spec.data);
  QueryStream stream(train.size(), run.spec.seed);
  for (uint64_t v = 0; v < 2; ++v) {
    pub.Publish(v + 1, PolicyTensorViews(*policy.model.model));
    TrajectoryBatch b;
    ASSERT_TRUE(receiver.Receive(&b, 120s)) << run.Join();
    EXPECT_EQ(b.actor_id, 1);
    // The run plan's queries of this actor: every other query of the step, from the second.
    std::set<std::string> want, got;
    for (const QueryRecord* q : ActorQueries(train, stream, v, 4, 1, 2)) want.insert(q->id);
    for (const auto& s : b.steps) {
      got.insert(s.query_id);
      EXPECT_EQ(s.policy_version, v);
      EXPECT_EQ(s.actor_id, 1);
      EXPECT_EQ(s.response_ids.size(), s.logprobs.size());
    }
    EXPECT_EQ(got, want) << "version " << v;
    EXPECT_FALSE(b.episodes.empty());
  }
  EXPECT_EQ(run.Join(), "");  // after the last step, once its batch was accepted
}

TEST(ActorLoop, NoWeightsIsATimeOutNamingThePublisher) {
  ActorRun run("noweights");
  run.spec.weights_timeout_s = 1;
  zmq::context_t ctx;
  run.WriteRendezvousFile("s1");
  run.Start(ctx);
  const std::string error = run.Join();
  EXPECT_EQ(run.code, ErrorCode::kDeadlineExceeded);
  EXPECT_NE(error.find("actor 1: no policy version >= 0 from inproc://weights-t"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("cluster.weights_timeout_s=1"), std::string::npos) << error;
}

TEST(ActorLoop, ANewRendezvousSessionMeansTheLearnersRestarted) {
  ActorRun run("restart");
  zmq::context_t ctx;
  run.WriteRendezvousFile("first");
  run.Start(ctx);
  std::this_thread::sleep_for(500ms);
  run.WriteRendezvousFile("second");
  const std::string error = run.Join();
  EXPECT_EQ(run.code, ErrorCode::kUnavailable);
  EXPECT_NE(error.find("the learners restarted (rendezvous session first -> second)"),
            std::string::npos)
      << error;
}

TEST(ActorLoop, CancelStopsItWithinASecond) {
  ActorRun run("cancel");
  zmq::context_t ctx;
  run.WriteRendezvousFile("s1");
  run.Start(ctx);
  std::this_thread::sleep_for(300ms);
  const auto t0 = std::chrono::steady_clock::now();
  run.cancel.store(true);
  const std::string error = run.Join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_EQ(run.code, ErrorCode::kUnavailable);
  EXPECT_NE(error.find("actor 1: cancelled"), std::string::npos) << error;
}

}  // namespace
}  // namespace iranker
