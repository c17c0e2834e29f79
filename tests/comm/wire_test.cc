// Wire format: round trips and every malformed-frame case the decoder must reject.
#include "comm/wire.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstring>
#include <random>

namespace iranker::comm {
namespace {

constexpr size_t kLimit = 1 << 20;

// Checksum64 goes through libxxhash's CPU dispatch; every path must give the portable XXH3 value,
// or peers on different CPUs would reject each other's frames.
TEST(commWire, ChecksumIsPortableXxh3) {
  std::mt19937 rng(7);
  std::string buf(1 << 20, '\0');
  for (auto& c : buf) c = static_cast<char>(rng());
  for (size_t n : {0, 1, 3, 16, 17, 128, 129, 240, 241, 1000, 4096, 65537, 1 << 20})
    for (size_t off : {0, 1, 7})
      if (off + n <= buf.size()) {
        EXPECT_EQ(comm::Checksum64(buf.data() + off, n), XXH3_64bits(buf.data() + off, n))
            << n << " bytes at offset " << off;
      }
  // A fixed vector pins the value itself, not just the two entry points' agreement.
  EXPECT_EQ(comm::Checksum64("iranker", 7), 0x16166a280df8ca28ULL);
}

TEST(commWire, RoundTrip) {
  std::string payload = "hello, learner";
  std::string frame = EncodeMessage(MsgType::kBatch, 42, payload);
  ASSERT_EQ(frame.size(), kWireHeaderBytes + payload.size());
  MessageView v;
  ASSERT_EQ(DecodeMessage(frame.data(), frame.size(), kLimit, &v), WireReject::kOk);
  EXPECT_EQ(v.type, MsgType::kBatch);
  EXPECT_EQ(v.sender, 42u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.payload), v.payload_size), payload);
}

TEST(commWire, EmptyPayloadAndSealInPlace) {
  std::string frame = EncodeMessage(MsgType::kPing, 1, nullptr, 0);
  MessageView v;
  EXPECT_EQ(DecodeMessage(frame.data(), frame.size(), kLimit, &v), WireReject::kOk);
  EXPECT_EQ(v.payload_size, 0u);
  std::string sealed(kWireHeaderBytes, '\0');
  sealed += "abc";
  SealMessage(MsgType::kAck, 9, &sealed);
  EXPECT_EQ(sealed, EncodeMessage(MsgType::kAck, 9, std::string("abc")));
}

WireReject Decode(const std::string& f, size_t limit = kLimit) {
  MessageView v;
  return DecodeMessage(f.data(), f.size(), limit, &v);
}

TEST(commWire, RejectsEveryMalformedCase) {
  const std::string good = EncodeMessage(MsgType::kBatch, 7, std::string(100, 'x'));
  // Truncated: shorter than a header, at every length.
  for (size_t n = 0; n < kWireHeaderBytes; ++n)
    EXPECT_EQ(Decode(good.substr(0, n)), WireReject::kTruncated) << n;
  // Payload shorter or longer than declared.
  EXPECT_EQ(Decode(good.substr(0, good.size() - 1)), WireReject::kLengthMismatch);
  EXPECT_EQ(Decode(good + "y"), WireReject::kLengthMismatch);
  // Bad magic, version, type, reserved.
  std::string f = good;
  f[0] ^= 1;
  EXPECT_EQ(Decode(f), WireReject::kBadMagic);
  f = good;
  f[4] = 2;
  EXPECT_EQ(Decode(f), WireReject::kBadVersion);
  f = good;
  f[6] = 99;
  EXPECT_EQ(Decode(f), WireReject::kBadType);
  f = good;
  f[12] = 1;
  EXPECT_EQ(Decode(f), WireReject::kBadVersion);
  // Oversized: the frame, and a declared length over the limit.
  EXPECT_EQ(Decode(good, good.size() - 1), WireReject::kOversized);
  f = good;
  uint32_t huge = 0xFFFFFFF0u;
  std::memcpy(&f[8], &huge, 4);
  EXPECT_EQ(Decode(f), WireReject::kOversized);
  // Corrupted: any flipped payload bit, or a flipped checksum bit.
  for (size_t i = kWireHeaderBytes; i < good.size(); i += 7) {
    f = good;
    f[i] ^= 0x10;
    EXPECT_EQ(Decode(f), WireReject::kBadChecksum) << i;
  }
  f = good;
  f[30] ^= 1;
  EXPECT_EQ(Decode(f), WireReject::kBadChecksum);
  // Null buffer.
  MessageView v;
  EXPECT_EQ(DecodeMessage(nullptr, 0, kLimit, &v), WireReject::kTruncated);
}

TEST(commWire, StatsCountReasons) {
  WireStats stats;
  MessageView v;
  std::string junk(10, 'j');
  EXPECT_FALSE(DecodeChecked(junk.data(), junk.size(), kLimit, &stats, "test", &v));
  std::string bad = EncodeMessage(MsgType::kPing, 1, std::string("abc"));
  bad.back() ^= 1;
  EXPECT_FALSE(DecodeChecked(bad.data(), bad.size(), kLimit, &stats, "test", &v));
  EXPECT_FALSE(DecodeChecked(bad.data(), bad.size(), kLimit, &stats, "test", &v));
  EXPECT_EQ(stats.count(WireReject::kTruncated), 1u);
  EXPECT_EQ(stats.count(WireReject::kBadChecksum), 2u);
  EXPECT_EQ(stats.total_rejected(), 3u);
  EXPECT_EQ(stats.Summary(), "truncated=1 bad_checksum=2");
}

TEST(commWire, RandomBytesNeverDecodeAsGood) {
  std::mt19937 rng(1);
  for (int i = 0; i < 2000; ++i) {
    std::string f(rng() % 200, '\0');
    for (auto& c : f) c = static_cast<char>(rng());
    MessageView v;
    EXPECT_NE(DecodeMessage(f.data(), f.size(), kLimit, &v), WireReject::kOk);
  }
}

}  // namespace
}  // namespace iranker::comm
