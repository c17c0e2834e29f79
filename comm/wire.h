// comm/wire.h — the one wire format of every iranker message (stream, weights, security tests).
//
// A message is a fixed 32-byte little-endian header followed by the payload:
//
//   offset size field
//   0      4    magic        0x4B4E5249 ("IRNK")
//   4      2    version      kWireVersion; any other value is rejected
//   6      2    type         MsgType
//   8      4    payload_len  bytes after the header; must equal the frame size minus 32
//   12     4    reserved     0
//   16     8    sender       sender id (actor id, learner rank, publisher id)
//   24     8    checksum     XXH3_64bits(payload)
//
// DecodeMessage is bounds-checked and allocation-free: it only points into the given buffer. A
// frame that is truncated, over the configured size limit, of another version or type, or whose
// checksum does not match is rejected with a WireReject reason; the caller counts it in WireStats
// (which also logs it, rate-limited) and drops the frame. Nothing on this path throws or aborts.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace iranker::comm {

constexpr uint32_t kWireMagic = 0x4B4E5249;
constexpr uint16_t kWireVersion = 1;
constexpr size_t kWireHeaderBytes = 32;

// XXH3_64bits of the bytes, through libxxhash's run-time CPU dispatch (AVX-512/AVX2/SSE2: the
// same value on every machine, ~3x the speed of the plain SSE2 entry point on AVX2 hosts). Used
// for every checksum that crosses a process boundary: frames, weight chunks and blobs.
uint64_t Checksum64(const void* data, size_t size);

enum class MsgType : uint16_t {
  kHello = 1,              // actor -> learner: I exist (actor id, incarnation); also the heartbeat
  kCredit = 2,             // learner -> actor: learner incarnation and the actor's current window
  kBatch = 3,              // actor -> learner: one encoded TrajectoryBatch
  kReceipt = 4,            // learner -> actor: batch seq is queued at the learner (stop resending)
  kAck = 5,                // learner -> actor: batch seq was taken by the learner (accepted)
  kRefuse = 6,             // learner -> actor: batch seq was not queued (full); send it again later
  kWeightsPoll = 10,       // subscriber -> publisher: latest version? (also the heartbeat)
  kWeightsAnnounce = 11,   // publisher -> subscriber: version, size, chunking, blob checksum
  kWeightsRequest = 12,    // subscriber -> publisher: send chunk i of version v
  kWeightsChunk = 13,      // publisher -> subscriber: chunk header (+ a data frame)
  kWeightsStale = 14,      // publisher -> subscriber: the version asked for is gone
  kWeightsGroup = 15,      // publisher -> subscriber: join broadcast group {epoch, size, rank, id}
  kWeightsGroupSend = 16,  // publisher -> subscriber: version v goes out as one group broadcast
  kPing = 20,              // tests and benchmarks
};
bool IsKnownMsgType(uint16_t type);
const char* MsgTypeName(MsgType type);

enum class WireReject : int {
  kOk = 0,
  kTruncated,  // shorter than the header
  kBadMagic,
  kBadVersion,
  kBadType,
  kOversized,       // frame or declared payload over the limit
  kLengthMismatch,  // declared payload length != bytes present
  kBadChecksum,
  kBadPayload,  // header fine, payload does not decode (counted by the payload's decoder)
  kCount
};
const char* WireRejectName(WireReject r);

struct MessageView {
  MsgType type = MsgType::kPing;
  uint64_t sender = 0;
  const uint8_t* payload = nullptr;  // points into the decoded frame
  size_t payload_size = 0;
};

// Writes a header for `payload` into out[0..32).
void EncodeHeader(MsgType type, uint64_t sender, const void* payload, size_t payload_size,
                  uint8_t* out);
// Header + payload as one frame.
std::string EncodeMessage(MsgType type, uint64_t sender, const void* payload, size_t payload_size);
inline std::string EncodeMessage(MsgType type, uint64_t sender, const std::string& payload) {
  return EncodeMessage(type, sender, payload.data(), payload.size());
}
// For callers that built the payload behind kWireHeaderBytes of reserved space in `frame`
// (avoids copying large payloads): fills the header in place.
void SealMessage(MsgType type, uint64_t sender, std::string* frame);

// Validates `frame` and points `out` at its payload. `max_message_bytes` bounds the whole frame.
WireReject DecodeMessage(const void* frame, size_t size, size_t max_message_bytes,
                         MessageView* out);

// Per-reason reject counters (thread-safe). Record() also logs the reason with the peer,
// at most once per second per WireStats so that a flood cannot flood the log.
class WireStats {
 public:
  void Record(WireReject r, const std::string& peer);
  uint64_t count(WireReject r) const { return counts_[static_cast<int>(r)].load(); }
  uint64_t total_rejected() const;
  std::string Summary() const;  // "bad_checksum=2 truncated=1" or "none"

 private:
  std::array<std::atomic<uint64_t>, static_cast<int>(WireReject::kCount)> counts_{};
  std::atomic<int64_t> last_log_ms_{0};
};

// Decode + Record in one step: returns true for a good frame.
bool DecodeChecked(const void* frame, size_t size, size_t max_message_bytes, WireStats* stats,
                   const std::string& peer, MessageView* out);

}  // namespace iranker::comm
