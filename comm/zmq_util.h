// comm/zmq_util.h — small pieces shared by the ZeroMQ endpoints in comm/ (internal to the room).
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace iranker::comm {

// A Linux eventfd the I/O threads poll beside their sockets: other threads Signal() to wake them.
class WakeFd {
 public:
  WakeFd();
  ~WakeFd();
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;
  void Signal();
  void Drain();
  int fd() const { return fd_; }

 private:
  int fd_;
};

// A message whose data is the shared frame itself (no copy); the frame lives until ZeroMQ is done.
zmq::message_t SharedFrameMessage(std::shared_ptr<const std::string> frame);
zmq::message_t SharedSliceMessage(std::shared_ptr<const std::string> blob, size_t offset,
                                  size_t size);

uint64_t RandomNonZeroU64();
int64_t SteadyMs();
std::string HostName();

// Binds `socket` to `endpoint` and returns the resolved endpoint (tcp port 0 or '*' -> actual).
// Throws Error(kUnavailable) naming the endpoint on failure.
std::string BindResolved(zmq::socket_t& socket, const std::string& endpoint);

}  // namespace iranker::comm
