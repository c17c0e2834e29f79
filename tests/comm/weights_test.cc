// Weight broadcast: blob round trip and validation, a late joiner gets the current version,
// live subscribers follow new versions, several subscribers get identical bytes.
#include "comm/weights.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <thread>

#include "base/bytes.h"
#include "base/error.h"
#include "comm/wire.h"
#include "comm/zmq_util.h"

namespace iranker::comm {
namespace {

using namespace std::chrono_literals;

struct Model {
  std::vector<float> w1, w2;
  std::vector<int64_t> ids;
  std::vector<TensorView> Views() const {
    return {
        {"layer.w1",
         DType::kFloat32,
         {static_cast<int64_t>(w1.size() / 4), 4},
         w1.data(),
         w1.size() * 4},
        {"layer.w2", DType::kFloat32, {static_cast<int64_t>(w2.size())}, w2.data(), w2.size() * 4},
        {"ids", DType::kInt64, {static_cast<int64_t>(ids.size())}, ids.data(), ids.size() * 8},
        {"empty", DType::kBFloat16, {0, 3}, nullptr, 0}};
  }
};

Model MakeModel(float v, size_t n = 1000) {
  Model m;
  m.w1.resize(n * 4);
  std::iota(m.w1.begin(), m.w1.end(), v);
  m.w2.assign(n / 2 + 3, -v);
  m.ids = {1, 2, 3, static_cast<int64_t>(v)};
  return m;
}

void ExpectMatches(const WeightSet& ws, const Model& m) {
  ASSERT_EQ(ws.tensors.size(), 4u);
  const auto* w1 = ws.Find("layer.w1");
  ASSERT_NE(w1, nullptr);
  EXPECT_EQ(w1->shape, (std::vector<int64_t>{static_cast<int64_t>(m.w1.size() / 4), 4}));
  EXPECT_EQ(w1->offset % 64, 0u);
  EXPECT_EQ(std::memcmp(ws.data(*w1), m.w1.data(), m.w1.size() * 4), 0);
  const auto* w2 = ws.Find("layer.w2");
  ASSERT_NE(w2, nullptr);
  EXPECT_EQ(std::memcmp(ws.data(*w2), m.w2.data(), m.w2.size() * 4), 0);
  const auto* ids = ws.Find("ids");
  ASSERT_NE(ids, nullptr);
  EXPECT_EQ(ids->dtype, DType::kInt64);
  EXPECT_EQ(std::memcmp(ws.data(*ids), m.ids.data(), 32), 0);
}

WeightsOptions FastOptions() {
  WeightsOptions o;
  o.endpoint = "tcp://127.0.0.1:*";
  o.chunk_bytes = 4096;  // many chunks even for small test models
  o.poll_ms = 20;
  o.peer_timeout_ms = 1000;
  return o;
}

TEST(commWeights, BlobRoundTripAndValidation) {
  Model m = MakeModel(1.5f);
  auto blob = std::make_shared<const std::string>(SerializeWeights(9, m.Views()));
  WeightSet ws;
  std::string why;
  ASSERT_TRUE(ParseWeights(blob, &ws, &why)) << why;
  EXPECT_EQ(ws.version, 9u);
  ExpectMatches(ws, m);
  for (size_t n = 0; n < 200; ++n)  // truncated manifests
    EXPECT_FALSE(ParseWeights(std::make_shared<const std::string>(blob->substr(0, n)), &ws, &why));
  EXPECT_FALSE(ParseWeights(std::make_shared<const std::string>(blob->substr(0, blob->size() - 1)),
                            &ws, &why));
  std::vector<TensorView> bad = m.Views();
  bad[0].nbytes -= 4;
  EXPECT_THROW(SerializeWeights(1, bad), Error);
}

TEST(commWeights, LateJoinerGetsCurrentVersionAndFollowsNewOnes) {
  zmq::context_t ctx;
  WeightsOptions opt = FastOptions();
  WeightPublisher pub(ctx, opt);
  opt.endpoint = pub.endpoint();
  Model v1 = MakeModel(1), v2 = MakeModel(2);
  pub.Publish(1, v1.Views());
  pub.Publish(2, v2.Views());
  EXPECT_THROW(pub.Publish(2, v2.Views()), Error);  // versions only increase

  WeightSubscriber late(ctx, opt, /*subscriber_id=*/7);  // joins after both publishes
  WeightSet ws;
  ASSERT_TRUE(late.WaitFor(1, &ws, 5s));
  EXPECT_EQ(ws.version, 2u);  // the latest, not the first
  ExpectMatches(ws, v2);
  EXPECT_FALSE(late.HasNewer());
  EXPECT_FALSE(late.TakeLatest(&ws));

  Model v3 = MakeModel(3, 20000);  // larger: 80 KB + in 4 KB chunks
  pub.Publish(3, v3.Views());
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!late.HasNewer() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);  // the actor's non-blocking check between steps
  ASSERT_TRUE(late.TakeLatest(&ws));
  EXPECT_EQ(ws.version, 3u);
  ExpectMatches(ws, v3);
  auto st = late.stats();
  EXPECT_EQ(st.taken_version, 3u);
  EXPECT_EQ(st.chunk_rejects, 0u);
  // Measured in whole milliseconds: an 80 KB version over inproc can arrive within one (a fresh
  // CI run saw 0).
  EXPECT_GE(st.last_delivery_seconds, 0.0);
  EXPECT_LT(st.last_delivery_seconds, 5.0);
  EXPECT_TRUE(st.publisher_alive);
}

// A subscriber the publisher knows gets each new version's first window of chunks behind the
// announce, unrequested: a model inside the window arrives without a single request.
TEST(commWeights, NewVersionsArePushedToKnownSubscribers) {
  zmq::context_t ctx;
  WeightsOptions opt = FastOptions();
  ASSERT_EQ(opt.chunks_in_flight, 8);
  WeightPublisher pub(ctx, opt);
  opt.endpoint = pub.endpoint();
  WeightSubscriber sub(ctx, opt, /*subscriber_id=*/3);
  Model v1 = MakeModel(1);
  pub.Publish(1, v1.Views());
  WeightSet ws;
  ASSERT_TRUE(sub.WaitFor(1, &ws, 5s));  // it has polled: the publisher knows it now
  // The publisher's thread counts a chunk just after queuing it: the subscriber can be faster.
  auto settled = [&](uint64_t bytes_sent) {
    auto deadline = std::chrono::steady_clock::now() + 2s;
    while (pub.stats().bytes_sent < bytes_sent && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(5ms);
    return pub.stats();
  };
  const PublisherStats before = settled(ws.total_bytes());
  Model v2 = MakeModel(2);  // 18.5 KB: 5 chunks of 4 KB
  pub.Publish(2, v2.Views());
  ASSERT_TRUE(sub.WaitFor(2, &ws, 5s));
  ExpectMatches(ws, v2);
  const PublisherStats after = settled(before.bytes_sent + ws.total_bytes());
  EXPECT_EQ(after.chunks_pushed - before.chunks_pushed, 5u);
  EXPECT_EQ(after.chunks_sent - before.chunks_sent, 5u);  // nothing requested
  Model v3 = MakeModel(3, 20000);  // 360 KB: the first 8 chunks pushed, the rest requested
  pub.Publish(3, v3.Views());
  ASSERT_TRUE(sub.WaitFor(3, &ws, 5s));
  ExpectMatches(ws, v3);
  const PublisherStats last = settled(after.bytes_sent + ws.total_bytes());
  EXPECT_EQ(last.chunks_pushed - after.chunks_pushed, 8u);
  EXPECT_GE(last.bytes_sent - after.bytes_sent, ws.total_bytes());
  EXPECT_EQ(sub.stats().chunk_rejects, 0u);
  EXPECT_EQ(sub.stats().restarts, 0u);
}

// Versions of one size reuse released buffers on both sides (BlobRecycler). A reused buffer still
// holds the older version, so every byte must be rewritten: here tensor "a" shrinks from 60 bytes
// to 4 inside the same 64-byte slot, and the received blob must equal a fresh serialisation byte
// for byte (padding zeroed, nothing stale).
TEST(commWeights, VersionsOfOneSizeReuseBuffersAndMatchAFreshBlob) {
  zmq::context_t ctx;
  WeightsOptions opt = FastOptions();
  WeightPublisher pub(ctx, opt);
  opt.endpoint = pub.endpoint();
  WeightSubscriber sub(ctx, opt, 3);
  std::vector<float> big(30000);
  WeightSet held;  // what the actor holds; replacing it releases the older buffer
  for (uint64_t v = 1; v <= 6; ++v) {
    std::vector<float> a(v <= 2 ? 15 : 1, 100.0f + v);
    std::fill(big.begin(), big.end(), static_cast<float>(v));
    std::vector<TensorView> views = {
        {"a", DType::kFloat32, {static_cast<int64_t>(a.size())}, a.data(), a.size() * 4},
        {"b", DType::kFloat32, {static_cast<int64_t>(big.size())}, big.data(), big.size() * 4}};
    pub.Publish(v, views);
    WeightSet ws;
    ASSERT_TRUE(sub.WaitFor(v, &ws, 5s)) << v;
    ASSERT_EQ(ws.version, v);
    const std::string fresh = SerializeWeights(v, views);
    ASSERT_EQ(ws.blob->size(), fresh.size()) << v;
    EXPECT_TRUE(*ws.blob == fresh) << "version " << v << " differs from a fresh serialisation";
    held = std::move(ws);
  }
  EXPECT_EQ(sub.stats().chunk_rejects, 0u);
}

TEST(commWeights, SeveralSubscribersGetIdenticalBytes) {
  zmq::context_t ctx;
  WeightsOptions opt = FastOptions();
  WeightPublisher pub(ctx, opt);
  opt.endpoint = pub.endpoint();
  std::vector<std::unique_ptr<WeightSubscriber>> subs;
  for (int i = 0; i < 4; ++i) subs.push_back(std::make_unique<WeightSubscriber>(ctx, opt, i));
  Model m = MakeModel(5, 50000);
  size_t bytes = pub.Publish(11, m.Views());
  for (auto& s : subs) {
    WeightSet ws;
    ASSERT_TRUE(s->WaitFor(11, &ws, 10s));
    ExpectMatches(ws, m);
    EXPECT_EQ(ws.total_bytes(), bytes);
  }
  EXPECT_GE(pub.stats().chunks_sent, 4 * (bytes / 4096));
}

TEST(commWeights, SubscriberWaitsForAPublisherThatStartsLater) {
  zmq::context_t ctx;
  WeightsOptions opt = FastOptions();
  opt.endpoint = "ipc:///tmp/iranker-comm-weights-" + std::to_string(::getpid());
  WeightSubscriber sub(ctx, opt, 1);
  WeightSet ws;
  EXPECT_FALSE(sub.WaitFor(1, &ws, 100ms));
  EXPECT_FALSE(sub.stats().publisher_alive);
  WeightPublisher pub(ctx, opt);
  Model m = MakeModel(4);
  pub.Publish(4, m.Views());
  ASSERT_TRUE(sub.WaitFor(4, &ws, 5s));
  ExpectMatches(ws, m);
}

// A publisher driven by hand, to corrupt what it serves: a chunk whose data does not match its
// checksum is rejected and fetched again; a blob whose chunks do not reproduce the announced
// blob checksum is rejected whole, and the subscriber never stages it.
class HandPublisher {
 public:
  HandPublisher(zmq::context_t& ctx, const std::string& endpoint)
      : router_(ctx, zmq::socket_type::router) {
    router_.set(zmq::sockopt::linger, 0);
    router_.bind(endpoint);
  }
  void Offer(uint64_t version, std::string blob, size_t chunk_bytes, bool wrong_blob_checksum) {
    version_ = version;
    blob_ = std::move(blob);
    chunk_bytes_ = chunk_bytes;
    hashes_.clear();
    for (size_t off = 0; off < blob_.size(); off += chunk_bytes_)
      hashes_.push_back(Checksum64(blob_.data() + off, std::min(chunk_bytes_, blob_.size() - off)));
    blob_hash_ = Checksum64(hashes_.data(), hashes_.size() * 8) ^ (wrong_blob_checksum ? 1 : 0);
  }
  // Serves polls and requests for a while; the first `corrupt` chunks it sends carry flipped data
  // under the right checksum.
  void Serve(std::chrono::milliseconds for_how_long, int corrupt = 0) {
    auto end = std::chrono::steady_clock::now() + for_how_long;
    while (std::chrono::steady_clock::now() < end) {
      zmq::message_t route, body;
      if (!router_.recv(route, zmq::recv_flags::dontwait)) {
        std::this_thread::sleep_for(1ms);
        continue;
      }
      ASSERT_TRUE(router_.recv(body));
      TsanAcquire(body);  // a zero-copy frame from the subscriber's thread (comm/zmq_util.h)
      MessageView m;
      ASSERT_EQ(DecodeMessage(body.data(), body.size(), 1 << 20, &m), WireReject::kOk);
      ByteReader r(m.payload, m.payload_size);
      std::string payload;
      ByteWriter w(&payload);
      if (m.type == MsgType::kWeightsPoll) {
        w.Put<uint64_t>(version_);
        w.Put<uint64_t>(blob_.size());
        w.Put<uint64_t>(chunk_bytes_);
        w.Put<uint32_t>(static_cast<uint32_t>(hashes_.size()));
        w.Put<uint64_t>(blob_hash_);
        w.Put<uint32_t>(0);  // nothing pushed: every chunk is requested
        Send(route, EncodeMessage(MsgType::kWeightsAnnounce, 0, payload));
      } else if (m.type == MsgType::kWeightsRequest) {
        uint64_t version = 0;
        uint32_t chunk = 0;
        ASSERT_TRUE(r.Get(&version) && r.Get(&chunk));
        ASSERT_EQ(version, version_);
        size_t off = chunk * chunk_bytes_, n = std::min(chunk_bytes_, blob_.size() - off);
        w.Put(version);
        w.Put(chunk);
        w.Put<uint64_t>(off);
        w.Put<uint64_t>(n);
        w.Put(hashes_[chunk]);
        std::string data = blob_.substr(off, n);
        if (corrupt > 0) {
          data[n / 2] ^= 0x40;
          --corrupt;
        }
        Send(route, EncodeMessage(MsgType::kWeightsChunk, 0, payload), true);
        router_.send(zmq::buffer(data));
      }
    }
  }

 private:
  void Send(const zmq::message_t& route, const std::string& frame, bool more = false) {
    router_.send(zmq::buffer(route.data(), route.size()), zmq::send_flags::sndmore);
    router_.send(zmq::buffer(frame), more ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  zmq::socket_t router_;
  uint64_t version_ = 0, blob_hash_ = 0;
  std::string blob_;
  size_t chunk_bytes_ = 4096;
  std::vector<uint64_t> hashes_;
};

TEST(commWeights, CorruptChunksAreFetchedAgainAndABadBlobChecksumIsRejected) {
  zmq::context_t ctx;
  HandPublisher pub(ctx, "inproc://weights-corrupt");
  WeightsOptions o = FastOptions();
  o.endpoint = "inproc://weights-corrupt";
  WeightSubscriber sub(ctx, o, 1);
  Model m = MakeModel(3.0f);
  std::string blob = SerializeWeights(1, m.Views());
  ASSERT_GT(blob.size(), 3u * 4096);  // several chunks
  pub.Offer(1, blob, 4096, /*wrong_blob_checksum=*/false);
  pub.Serve(800ms, /*corrupt=*/2);
  WeightSet ws;
  ASSERT_TRUE(sub.WaitFor(1, &ws, 100ms));
  ExpectMatches(ws, m);
  EXPECT_EQ(sub.stats().chunk_rejects, 2u);  // both corrupt chunks, each fetched again

  Model m2 = MakeModel(5.0f);
  pub.Offer(2, SerializeWeights(2, m2.Views()), 4096, /*wrong_blob_checksum=*/true);
  pub.Serve(800ms);
  EXPECT_FALSE(sub.WaitFor(2, &ws, 100ms));
  auto st = sub.stats();
  EXPECT_EQ(st.staged_version, 1u);
  EXPECT_GE(st.chunk_rejects, 3u);  // the whole blob, at least once
}

// An I/O thread that stops (here: its ZeroMQ context is shut down under it) latches why, and the
// next call on the endpoint throws that cause instead of waiting out its time-out: an actor then
// reports the broken connection, not "learner rank 0 is stuck".
TEST(commWeights, AStoppedIoThreadIsReportedByTheNextCall) {
  zmq::context_t ctx;
  WeightsOptions o;
  o.endpoint = "inproc://weights-io-failure";
  o.poll_ms = 10;
  WeightPublisher pub(ctx, o);
  WeightSubscriber sub(ctx, o, /*subscriber_id=*/1);
  const Model m = MakeModel(1.0f);
  pub.Publish(1, m.Views());
  WeightSet ws;
  ASSERT_TRUE(sub.WaitFor(1, &ws, 10s));
  ctx.shutdown();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    sub.WaitFor(2, &ws, 30s);
    FAIL() << "WaitFor returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    EXPECT_NE(std::string(e.what()).find("weight subscriber 1 (publisher "
                                         "inproc://weights-io-failure): I/O thread failed"),
              std::string::npos)
        << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);  // not the 30 s time-out
  EXPECT_THROW(sub.HasNewer(), Error);
  // The publisher's I/O thread stopped too (it polls at least every 100 ms).
  std::this_thread::sleep_for(300ms);
  try {
    pub.Publish(2, m.Views());
    FAIL() << "Publish returned";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("weight publisher inproc://weights-io-failure: I/O "
                                         "thread failed"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace iranker::comm
