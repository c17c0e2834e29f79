// Bind policy, key files, and CURVE: an authorised actor streams, an unknown key is refused.
#include "comm/security.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "base/error.h"
#include "comm/stream.h"
#include "tests/trajectory/test_util.h"

namespace iranker::comm {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST(commSecurity, LoopbackDetection) {
  EXPECT_TRUE(IsLoopbackEndpoint("inproc://x"));
  EXPECT_TRUE(IsLoopbackEndpoint("ipc:///tmp/x"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://127.0.0.1:5555"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://localhost:5555"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://[::1]:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://*:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://0.0.0.0:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://10.1.2.3:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://eth0:5555"));
}

TEST(commSecurity, NonLoopbackBindNeedsCurveOrOverride) {
  SecurityOptions s;
  EXPECT_NO_THROW(CheckBindAllowed("tcp://127.0.0.1:1", s));
  try {
    CheckBindAllowed("tcp://0.0.0.0:5700", s);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(std::string(e.what()).find("tcp://0.0.0.0:5700"), std::string::npos);
  }
  s.allow_insecure_remote = true;
  EXPECT_NO_THROW(CheckBindAllowed("tcp://0.0.0.0:5700", s));
  // The stream's learner applies the policy before binding.
  zmq::context_t ctx;
  StreamOptions o;
  o.learner_endpoints = {"tcp://0.0.0.0:0"};
  EXPECT_THROW(TrajectoryReceiver(ctx, o, 0), Error);
}

struct Keys {
  fs::path dir;
  Keys() {
    dir = fs::temp_directory_path() / ("iranker-keys-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    WriteCurveKeyPair(dir, "learner");
    WriteCurveKeyPair(dir, "actor");
    WriteCurveKeyPair(dir, "intruder");
    std::ofstream(dir / "authorized_keys") << "# actors\n"
                                           << ReadCurveKey(dir / "actor.pub") << "  # actor\n";
  }
  ~Keys() { fs::remove_all(dir); }
  SecurityOptions Server() const {
    SecurityOptions s;
    s.curve = true;
    s.secret_key_file = dir / "learner.key";
    s.public_key_file = dir / "learner.pub";
    s.authorized_keys_file = dir / "authorized_keys";
    return s;
  }
  SecurityOptions Client(const std::string& who) const {
    SecurityOptions s;
    s.curve = true;
    s.secret_key_file = dir / (who + ".key");
    s.public_key_file = dir / (who + ".pub");
    s.server_public_key_file = dir / "learner.pub";
    return s;
  }
};

TEST(commSecurity, KeygenWritesPrivateSecretAndValidKeys) {
  ASSERT_TRUE(CurveAvailable());
  Keys k;
  struct stat st;
  ASSERT_EQ(::stat((k.dir / "actor.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadCurveKey(k.dir / "actor.key").size(), 40u);
  EXPECT_NE(ReadCurveKey(k.dir / "actor.key"), ReadCurveKey(k.dir / "actor.pub"));
  EXPECT_EQ(ReadAuthorizedKeys(k.dir / "authorized_keys").size(), 1u);
  std::ofstream(k.dir / "bad") << "not-a-key\n";
  EXPECT_THROW(ReadCurveKey(k.dir / "bad"), Error);
  EXPECT_THROW(ReadAuthorizedKeys(k.dir / "bad"), Error);
}

TEST(commSecurity, CurveAcceptsAuthorisedKeyAndRefusesUnknownKey) {
  Keys k;
  zmq::context_t ctx;
  StreamOptions server;
  server.learner_endpoints = {"tcp://0.0.0.0:*"};  // non-loopback is fine with CURVE
  server.heartbeat_ms = 50;
  server.peer_timeout_ms = 500;
  server.security = k.Server();
  TrajectoryReceiver learner(ctx, server, 0);
  std::string port = learner.endpoint().substr(learner.endpoint().rfind(':'));

  StreamOptions client = server;
  client.learner_endpoints = {"tcp://127.0.0.1" + port};
  client.security = k.Client("intruder");
  TrajectorySender intruder(ctx, client, 66);
  ASSERT_TRUE(intruder.Send(testing::MakeBatch(1), 1s));  // queued locally, never credited
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(intruder.live_learners(), 0);
  EXPECT_EQ(learner.stats().received, 0u);
  EXPECT_EQ(learner.live_actors(), 0);
  EXPECT_GE(ZapHandler::ForContext(ctx)->refused(), 1u);

  client.security = k.Client("actor");
  TrajectorySender actor(ctx, client, 1);
  ASSERT_TRUE(actor.Send(testing::MakeBatch(2), 1s));
  TrajectoryBatch got;
  ASSERT_TRUE(learner.Receive(&got, 5s));
  EXPECT_EQ(got.actor_id, 1);
  ASSERT_TRUE(actor.Flush(5s));
  EXPECT_GE(ZapHandler::ForContext(ctx)->accepted(), 1u);
  EXPECT_FALSE(learner.Receive(&got, 200ms));  // still nothing from the intruder
}

}  // namespace
}  // namespace iranker::comm
