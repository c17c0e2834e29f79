#include "comm/wire.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <xxh_x86dispatch.h>
#define IRANKER_XXH3_64 XXH3_64bits_dispatch
#else
#include <xxhash.h>
#define IRANKER_XXH3_64 XXH3_64bits
#endif

#include <chrono>
#include <cstring>

#include "base/log.h"

namespace iranker::comm {

uint64_t Checksum64(const void* data, size_t size) { return IRANKER_XXH3_64(data, size); }

namespace {
template <class T>
void PutAt(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}
template <class T>
T GetAt(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
}  // namespace

bool IsKnownMsgType(uint16_t t) {
  switch (static_cast<MsgType>(t)) {
    case MsgType::kHello:
    case MsgType::kCredit:
    case MsgType::kBatch:
    case MsgType::kReceipt:
    case MsgType::kAck:
    case MsgType::kRefuse:
    case MsgType::kWeightsPoll:
    case MsgType::kWeightsAnnounce:
    case MsgType::kWeightsRequest:
    case MsgType::kWeightsChunk:
    case MsgType::kWeightsStale:
    case MsgType::kWeightsGroup:
    case MsgType::kWeightsGroupSend:
    case MsgType::kPing:
      return true;
  }
  return false;
}

const char* MsgTypeName(MsgType t) {
  switch (t) {
    case MsgType::kHello:
      return "HELLO";
    case MsgType::kCredit:
      return "CREDIT";
    case MsgType::kBatch:
      return "BATCH";
    case MsgType::kReceipt:
      return "RECEIPT";
    case MsgType::kAck:
      return "ACK";
    case MsgType::kRefuse:
      return "REFUSE";
    case MsgType::kWeightsPoll:
      return "WEIGHTS_POLL";
    case MsgType::kWeightsAnnounce:
      return "WEIGHTS_ANNOUNCE";
    case MsgType::kWeightsRequest:
      return "WEIGHTS_REQUEST";
    case MsgType::kWeightsChunk:
      return "WEIGHTS_CHUNK";
    case MsgType::kWeightsStale:
      return "WEIGHTS_STALE";
    case MsgType::kWeightsGroup:
      return "WEIGHTS_GROUP";
    case MsgType::kWeightsGroupSend:
      return "WEIGHTS_GROUP_SEND";
    case MsgType::kPing:
      return "PING";
  }
  return "?";
}

const char* WireRejectName(WireReject r) {
  switch (r) {
    case WireReject::kOk:
      return "ok";
    case WireReject::kTruncated:
      return "truncated";
    case WireReject::kBadMagic:
      return "bad_magic";
    case WireReject::kBadVersion:
      return "bad_version";
    case WireReject::kBadType:
      return "bad_type";
    case WireReject::kOversized:
      return "oversized";
    case WireReject::kLengthMismatch:
      return "length_mismatch";
    case WireReject::kBadChecksum:
      return "bad_checksum";
    case WireReject::kBadPayload:
      return "bad_payload";
    case WireReject::kCount:
      break;
  }
  return "?";
}

void EncodeHeader(MsgType type, uint64_t sender, const void* payload, size_t payload_size,
                  uint8_t* out) {
  PutAt<uint32_t>(out + 0, kWireMagic);
  PutAt<uint16_t>(out + 4, kWireVersion);
  PutAt<uint16_t>(out + 6, static_cast<uint16_t>(type));
  PutAt<uint32_t>(out + 8, static_cast<uint32_t>(payload_size));
  PutAt<uint32_t>(out + 12, 0);
  PutAt<uint64_t>(out + 16, sender);
  PutAt<uint64_t>(out + 24, Checksum64(payload, payload_size));
}

std::string EncodeMessage(MsgType type, uint64_t sender, const void* payload, size_t payload_size) {
  std::string frame(kWireHeaderBytes + payload_size, '\0');
  if (payload_size) std::memcpy(frame.data() + kWireHeaderBytes, payload, payload_size);
  EncodeHeader(type, sender, frame.data() + kWireHeaderBytes, payload_size,
               reinterpret_cast<uint8_t*>(frame.data()));
  return frame;
}

void SealMessage(MsgType type, uint64_t sender, std::string* frame) {
  if (frame->size() < kWireHeaderBytes) frame->resize(kWireHeaderBytes);
  EncodeHeader(type, sender, frame->data() + kWireHeaderBytes, frame->size() - kWireHeaderBytes,
               reinterpret_cast<uint8_t*>(frame->data()));
}

WireReject DecodeMessage(const void* frame, size_t size, size_t max_message_bytes,
                         MessageView* out) {
  const auto* p = static_cast<const uint8_t*>(frame);
  if (size < kWireHeaderBytes || p == nullptr) return WireReject::kTruncated;
  if (GetAt<uint32_t>(p) != kWireMagic) return WireReject::kBadMagic;
  if (GetAt<uint16_t>(p + 4) != kWireVersion) return WireReject::kBadVersion;
  uint16_t type = GetAt<uint16_t>(p + 6);
  if (!IsKnownMsgType(type)) return WireReject::kBadType;
  uint64_t len = GetAt<uint32_t>(p + 8);
  if (size > max_message_bytes || len + kWireHeaderBytes > max_message_bytes)
    return WireReject::kOversized;
  if (len != size - kWireHeaderBytes) return WireReject::kLengthMismatch;
  if (GetAt<uint32_t>(p + 12) != 0) return WireReject::kBadVersion;  // reserved for v2
  if (Checksum64(p + kWireHeaderBytes, len) != GetAt<uint64_t>(p + 24))
    return WireReject::kBadChecksum;
  out->type = static_cast<MsgType>(type);
  out->sender = GetAt<uint64_t>(p + 16);
  out->payload = p + kWireHeaderBytes;
  out->payload_size = len;
  return WireReject::kOk;
}

void WireStats::Record(WireReject r, const std::string& peer) {
  if (r == WireReject::kOk) return;
  counts_[static_cast<int>(r)].fetch_add(1);
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t last = last_log_ms_.load();
  if (now - last >= 1000 && last_log_ms_.compare_exchange_strong(last, now))
    IR_LOG_WARN("comm: rejected a message from {}: {} (rejects so far: {})", peer,
                WireRejectName(r), Summary());
}

uint64_t WireStats::total_rejected() const {
  uint64_t n = 0;
  for (int i = 1; i < static_cast<int>(WireReject::kCount); ++i) n += counts_[i].load();
  return n;
}

std::string WireStats::Summary() const {
  std::string s;
  for (int i = 1; i < static_cast<int>(WireReject::kCount); ++i) {
    uint64_t n = counts_[i].load();
    if (!n) continue;
    if (!s.empty()) s += ' ';
    s += std::string(WireRejectName(static_cast<WireReject>(i))) + "=" + std::to_string(n);
  }
  return s.empty() ? "none" : s;
}

bool DecodeChecked(const void* frame, size_t size, size_t max_message_bytes, WireStats* stats,
                   const std::string& peer, MessageView* out) {
  WireReject r = DecodeMessage(frame, size, max_message_bytes, out);
  if (r == WireReject::kOk) return true;
  if (stats) stats->Record(r, peer);
  return false;
}

}  // namespace iranker::comm
