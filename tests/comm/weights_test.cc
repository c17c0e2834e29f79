// Weight broadcast: blob round trip and validation, a late joiner gets the current version,
// live subscribers follow new versions, several subscribers get identical bytes.
#include "comm/weights.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <thread>

#include "base/error.h"

namespace iranker::comm {
namespace {

using namespace std::chrono_literals;

struct Model {
  std::vector<float> w1, w2;
  std::vector<int64_t> ids;
  std::vector<TensorView> Views() const {
    return {{"layer.w1", DType::kFloat32, {static_cast<int64_t>(w1.size() / 4), 4}, w1.data(), w1.size() * 4},
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
  EXPECT_FALSE(ParseWeights(std::make_shared<const std::string>(blob->substr(0, blob->size() - 1)), &ws, &why));
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
  EXPECT_GT(st.last_delivery_seconds, 0.0);
  EXPECT_TRUE(st.publisher_alive);
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

}  // namespace
}  // namespace iranker::comm
