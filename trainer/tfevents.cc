#include "trainer/tfevents.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "base/error.h"
#include "base/host.h"

namespace iranker {
namespace {

const std::array<uint32_t, 256>& Crc32cTable() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

// Protocol-buffer wire encoding of the few fields an Event needs.
void Varint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void Key(int field, int wire_type, std::string* out) {
  Varint((static_cast<uint64_t>(field) << 3) | wire_type, out);
}
void Fixed64(double d, std::string* out) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}
void Fixed32(float f, std::string* out) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}
void Bytes(int field, const std::string& s, std::string* out) {
  Key(field, 2, out);
  Varint(s.size(), out);
  out->append(s);
}
void LittleEndian(uint64_t v, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

}  // namespace

uint32_t Crc32c(const void* data, size_t n, uint32_t crc) {
  const auto& t = Crc32cTable();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = t[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

uint32_t MaskedCrc32c(const void* data, size_t n) {
  const uint32_t c = Crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

TfEventsWriter::TfEventsWriter(const std::string& dir) {
  path_ = dir + "/events.out.tfevents." + std::to_string(std::time(nullptr)) + "." + HostName();
  f_ = std::fopen(path_.c_str(), "ab");
  if (!f_)
    Fail(ErrorCode::kFailedPrecondition, "cannot create TensorBoard event file '", path_,
         "': ", std::strerror(errno));
  std::string event;
  Key(1, 1, &event);
  Fixed64(static_cast<double>(std::time(nullptr)), &event);
  Bytes(3, "brain.Event:2", &event);
  WriteRecord(event);
}

TfEventsWriter::~TfEventsWriter() {
  if (f_) std::fclose(f_);
}

void TfEventsWriter::AddScalars(int64_t step,
                                const std::vector<std::pair<std::string, double>>& scalars,
                                double wall_time) {
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string v;
    Bytes(1, tag, &v);
    Key(2, 5, &v);
    Fixed32(static_cast<float>(value), &v);
    Bytes(1, v, &summary);
  }
  std::string event;
  Key(1, 1, &event);
  Fixed64(wall_time, &event);
  Key(2, 0, &event);
  Varint(static_cast<uint64_t>(step), &event);
  Bytes(5, summary, &event);
  WriteRecord(event);
}

void TfEventsWriter::WriteRecord(const std::string& data) {
  std::string rec;
  LittleEndian(data.size(), 8, &rec);
  LittleEndian(MaskedCrc32c(rec.data(), 8), 4, &rec);
  rec.append(data);
  LittleEndian(MaskedCrc32c(data.data(), data.size()), 4, &rec);
  if (std::fwrite(rec.data(), 1, rec.size(), f_) != rec.size() || std::fflush(f_) != 0)
    Fail(ErrorCode::kResourceExhausted, "cannot write to '", path_, "': ", std::strerror(errno));
}

}  // namespace iranker
