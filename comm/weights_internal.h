// comm/weights_internal.h — what the weight publisher and subscriber share (comm/weights.h).
// Internal to comm/.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "base/log.h"
#include "base/thread_name.h"
#include "comm/wire.h"
#include "comm/zmq_util.h"

namespace iranker::comm {

// A weights message of type `t` from `sender`, sent zero-copy.
inline zmq::message_t Frame(MsgType t, uint64_t sender, const std::string& payload) {
  return SharedFrameMessage(std::make_shared<const std::string>(EncodeMessage(t, sender, payload)));
}

// Runs the group path's thread of a publisher or subscriber Impl: its GroupLoop, and if that
// throws, its GroupOff (versions keep coming over ZeroMQ).
template <class Impl>
std::thread StartGroupThread(Impl* impl) {
  return std::thread([impl] {
    NameThisThread("ir-weights-grp");
    try {
      impl->GroupLoop();
    } catch (const std::exception& e) {
      IR_LOG_ERROR("comm: weights: group thread failed, the group path is off: {}", e.what());
      impl->GroupOff();
    }
  });
}

}  // namespace iranker::comm
