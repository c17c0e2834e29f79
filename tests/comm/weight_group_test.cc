// The weight broadcast's group path (comm/weight_group.h) on CPU: publisher and subscribers with an
// in-process transport that has NCCL's collective semantics (every member must take part; one that
// does not leaves the others waiting until their time-out). It checks the control plane the NCCL
// transport runs under: who joins, which versions go by group and which over ZeroMQ, and that a
// dead member, a late joiner or a corrupted broadcast costs speed, never a version.
#include "comm/weight_group.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>

#include "base/error.h"
#include "comm/weights.h"

namespace iranker::comm {
namespace {

using namespace std::chrono_literals;

// One group's shared state, found by id in a registry (the ncclUniqueId of the fake).
struct LoopbackGroup {
  std::mutex mu;
  std::condition_variable cv;
  int size = 0, joined = 0;
  bool aborted = false;
  uint64_t seq = 0;  // broadcasts the root started
  const char* data = nullptr;
  size_t n = 0;
  int taken = 0;  // members that copied the current broadcast
};

std::shared_ptr<LoopbackGroup> FindGroup(const std::string& id, int size) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<LoopbackGroup>> groups;
  std::lock_guard<std::mutex> lock(mu);
  auto& g = groups[id];
  if (!g) {
    g = std::make_shared<LoopbackGroup>();
    g->size = size;
  }
  return g;
}

class LoopbackTransport : public GroupTransport {
 public:
  // `corrupt`: while positive, each received broadcast gets one byte flipped (and it counts down).
  explicit LoopbackTransport(std::shared_ptr<std::atomic<int>> corrupt = nullptr)
      : corrupt_(std::move(corrupt)) {}
  // Dropped without Leave(): like a killed process, the others are left to time out.
  ~LoopbackTransport() override = default;

  std::string name() const override { return "loopback"; }
  std::string NewGroupId() override {
    static std::atomic<int> next{0};
    return "loopback-" + std::to_string(++next);
  }
  void Join(const std::string& id, int size, int rank, int timeout_ms) override {
    Leave();
    group_ = FindGroup(id, size);
    rank_ = rank;
    seen_ = 0;
    std::unique_lock<std::mutex> lock(group_->mu);
    ++group_->joined;
    group_->cv.notify_all();
    if (!group_->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                             [&] { return group_->joined >= group_->size || group_->aborted; }) ||
        group_->aborted) {
      group_->aborted = true;
      group_->cv.notify_all();
      lock.unlock();
      group_.reset();
      Fail(ErrorCode::kDeadlineExceeded, "loopback group ", id, ": not every member joined");
    }
  }
  void Broadcast(char* data, size_t n, int timeout_ms) override {
    if (!group_) Fail(ErrorCode::kFailedPrecondition, "loopback: broadcast without a group");
    LoopbackGroup& g = *group_;
    std::unique_lock<std::mutex> lock(g.mu);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    auto fail = [&](const char* why) {
      g.aborted = true;
      g.cv.notify_all();
      lock.unlock();
      group_.reset();
      Fail(ErrorCode::kDeadlineExceeded, "loopback broadcast: ", why);
    };
    if (rank_ == 0) {
      g.data = data;
      g.n = n;
      g.taken = 0;
      ++g.seq;
      g.cv.notify_all();
      if (!g.cv.wait_until(lock, deadline, [&] { return g.taken >= g.size - 1 || g.aborted; }) ||
          g.aborted)
        fail("a member did not take part");
      g.data = nullptr;
      return;
    }
    if (!g.cv.wait_until(lock, deadline, [&] { return g.seq > seen_ || g.aborted; }) || g.aborted)
      fail("the root did not send");
    if (g.n != n) fail("size mismatch");
    std::memcpy(data, g.data, n);
    if (corrupt_ && corrupt_->load() > 0 && n > 0) {
      data[n / 2] ^= 0x20;
      --*corrupt_;
    }
    seen_ = g.seq;
    ++g.taken;
    g.cv.notify_all();
  }
  void Leave() override {
    if (!group_) return;
    {
      std::lock_guard<std::mutex> lock(group_->mu);
      group_->aborted = true;
      group_->cv.notify_all();
    }
    group_.reset();
  }

 private:
  std::shared_ptr<std::atomic<int>> corrupt_;
  std::shared_ptr<LoopbackGroup> group_;
  int rank_ = 0;
  uint64_t seen_ = 0;
};

// A member whose joins never complete (a stuck process): the others wait out their time-out.
class SilentTransport : public LoopbackTransport {
 public:
  void Join(const std::string&, int, int, int timeout_ms) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
    Fail(ErrorCode::kDeadlineExceeded, "silent: never joined");
  }
};

std::vector<float> Weights(uint64_t version) {
  std::vector<float> w(20000);
  std::iota(w.begin(), w.end(), static_cast<float>(version) * 0.5f);
  return w;
}

size_t Publish(WeightPublisher& pub, uint64_t version) {
  std::vector<float> w = Weights(version);
  return pub.Publish(
      version, {{"w", DType::kFloat32, {static_cast<int64_t>(w.size())}, w.data(), w.size() * 4}});
}

// Takes version >= `version` and checks that its bytes are the ones published.
void ExpectGets(WeightSubscriber& sub, uint64_t version, const char* who) {
  WeightSet ws;
  ASSERT_TRUE(sub.WaitFor(version, &ws, 10s)) << who << " never got version " << version;
  EXPECT_EQ(ws.version, version) << who;
  const auto* e = ws.Find("w");
  ASSERT_NE(e, nullptr) << who;
  const std::vector<float> want = Weights(version);
  ASSERT_EQ(e->nbytes, want.size() * 4) << who;
  EXPECT_EQ(std::memcmp(ws.data(*e), want.data(), e->nbytes), 0) << who << ": wrong bytes";
}

template <class F>
bool WaitUntil(F pred, std::chrono::milliseconds timeout = 10s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

WeightsOptions Options(const std::string& endpoint, int peer_timeout_ms = 3000) {
  WeightsOptions o;
  o.endpoint = endpoint;
  o.chunk_bytes = 8192;  // ten chunks per version over ZeroMQ
  o.poll_ms = 10;
  o.peer_timeout_ms = peer_timeout_ms;
  return o;
}

std::unique_ptr<GroupTransport> Loopback() { return std::make_unique<LoopbackTransport>(); }

TEST(commWeightGroup, MembersGetNewVersionsByGroupBroadcastTheRestOverZeroMQ) {
  zmq::context_t ctx;
  const WeightsOptions o = Options("inproc://group-basic");
  WeightPublisher pub(ctx, o, 0, Loopback());
  WeightSubscriber a(ctx, o, 1, Loopback()), b(ctx, o, 2, Loopback());
  WeightSubscriber plain(ctx, o, 3);  // no transport: ZeroMQ only
  ASSERT_TRUE(
      WaitUntil([&] { return pub.stats().subscribers == 3 && pub.stats().group_capable == 2; }));
  const size_t blob_bytes = Publish(pub, 1);
  for (auto* s : {&a, &b, &plain}) ExpectGets(*s, 1, "v1");
  // (v1 may reach a member over ZeroMQ as well: it asked before the group existed.)
  ASSERT_TRUE(WaitUntil([&] { return pub.stats().group_broadcasts == 1; }));
  EXPECT_EQ(pub.stats().group_epoch, 1u);
  EXPECT_EQ(pub.stats().group_members, 2);
  std::this_thread::sleep_for(200ms);  // chunk requests of a v1 download the group overtook
  const uint64_t a1 = a.stats().versions_by_group, b1 = b.stats().versions_by_group;
  const uint64_t chunks1 = pub.stats().chunks_sent;
  for (uint64_t v = 2; v <= 4; ++v) {
    Publish(pub, v);
    ExpectGets(a, v, "member a");
    ExpectGets(b, v, "member b");
    ExpectGets(plain, v, "plain");
  }
  // Once the group exists, members hear of a new version only through it.
  EXPECT_EQ(a.stats().versions_by_group, a1 + 3);
  EXPECT_EQ(b.stats().versions_by_group, b1 + 3);
  EXPECT_EQ(a.stats().group_epoch, 1u);
  EXPECT_EQ(plain.stats().versions_by_group, 0u);
  EXPECT_EQ(plain.stats().versions_received, 4u);
  // (The root counts a broadcast when it returns, which may be just after the members have it.)
  ASSERT_TRUE(WaitUntil([&] { return pub.stats().group_broadcasts == 4; }))
      << pub.stats().group_broadcasts;
  const PublisherStats ps = pub.stats();
  EXPECT_EQ(ps.group_epoch, 1u) << "a stable membership must not form new groups";
  EXPECT_EQ(ps.group_failures, 0u);
  EXPECT_EQ(ps.group_bytes, 4 * blob_bytes);
  // Over ZeroMQ only the plain subscriber's chunks went out: each of v2..v4 once.
  const uint64_t per_version = (blob_bytes + o.chunk_bytes - 1) / o.chunk_bytes;
  EXPECT_EQ(ps.chunks_sent - chunks1, 3 * per_version);
}

TEST(commWeightGroup, ADeadMemberCostsOneVersionsSpeedNotTheVersion) {
  zmq::context_t ctx;
  const WeightsOptions o = Options("inproc://group-dead", /*peer_timeout_ms=*/800);
  WeightPublisher pub(ctx, o, 0, Loopback());
  auto a = std::make_unique<WeightSubscriber>(ctx, o, 1, Loopback());
  auto b = std::make_unique<WeightSubscriber>(ctx, o, 2, Loopback());
  auto dead = std::make_unique<WeightSubscriber>(ctx, o, 3, Loopback());
  ASSERT_TRUE(WaitUntil([&] { return pub.stats().group_capable == 3; }));
  Publish(pub, 1);
  for (auto* s : {a.get(), b.get(), dead.get()}) ExpectGets(*s, 1, "v1");
  ASSERT_TRUE(WaitUntil([&] { return pub.stats().group_members == 3; }));
  // 1. A member dies between versions: the publisher still counts it a member (it was heard
  //    from within peer_timeout_ms), so the broadcast waits for it and times out.
  dead.reset();  // gone without a word: its transport never takes part again
  Publish(pub, 2);
  ExpectGets(*a, 2, "a after the death");
  ExpectGets(*b, 2, "b after the death");
  ASSERT_TRUE(WaitUntil([&] { return pub.stats().group_failures == 1; }));
  EXPECT_EQ(pub.stats().group_members, 0) << "a failed group is left";
  EXPECT_EQ(pub.stats().group_epoch, 1u);
  // Once its silence passes peer_timeout_ms, the next version forms a group without it.
  std::this_thread::sleep_for(1200ms);
  const uint64_t a2 = a->stats().versions_by_group;
  Publish(pub, 3);
  ExpectGets(*a, 3, "a in the new group");
  ExpectGets(*b, 3, "b in the new group");
  EXPECT_EQ(pub.stats().group_epoch, 2u);
  EXPECT_EQ(pub.stats().group_members, 2);
  EXPECT_EQ(a->stats().versions_by_group, a2 + 1);

  // 2. An actor arrives that never completes a join (stuck, or dead once it asked): the new
  //    group cannot form, and every member gets that version over ZeroMQ instead.
  {
    WeightSubscriber c(ctx, o, 4, std::make_unique<SilentTransport>());
    ExpectGets(c, 3, "c, arriving");  // over ZeroMQ, at once
    const SubscriberStats a3 = a->stats(), b3 = b->stats();
    Publish(pub, 4);
    ExpectGets(*a, 4, "a after a failed join");
    ExpectGets(*b, 4, "b after a failed join");
    ExpectGets(c, 4, "c after a failed join");
    EXPECT_EQ(a->stats().versions_by_group, a3.versions_by_group)
        << "v4 must have come over ZeroMQ";
    EXPECT_EQ(b->stats().versions_by_group, b3.versions_by_group)
        << "v4 must have come over ZeroMQ";
    ASSERT_TRUE(WaitUntil([&] { return pub.stats().group_failures == 2; }));
    EXPECT_EQ(pub.stats().group_epoch, 3u);
  }
  // c is gone: once its silence passes peer_timeout_ms, a and b form the fourth group.
  std::this_thread::sleep_for(1200ms);
  const uint64_t a4 = a->stats().versions_by_group;
  Publish(pub, 5);
  ExpectGets(*a, 5, "a in the fourth group");
  ExpectGets(*b, 5, "b in the fourth group");
  EXPECT_EQ(a->stats().versions_by_group, a4 + 1);
  const PublisherStats ps = pub.stats();
  EXPECT_EQ(ps.group_epoch, 4u);
  EXPECT_EQ(ps.group_members, 2);
  EXPECT_EQ(ps.group_failures, 2u);
}

TEST(commWeightGroup, ALateJoinerGetsTheCurrentVersionAtOnceAndJoinsAtTheNext) {
  zmq::context_t ctx;
  const WeightsOptions o = Options("inproc://group-late");
  WeightPublisher pub(ctx, o, 0, Loopback());
  WeightSubscriber a(ctx, o, 1, Loopback());
  ASSERT_TRUE(WaitUntil([&] { return pub.stats().group_capable == 1; }));
  Publish(pub, 1);
  ExpectGets(a, 1, "a");
  WeightSubscriber late(ctx, o, 2, Loopback());  // an actor started (or restarted) mid-run
  ExpectGets(late, 1, "late joiner");            // over ZeroMQ, without waiting for a version
  EXPECT_EQ(late.stats().versions_by_group, 0u);
  EXPECT_EQ(late.stats().group_epoch, 0u);
  Publish(pub, 2);  // a new group forms with both, and v2 reaches both through it
  ExpectGets(a, 2, "a");
  ExpectGets(late, 2, "late joiner");
  EXPECT_EQ(pub.stats().group_epoch, 2u);
  EXPECT_EQ(pub.stats().group_members, 2);
  EXPECT_EQ(late.stats().group_epoch, 2u);
  EXPECT_EQ(late.stats().versions_by_group, 1u);
  Publish(pub, 3);
  ExpectGets(late, 3, "late joiner in the group");
  EXPECT_EQ(late.stats().versions_by_group, 2u);
}

TEST(commWeightGroup, ABroadcastThatDoesNotVerifyIsFetchedOverZeroMQ) {
  zmq::context_t ctx;
  const WeightsOptions o = Options("inproc://group-corrupt");
  WeightPublisher pub(ctx, o, 0, Loopback());
  auto corrupt = std::make_shared<std::atomic<int>>(0);
  WeightSubscriber a(ctx, o, 1, std::make_unique<LoopbackTransport>(corrupt));
  ASSERT_TRUE(WaitUntil([&] { return pub.stats().group_capable == 1; }));
  Publish(pub, 1);
  ExpectGets(a, 1, "a");
  ASSERT_TRUE(WaitUntil([&] { return pub.stats().group_members == 1; }));
  const SubscriberStats before = a.stats();
  corrupt->store(1);
  Publish(pub, 2);
  ExpectGets(a, 2, "a after a corrupted broadcast");  // the right bytes, over ZeroMQ
  SubscriberStats after = a.stats();
  EXPECT_EQ(after.versions_by_group, before.versions_by_group);
  EXPECT_EQ(after.group_failures, before.group_failures + 1);
  EXPECT_GT(after.chunk_rejects, before.chunk_rejects);
  EXPECT_EQ(corrupt->load(), 0);
  Publish(pub, 3);  // the group itself is fine: the next version goes by it again
  ExpectGets(a, 3, "a");
  EXPECT_EQ(a.stats().versions_by_group, before.versions_by_group + 1);
  EXPECT_EQ(pub.stats().group_epoch, 1u);
}

// A member whose transport refuses every group (as NCCL refuses two ranks on one GPU).
class RefusingTransport : public LoopbackTransport {
 public:
  void Join(const std::string&, int, int, int) override {
    Fail(ErrorCode::kUnavailable, "refused: duplicate GPU");
  }
};

TEST(commWeightGroup, AMemberWhoseTransportRefusesStopsOfferingAndTheOthersFormTheGroup) {
  zmq::context_t ctx;
  const WeightsOptions o = Options("inproc://group-refuse", /*peer_timeout_ms=*/800);
  WeightPublisher pub(ctx, o, 0, Loopback());
  WeightSubscriber a(ctx, o, 1, std::make_unique<RefusingTransport>());
  WeightSubscriber b(ctx, o, 2, Loopback());
  ASSERT_TRUE(WaitUntil([&] { return pub.stats().group_capable == 2; }));
  Publish(pub, 1);  // the group of both cannot form: v1 goes over ZeroMQ
  ExpectGets(a, 1, "a");
  ExpectGets(b, 1, "b");
  ASSERT_TRUE(WaitUntil([&] {
    return pub.stats().group_failures == 1 && pub.stats().group_capable == 1;
  })) << "a must stop offering after its transport refused";
  for (uint64_t v = 2; v <= 3; ++v) {
    Publish(pub, v);
    ExpectGets(a, v, "a, over ZeroMQ");
    ExpectGets(b, v, "b, in a group of its own");
  }
  EXPECT_EQ(a.stats().versions_by_group, 0u);
  EXPECT_EQ(a.stats().group_failures, 1u);
  EXPECT_EQ(b.stats().versions_by_group, 2u);
  const PublisherStats ps = pub.stats();
  EXPECT_EQ(ps.group_epoch, 2u);
  EXPECT_EQ(ps.group_members, 1);
  EXPECT_EQ(ps.group_failures, 1u);
}

TEST(commWeightGroup, AGroupThatKeepsFailingIsTurnedOff) {
  zmq::context_t ctx;
  const WeightsOptions o = Options("inproc://group-off", /*peer_timeout_ms=*/400);
  WeightPublisher pub(ctx, o, 0, Loopback());
  WeightSubscriber a(ctx, o, 1, std::make_unique<SilentTransport>());
  ASSERT_TRUE(WaitUntil([&] { return pub.stats().group_capable == 1; }));
  for (uint64_t v = 1; v <= 3; ++v) {
    Publish(pub, v);
    ExpectGets(a, v, "a, whose joins never complete");  // each over ZeroMQ after the failed join
    ASSERT_TRUE(WaitUntil([&] { return pub.stats().group_failures == v; })) << v;
  }
  EXPECT_EQ(pub.stats().group_epoch, 3u);
  ASSERT_TRUE(WaitUntil([&] { return pub.stats().group_capable == 0; }))
      << "the group path stays on";
  Publish(pub, 4);  // no fourth attempt: straight over ZeroMQ
  ExpectGets(a, 4, "a, group path off");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(pub.stats().group_epoch, 3u);
  EXPECT_EQ(pub.stats().group_failures, 3u);
  EXPECT_EQ(a.stats().versions_by_group, 0u);
  EXPECT_EQ(a.stats().versions_received, 4u);
}

}  // namespace
}  // namespace iranker::comm
