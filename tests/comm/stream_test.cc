// Trajectory stream: round trips, load balancing, back-pressure, de-duplication, learner
// restart, and a real actor process SIGKILLed and restarted mid-stream.
#include "comm/stream.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "comm/wire.h"
#include "tests/trajectory/test_util.h"
#include "trajectory/codec.h"

namespace iranker::comm {
namespace {

using namespace std::chrono_literals;

StreamOptions FastOptions(std::vector<std::string> endpoints) {
  StreamOptions o;
  o.learner_endpoints = std::move(endpoints);
  o.heartbeat_ms = 50;
  o.peer_timeout_ms = 500;
  o.resend_ms = 300;
  return o;
}

std::string UniqueIpc(const std::string& tag) {
  return "ipc:///tmp/iranker-comm-test-" + tag + "-" + std::to_string(::getpid());
}

TEST(commStream, RoundTripInproc) {
  zmq::context_t ctx;
  auto opt = FastOptions({"inproc://learner0"});
  TrajectoryReceiver learner(ctx, opt, 0);
  TrajectorySender actor(ctx, opt, /*actor_id=*/3);
  std::vector<TrajectoryBatch> sent;
  std::vector<TrajectoryBatch> got(20);
  std::thread learner_thread([&] {
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(learner.Receive(&got[i], 5s)) << i;
  });
  for (int i = 0; i < 20; ++i) {
    TrajectoryBatch b = testing::MakeBatch(i);
    uint64_t seq;
    ASSERT_TRUE(actor.Send(b, 2s, &seq));
    EXPECT_EQ(seq, static_cast<uint64_t>(i));
    b.actor_id = 3;
    b.actor_incarnation = actor.incarnation();
    b.batch_seq = seq;
    sent.push_back(b);
  }
  learner_thread.join();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(got[i], sent[got[i].batch_seq]);
  ASSERT_TRUE(actor.Flush(5s));
  auto as = actor.stats();
  EXPECT_EQ(as.acked, 20u);
  EXPECT_EQ(as.outstanding, 0u);
  auto ls = learner.stats();
  EXPECT_EQ(ls.delivered, 20u);
  EXPECT_EQ(ls.duplicates, 0u);
  EXPECT_EQ(ls.malformed, 0u);
  TrajectoryBatch none;
  EXPECT_FALSE(learner.Receive(&none, 50ms));
}

// A consumer reads the socket itself while it keeps calling Receive (comm/stream.h, Threads);
// once it is away (training, say), the I/O thread must take reading back: batches keep being
// queued and receipted (no resend), and the ACKs the consumer owes still go out.
TEST(commStream, AnAbsentConsumerHandsReadingBackToTheIoThread) {
  zmq::context_t ctx;
  auto opt = FastOptions({"inproc://away"});
  opt.resend_ms = 150;
  opt.credit_window = 8;
  TrajectoryReceiver learner(ctx, opt, 0);
  TrajectorySender actor(ctx, opt, 4);
  ASSERT_TRUE(actor.Send(testing::MakeBatch(0), 2s));
  TrajectoryBatch got;
  ASSERT_TRUE(learner.Receive(&got, 5s));  // this consumer now reads the socket
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(actor.Send(testing::MakeBatch(i), 2s));
  std::this_thread::sleep_for(500ms);       // the consumer is away
  EXPECT_EQ(learner.stats().received, 4u);  // queued by the I/O thread meanwhile
  auto as = actor.stats();
  EXPECT_EQ(as.resent, 0u);  // receipted well within resend_ms
  EXPECT_EQ(as.acked, 1u);   // the first batch's ACK went out without the consumer
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(learner.Receive(&got, 2s));
  ASSERT_TRUE(actor.Flush(2s));
  EXPECT_EQ(actor.stats().acked, 4u);
  EXPECT_EQ(learner.stats().duplicates, 0u);
}

TEST(commStream, LoadBalancesAcrossLearnersOverTcp) {
  zmq::context_t ctx;
  auto opt = FastOptions({"tcp://127.0.0.1:*", "tcp://127.0.0.1:*"});
  TrajectoryReceiver l0(ctx, opt, 0), l1(ctx, opt, 1);
  opt.learner_endpoints = {l0.endpoint(), l1.endpoint()};
  TrajectorySender actor(ctx, opt, 1);
  // Both learners must have granted the actor credit before it sends, or a slow machine (a
  // sanitizer build) lets the first learner take every batch before the second one's TCP handshake
  // completes: balancing is over the learners an actor can reach.
  for (int i = 0; i < 200 && (l0.stats().actors_joined == 0 || l1.stats().actors_joined == 0); ++i)
    std::this_thread::sleep_for(50ms);
  ASSERT_GT(l0.stats().actors_joined, 0u);
  ASSERT_GT(l1.stats().actors_joined, 0u);
  std::this_thread::sleep_for(200ms);  // their CREDIT replies reach the actor
  std::set<uint64_t> got0, got1;
  // The learners take batches until the actor's Flush has returned (every batch accepted), however
  // slowly a loaded machine delivers them. Each takes 5 ms per batch, as a training learner would
  // take time: one learner alone cannot keep up, so a share reaching each does not depend on how
  // the machine schedules the two consumer threads (a busy CI machine once starved one of them).
  std::atomic<bool> flushed{false};
  std::thread t0([&] {
    TrajectoryBatch b;
    while (true) {
      if (l0.Receive(&b, 100ms)) {
        got0.insert(b.batch_seq);
        std::this_thread::sleep_for(5ms);
      } else if (flushed) {
        break;
      }
    }
  });
  std::thread t1([&] {
    TrajectoryBatch b;
    while (true) {
      if (l1.Receive(&b, 100ms)) {
        got1.insert(b.batch_seq);
        std::this_thread::sleep_for(5ms);
      } else if (flushed) {
        break;
      }
    }
  });
  bool sent = true;
  for (int i = 0; i < 60 && sent; ++i) sent = actor.Send(testing::MakeBatch(i), 10s);
  const bool all_accepted = sent && actor.Flush(20s);
  flushed = true;
  t0.join();
  t1.join();
  ASSERT_TRUE(all_accepted);
  EXPECT_GT(got0.size(), 5u);
  EXPECT_GT(got1.size(), 5u);
  std::set<uint64_t> all = got0;
  all.insert(got1.begin(), got1.end());
  EXPECT_EQ(all.size(), 60u);
  EXPECT_EQ(got0.size() + got1.size(), 60u);  // no batch delivered twice
}

// Actors start their round-robin at learner actor_id % learners: two actors producing in step
// send their first batches to different learners (a step's batches reach both ranks).
TEST(commStream, ActorsStartTheirRoundRobinAtTheirOwnLearner) {
  zmq::context_t ctx;
  auto opt = FastOptions({"inproc://rr0", "inproc://rr1"});
  TrajectoryReceiver l0(ctx, opt, 0), l1(ctx, opt, 1);
  TrajectorySender a0(ctx, opt, 0), a1(ctx, opt, 1);
  for (int i = 0; i < 200 && (l0.stats().actors_joined < 2 || l1.stats().actors_joined < 2); ++i)
    std::this_thread::sleep_for(50ms);
  ASSERT_EQ(l0.stats().actors_joined, 2u);
  ASSERT_EQ(l1.stats().actors_joined, 2u);
  std::this_thread::sleep_for(200ms);  // both learners' CREDIT reaches both actors
  ASSERT_TRUE(a0.Send(testing::MakeBatch(0), 5s));
  ASSERT_TRUE(a1.Send(testing::MakeBatch(1), 5s));
  TrajectoryBatch b0, b1;
  ASSERT_TRUE(l0.Receive(&b0, 5s));
  ASSERT_TRUE(l1.Receive(&b1, 5s));
  EXPECT_EQ(b0.actor_id, 0);
  EXPECT_EQ(b1.actor_id, 1);
  ASSERT_TRUE(a0.Flush(5s));
  ASSERT_TRUE(a1.Flush(5s));
}

TEST(commStream, StalledLearnerAppliesBackPressure) {
  zmq::context_t ctx;
  auto opt = FastOptions({"inproc://stall"});
  opt.learner_queue_batches = 4;
  opt.credit_window = 3;
  opt.actor_pending_batches = 2;
  TrajectoryReceiver learner(ctx, opt, 0);
  TrajectorySender actor(ctx, opt, 2);
  // The learner takes nothing: Send must start failing once the window and buffer are full.
  int queued = 0;
  for (int i = 0; i < 50; ++i) {
    if (!actor.Send(testing::MakeBatch(i, 2, 1024), 100ms)) break;
    ++queued;
  }
  EXPECT_EQ(queued, opt.credit_window + opt.actor_pending_batches);
  std::this_thread::sleep_for(300ms);  // several heartbeats: nothing may creep in
  EXPECT_LE(learner.stats().queued, static_cast<uint64_t>(opt.credit_window));
  EXPECT_LE(actor.stats().outstanding,
            static_cast<uint64_t>(opt.credit_window + opt.actor_pending_batches));
  EXPECT_FALSE(actor.Send(testing::MakeBatch(99), 100ms));
  // Draining the learner lets everything through, each batch exactly once.
  std::set<uint64_t> seen;
  std::thread drain([&] {
    TrajectoryBatch b;
    while (learner.Receive(&b, 500ms)) EXPECT_TRUE(seen.insert(b.batch_seq).second);
  });
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(actor.Send(testing::MakeBatch(i), 5s));
  ASSERT_TRUE(actor.Flush(10s));
  drain.join();
  EXPECT_EQ(seen.size(), static_cast<size_t>(queued + 20));
  EXPECT_EQ(actor.stats().refused_full, 0u);
}

TEST(commStream, ManyActorsShareABoundedQueue) {
  zmq::context_t ctx;
  auto opt = FastOptions({"inproc://many"});
  opt.learner_queue_batches = 4;
  opt.credit_window = 4;
  TrajectoryReceiver learner(ctx, opt, 0);
  std::vector<std::unique_ptr<TrajectorySender>> actors;
  for (int a = 0; a < 6; ++a) actors.push_back(std::make_unique<TrajectorySender>(ctx, opt, a));
  std::this_thread::sleep_for(200ms);  // all registered: each window is 1 now
  for (int round = 0; round < 3; ++round)
    for (auto& a : actors) a->Send(testing::MakeBatch(round), 50ms);
  std::this_thread::sleep_for(300ms);
  EXPECT_LE(learner.stats().queued, 6u);  // max(queue, actors)
  EXPECT_EQ(learner.live_actors(), 6);
  std::map<int, int> per_actor;
  TrajectoryBatch b;
  while (learner.Receive(&b, 500ms)) per_actor[b.actor_id]++;
  for (auto& a : actors) EXPECT_TRUE(a->Flush(5s));
  EXPECT_EQ(per_actor.size(), 6u);
}

TEST(commStream, DuplicatesAndMalformedFramesAreCountedNotDelivered) {
  zmq::context_t ctx;
  auto opt = FastOptions({"inproc://dups"});
  TrajectoryReceiver learner(ctx, opt, 0);
  zmq::socket_t raw(ctx, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect("inproc://dups");
  TrajectoryBatch b = testing::MakeBatch(4);
  std::string frame = EncodeMessage(MsgType::kBatch, 4, EncodeTrajectoryBatch(b));
  raw.send(zmq::buffer(frame));
  raw.send(zmq::buffer(frame));                // duplicate while queued
  raw.send(zmq::buffer(std::string("junk")));  // truncated frame
  std::string corrupt = frame;
  corrupt[40] ^= 1;
  raw.send(zmq::buffer(corrupt));  // checksum
  TrajectoryBatch other = testing::MakeBatch(99);
  std::string bad_payload =
      EncodeMessage(MsgType::kBatch, 4, EncodeTrajectoryBatch(other).substr(0, 60));
  raw.send(zmq::buffer(bad_payload));  // header fine, payload truncated
  // Let the I/O thread handle all five before the batch is taken: the duplicate must meet the
  // batch still queued (a slow machine could otherwise take it first, and that duplicate would be
  // answered with an ACK, not a RECEIPT).
  for (auto until = std::chrono::steady_clock::now() + 5s;
       std::chrono::steady_clock::now() < until;) {
    auto st = learner.stats();
    if (st.duplicates >= 1 && st.malformed >= 3) break;
    std::this_thread::sleep_for(5ms);
  }
  TrajectoryBatch got;
  ASSERT_TRUE(learner.Receive(&got, 2s));
  EXPECT_EQ(got, b);
  std::this_thread::sleep_for(100ms);
  raw.send(zmq::buffer(frame));  // duplicate after it was taken: re-ACKed only
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(learner.Receive(&got, 100ms));
  auto st = learner.stats();
  EXPECT_EQ(st.delivered, 1u);
  EXPECT_EQ(st.duplicates, 2u);
  EXPECT_EQ(st.malformed, 3u);
  EXPECT_NE(st.wire_rejects.find("truncated=1"), std::string::npos) << st.wire_rejects;
  EXPECT_NE(st.wire_rejects.find("bad_checksum=1"), std::string::npos) << st.wire_rejects;
  // The peer got RECEIPT (the duplicate while queued), REFUSE(malformed), ACK, ACK in some order,
  // and a RECEIPT for the first batch unless its ACK went out in the same flush (a consumer
  // that reads the socket itself acknowledges without a receipt).
  std::map<MsgType, int> replies;
  zmq::message_t m;
  while (raw.recv(m, zmq::recv_flags::dontwait)) {
    MessageView v;
    ASSERT_EQ(DecodeMessage(m.data(), m.size(), 1 << 20, &v), WireReject::kOk);
    replies[v.type]++;
  }
  EXPECT_GE(replies[MsgType::kReceipt], 1);
  EXPECT_LE(replies[MsgType::kReceipt], 2);
  EXPECT_EQ(replies[MsgType::kAck], 2);
  EXPECT_EQ(replies[MsgType::kRefuse], 1);
}

TEST(commStream, LearnerRestartResendsUnacceptedBatches) {
  zmq::context_t ctx;
  auto opt = FastOptions({UniqueIpc("restart")});
  opt.credit_window = 4;
  auto learner = std::make_unique<TrajectoryReceiver>(ctx, opt, 0);
  TrajectorySender actor(ctx, opt, 5);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(actor.Send(testing::MakeBatch(i), 5s));
  std::set<uint64_t> first;
  TrajectoryBatch b;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(learner->Receive(&b, 5s));
    first.insert(b.batch_seq);
  }
  std::this_thread::sleep_for(200ms);  // the ACKs reach the actor
  learner.reset();                     // batches queued there were never accepted
  EXPECT_EQ(actor.stats().acked, 3u);
  learner = std::make_unique<TrajectoryReceiver>(ctx, opt, 0);
  std::set<uint64_t> second;
  std::thread drain([&] {
    TrajectoryBatch x;
    while (learner->Receive(&x, 1500ms)) EXPECT_TRUE(second.insert(x.batch_seq).second);
  });
  for (int i = 6; i < 8; ++i) ASSERT_TRUE(actor.Send(testing::MakeBatch(i), 5s));
  ASSERT_TRUE(actor.Flush(10s));
  drain.join();
  for (uint64_t s : first) EXPECT_EQ(second.count(s), 0u) << s;
  EXPECT_EQ(first.size() + second.size(), 8u);
  EXPECT_GE(actor.stats().learner_restarts + actor.stats().learner_timeouts, 1u);
}

// --- a real actor process, SIGKILLed mid-stream and restarted --------------------------------

struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;
};

Child SpawnActor(const std::string& endpoint, int actor, long count) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  Child c;
  c.pid = ::fork();
  if (c.pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    std::string bin = std::string(IRANKER_BINARY_DIR) + "/tests/comm_stream_actor";
    std::string a = std::to_string(actor), n = std::to_string(count);
    ::execl(bin.c_str(), bin.c_str(), endpoint.c_str(), a.c_str(), n.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(fds[1]);
  c.out = ::fdopen(fds[0], "r");
  return c;
}

std::string ReadLine(FILE* f) {
  char buf[256];
  return std::fgets(buf, sizeof buf, f) ? std::string(buf) : std::string();
}

TEST(commStream, ActorKilledAndRestartedLosesNothingAccepted) {
  zmq::context_t ctx;
  auto opt = FastOptions({"tcp://127.0.0.1:*"});
  opt.learner_queue_batches = 6;
  TrajectoryReceiver learner(ctx, opt, 0);
  const std::string ep = learner.endpoint();

  Child a = SpawnActor(ep, 7, -1);
  uint64_t inc_a = std::stoull(ReadLine(a.out).substr(12), nullptr, 16);
  std::map<uint64_t, std::vector<uint64_t>> delivered;  // incarnation -> seqs, in order
  TrajectoryBatch b;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(learner.Receive(&b, 5s)) << i;
    delivered[b.actor_incarnation].push_back(b.batch_seq);
  }
  std::this_thread::sleep_for(300ms);  // the learner stalls: batches pile up in its queue
  uint64_t queued_at_kill = learner.stats().queued;
  EXPECT_GE(queued_at_kill, 1u);
  ::kill(a.pid, SIGKILL);
  int status = 0;
  ::waitpid(a.pid, &status, 0);
  std::fclose(a.out);
  ASSERT_TRUE(WIFSIGNALED(status));

  Child b2 = SpawnActor(ep, 7, 25);
  uint64_t inc_b = std::stoull(ReadLine(b2.out).substr(12), nullptr, 16);
  ASSERT_NE(inc_a, inc_b);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (delivered[inc_b].size() < 25 && std::chrono::steady_clock::now() < deadline)
    if (learner.Receive(&b, 500ms)) delivered[b.actor_incarnation].push_back(b.batch_seq);
  std::string last = ReadLine(b2.out);
  ::waitpid(b2.pid, &status, 0);
  std::fclose(b2.out);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(last, "accepted 25\n");

  // The killed incarnation: everything the learner had received was delivered, once, in order.
  const auto& sa = delivered[inc_a];
  EXPECT_GE(sa.size(), 10u + queued_at_kill);
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_EQ(sa[i], i);
  // The restarted incarnation: all 25 accepted batches, once each.
  std::set<uint64_t> sb(delivered[inc_b].begin(), delivered[inc_b].end());
  EXPECT_EQ(sb.size(), 25u);
  EXPECT_EQ(delivered[inc_b].size(), 25u);
  EXPECT_EQ(learner.stats().duplicates, 0u);
  // The killed actor was detected as gone and its credit reclaimed.
  std::this_thread::sleep_for(700ms);
  EXPECT_GE(learner.stats().actors_expired, 1u);
}

}  // namespace
}  // namespace iranker::comm
