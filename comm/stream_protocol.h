// comm/stream_protocol.h — the trajectory stream's control payloads, declared once for both
// directions (comm/stream.h describes the protocol). Internal to comm/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "base/bytes.h"
#include "comm/zmq_util.h"

namespace iranker::comm {

enum RefuseReason : uint8_t { kRefuseFull = 1, kRefuseMalformed = 2 };

// Control payloads (declared once here, both directions).
inline std::string HelloPayload(int32_t actor_id, uint64_t incarnation) {
  std::string p;
  ByteWriter w(&p);
  w.Put(actor_id);
  w.Put(incarnation);
  return p;
}
inline std::string CreditPayload(uint64_t learner_incarnation, uint32_t window) {
  std::string p;
  ByteWriter w(&p);
  w.Put(learner_incarnation);
  w.Put(window);
  return p;
}
inline std::string SeqsPayload(uint64_t actor_incarnation, const std::vector<uint64_t>& seqs) {
  std::string p;
  ByteWriter w(&p);
  w.Put(actor_incarnation);
  w.PutArray(seqs);
  return p;
}
inline std::string RefusePayload(uint64_t actor_incarnation, uint64_t seq, uint8_t reason) {
  std::string p;
  ByteWriter w(&p);
  w.Put(actor_incarnation);
  w.Put(seq);
  w.Put(reason);
  return p;
}

// A message whose data is `frame` itself (no copy).
inline zmq::message_t FrameMessage(std::string frame) {
  return SharedFrameMessage(std::make_shared<const std::string>(std::move(frame)));
}

}  // namespace iranker::comm
