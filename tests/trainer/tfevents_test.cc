// TensorBoard event files checked against the format's definition: TFRecord framing with masked
// CRC-32C, and the Event / Summary protobuf fields, decoded here independently of the writer.
#include "trainer/tfevents.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "trainer/run_dir.h"

namespace iranker {
namespace {

TEST(TfEvents, Crc32cKnownVectors) {
  // RFC 3720 (iSCSI) appendix B.4 and the common check value.
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0'), ones(32, '\xff');
  EXPECT_EQ(Crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(ones.data(), 32), 0x62A8AB43u);
  std::string inc(32, 0);
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<char>(i);
  EXPECT_EQ(Crc32c(inc.data(), 32), 0x46DD794Eu);
  // Continuing a CRC equals computing it in one go.
  EXPECT_EQ(Crc32c("6789", 4, Crc32c("12345", 5)), 0xE3069283u);
  const uint32_t c = Crc32c("123456789", 9);
  EXPECT_EQ(MaskedCrc32c("123456789", 9), ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

// A minimal protobuf reader: field number -> raw values (varint as number, others as bytes).
struct Field {
  int wire = 0;
  uint64_t varint = 0;
  std::string bytes;
};
std::multimap<int, Field> Parse(const std::string& s) {
  std::multimap<int, Field> out;
  size_t i = 0;
  auto varint = [&] {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const uint8_t b = static_cast<uint8_t>(s.at(i++));
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (i < s.size()) {
    const uint64_t key = varint();
    Field f;
    f.wire = key & 7;
    if (f.wire == 0)
      f.varint = varint();
    else if (f.wire == 1)
      f.bytes = s.substr(i, 8), i += 8;
    else if (f.wire == 5)
      f.bytes = s.substr(i, 4), i += 4;
    else if (f.wire == 2) {
      const uint64_t n = varint();
      f.bytes = s.substr(i, n);
      i += n;
    } else {
      ADD_FAILURE() << "unexpected wire type " << f.wire;
      return out;
    }
    out.emplace(static_cast<int>(key >> 3), f);
  }
  return out;
}

// The records of a TFRecord file, each CRC checked.
std::vector<std::string> ReadRecords(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> out;
  size_t at = 0;
  auto u32 = [&](size_t p) {
    uint32_t v;
    std::memcpy(&v, all.data() + p, 4);
    return v;
  };
  while (at < all.size()) {
    EXPECT_LE(at + 12, all.size());
    uint64_t len;
    std::memcpy(&len, all.data() + at, 8);
    EXPECT_EQ(u32(at + 8), MaskedCrc32c(all.data() + at, 8))
        << "length CRC of record " << out.size();
    const std::string data = all.substr(at + 12, len);
    EXPECT_EQ(u32(at + 12 + len), MaskedCrc32c(data.data(), data.size()))
        << "data CRC of record " << out.size();
    out.push_back(data);
    at += 12 + len + 4;
  }
  EXPECT_EQ(at, all.size());
  return out;
}

TEST(TfEvents, MetricsLogWritesFramedEventsWithScalars) {
  auto dir =
      std::filesystem::temp_directory_path() / ("iranker_tfevents_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    MetricsLog log((dir / "metrics.jsonl").string(), dir.string());
    log.Write({{"type", "train"},
               {"step", 1},
               {"reward_mean", 0.75},
               {"kl", 0.0},
               {"note", "text is skipped"}});
    log.Write({{"type", "eval"}, {"step", 7}, {"mrr", 0.5}, {"rows", nlohmann::json::array()}});
    log.Write({{"type", "run"}, {"message", "no step: metrics.jsonl only"}});
  }
  std::string path;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      path = e.path().string();
  ASSERT_FALSE(path.empty());
  auto records = ReadRecords(path);
  ASSERT_EQ(records.size(), 3u);  // file version + two steps
  auto first = Parse(records[0]);
  ASSERT_EQ(first.count(3), 1u);
  EXPECT_EQ(first.find(3)->second.bytes, "brain.Event:2");
  EXPECT_EQ(first.find(1)->second.wire, 1);  // wall_time: double

  auto scalars = [&](const std::string& rec, int64_t* step) {
    auto ev = Parse(rec);
    *step = static_cast<int64_t>(ev.find(2)->second.varint);
    std::map<std::string, float> values;
    auto summary = Parse(ev.find(5)->second.bytes);
    for (auto [it, end] = summary.equal_range(1); it != end; ++it) {
      auto value = Parse(it->second.bytes);
      float f;
      std::memcpy(&f, value.find(2)->second.bytes.data(), 4);
      values[value.find(1)->second.bytes] = f;
    }
    return values;
  };
  int64_t step = 0;
  auto train = scalars(records[1], &step);
  EXPECT_EQ(step, 1);
  EXPECT_EQ(train.size(), 2u);
  EXPECT_FLOAT_EQ(train["train/reward_mean"], 0.75f);
  EXPECT_FLOAT_EQ(train["train/kl"], 0.0f);
  auto eval = scalars(records[2], &step);
  EXPECT_EQ(step, 7);
  EXPECT_FLOAT_EQ(eval["eval/mrr"], 0.5f);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace iranker
