// Trajectory batch encoding: exact round trip, and every truncation / corruption is rejected.
#include "trajectory/codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "tests/trajectory/test_util.h"

namespace iranker {
namespace {

TEST(TrajectoryCodec, RoundTripIsExact) {
  TrajectoryBatch b = testing::MakeBatch(5, /*steps=*/3, /*tokens=*/40);
  std::string bytes = EncodeTrajectoryBatch(b);
  TrajectoryBatch out;
  std::string why;
  ASSERT_TRUE(DecodeTrajectoryBatch(bytes.data(), bytes.size(), &out, &why)) << why;
  EXPECT_EQ(out, b);
  int32_t actor;
  uint64_t inc, seq;
  ASSERT_TRUE(PeekTrajectoryBatchId(bytes.data(), bytes.size(), &actor, &inc, &seq));
  EXPECT_EQ(actor, b.actor_id);
  EXPECT_EQ(inc, b.actor_incarnation);
  EXPECT_EQ(seq, b.batch_seq);
}

// The encoding of a fixed batch, byte for byte (size and FNV-1a 64 of the bytes): the wire format
// of kTrajectoryFormatVersion 2 (version 1's, checked against the hand-written encoder before the
// field list, plus StepRecord::alternatives after the log-probabilities).
// A change here is a change of the wire format: bump kTrajectoryFormatVersion.
TEST(TrajectoryCodec, WireBytesArePinned) {
  TrajectoryBatch b = testing::MakeBatch(5, /*steps=*/3, /*tokens=*/40);
  b.episodes.push_back({});
  b.episodes.back().ranking = {3, 1, 2};
  b.episodes.back().query_id = "qq";
  b.episodes.back().mrr = 0.5f;
  const std::string bytes = EncodeTrajectoryBatch(b);
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  EXPECT_EQ(bytes.size(), 2537u);
  EXPECT_EQ(h, 0x3fe366022459c854ull);
  EXPECT_EQ(kTrajectoryFormatVersion, 2u);
}

TEST(TrajectoryCodec, EmptyBatchAndEmptyFields) {
  TrajectoryBatch b;
  b.steps.emplace_back();
  b.episodes.emplace_back();
  std::string bytes = EncodeTrajectoryBatch(b);
  TrajectoryBatch out;
  ASSERT_TRUE(DecodeTrajectoryBatch(bytes.data(), bytes.size(), &out));
  EXPECT_EQ(out, b);
  EXPECT_EQ(out.steps[0].chosen, -1);
}

TEST(TrajectoryCodec, EncodingIsCompact) {
  TrajectoryBatch b = testing::MakeBatch(1, /*steps=*/4, /*tokens=*/256);
  std::string bytes = EncodeTrajectoryBatch(b);
  size_t payload = TrajectoryPayloadBytes(b);
  EXPECT_LT(bytes.size(), payload + 4 * 128 + 128);  // bulk + < 128 bytes of framing per record
}

TEST(TrajectoryCodec, EveryTruncationIsRejected) {
  std::string bytes = EncodeTrajectoryBatch(testing::MakeBatch(2, 2, 8));
  TrajectoryBatch out;
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(DecodeTrajectoryBatch(bytes.data(), n, &out)) << n;
  EXPECT_FALSE(DecodeTrajectoryBatch((bytes + "x").data(), bytes.size() + 1, &out));
}

TEST(TrajectoryCodec, WrongVersionAndHostileCountsAreRejected) {
  std::string bytes = EncodeTrajectoryBatch(testing::MakeBatch(2, 1, 4));
  TrajectoryBatch out;
  std::string why;
  std::string f = bytes;
  f[4] = 9;
  EXPECT_FALSE(DecodeTrajectoryBatch(f.data(), f.size(), &out, &why));
  EXPECT_NE(why.find("version"), std::string::npos);
  // A step count of 2^32-1 must be refused before anything is allocated for it.
  f = bytes;
  uint32_t huge = 0xFFFFFFFFu;
  std::memcpy(&f[28], &huge, 4);
  EXPECT_FALSE(DecodeTrajectoryBatch(f.data(), f.size(), &out, &why));
  EXPECT_NE(why.find("step count"), std::string::npos);
  // A huge array length inside a step.
  f = bytes;
  std::memcpy(&f[32 + 8 + 4 + 4], &huge, 4);  // query_id length
  EXPECT_FALSE(DecodeTrajectoryBatch(f.data(), f.size(), &out, &why));
  // A bool that is neither 0 nor 1 (valid_format of the only step, before the episode count).
  TrajectoryBatch one;
  one.steps.emplace_back();
  f = EncodeTrajectoryBatch(one);
  ASSERT_TRUE(DecodeTrajectoryBatch(f.data(), f.size(), &out));
  f[f.size() - 4 - 2] = 2;
  EXPECT_FALSE(DecodeTrajectoryBatch(f.data(), f.size(), &out));
  // Random corruption never crashes (it may still decode if it hits a float).
  std::mt19937 rng(3);
  for (int i = 0; i < 3000; ++i) {
    f = bytes;
    for (int k = 0; k < 3; ++k) f[rng() % f.size()] = static_cast<char>(rng());
    DecodeTrajectoryBatch(f.data(), f.size(), &out);
  }
}

}  // namespace
}  // namespace iranker
