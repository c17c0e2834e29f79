#include "model/safetensors.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <fstream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "test_util.h"

namespace iranker {
namespace {

std::string Raw(const std::string& header, const std::string& data) {
  uint64_t n = header.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  return out + header + data;
}

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::TempDir("st"); }
  std::string WriteRaw(const std::string& bytes) {
    std::string p = dir_ + "/x.safetensors";
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  // Expects Open to fail with a message containing `what` and the file path.
  void ExpectBad(const std::string& bytes, const std::string& what) {
    std::string p = WriteRaw(bytes);
    try {
      SafetensorsFile::Open(p);
      ADD_FAILURE() << "no error for: " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  }
  std::string dir_;
};

TEST_F(Safetensors, RoundTripIsBitExact) {
  auto a = torch::randn({3, 5});
  auto b = torch::randn({7}).to(torch::kBFloat16);
  auto c = torch::arange(6, torch::kInt64).view({2, 3});
  auto s = torch::randn({4, 4}).t();  // non-contiguous input
  WriteSafetensors(dir_ + "/t.safetensors", {{"a", a}, {"b", b}, {"c", c}, {"s", s}}, {{"k", "v"}});
  auto f = SafetensorsFile::Open(dir_ + "/t.safetensors");
  EXPECT_TRUE(torch::equal(f->Tensor("a"), a));
  EXPECT_TRUE(torch::equal(f->Tensor("b"), b));
  EXPECT_EQ(f->Tensor("b").scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(f->Tensor("c"), c));
  EXPECT_TRUE(torch::equal(f->Tensor("s"), s));
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_EQ(f->metadata().at("k"), "v");
  // Header is padded so the data section starts 8-byte aligned.
  std::string raw = ReadFile(dir_ + "/t.safetensors");
  uint64_t n;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ(n % 8, 0u);
}

TEST_F(Safetensors, TensorsOutliveTheFileObject) {
  WriteSafetensors(dir_ + "/t.safetensors", {{"a", torch::ones({1000})}});
  at::Tensor t;
  {
    auto f = SafetensorsFile::Open(dir_ + "/t.safetensors");
    t = f->Tensor("a");
  }
  EXPECT_EQ(t.sum().item<float>(), 1000.0f);  // the mapping is still alive
}

TEST_F(Safetensors, MalformedFilesAreClearErrors) {
  const std::string ok_data(16, '\0');
  ExpectBad("abc", "truncated");
  ExpectBad(
      Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", "").substr(0, 20),
      "truncated");
  ExpectBad(std::string("\xff\xff\xff\xff\xff\xff\x00\x00", 8) + "{}", "implausible");
  ExpectBad(Raw("{not json", ok_data), "not valid JSON");
  ExpectBad(Raw("[1,2]", ""), "not a JSON object");
  ExpectBad(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
                ok_data.substr(0, 10)),
            "tensor 'a': data_offsets [0, 16) exceed the data section of 10 bytes");
  ExpectBad(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,16]}}", ok_data),
            "tensor 'a': data_offsets span 16 bytes but F32 with this shape needs 20");
  ExpectBad(Raw("{\"a\":{\"dtype\":\"Q4\",\"shape\":[4],\"data_offsets\":[0,16]}}", ok_data),
            "unsupported dtype 'Q4'");
  ExpectBad(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", ok_data),
            "negative");
  ExpectBad(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[4]}}", ok_data),
            "tensor 'a': missing or bad 'data_offsets'");
  ExpectBad(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                ok_data.substr(0, 12)),
            "overlaps");
  ExpectBad(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", ok_data),
            "hole of 8 bytes");
  ExpectBad(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", ok_data),
            "8 bytes after the last tensor");
  ExpectBad(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", ok_data),
            "reversed");
  EXPECT_THROW(SafetensorsFile::Open(dir_ + "/missing.safetensors"), Error);
}

}  // namespace
}  // namespace iranker
