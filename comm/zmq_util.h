// comm/zmq_util.h — small pieces shared by the ZeroMQ endpoints in comm/ (internal to the room).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <zmq.hpp>

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

// ThreadSanitizer cannot see libzmq's (uninstrumented) synchronisation, so a zero-copy frame
// written by one thread and read by another through an inproc:// pipe would look like a race.
// Zero-copy messages release their buffer and keep-alive handle when made (SharedSliceMessage);
// every receive site acquires the buffer it got, and the free callback the handle: exactly the
// happens-before ZeroMQ's queue provides. No-ops unless built with -fsanitize=thread.
#if defined(__SANITIZE_THREAD__)
}  // namespace iranker::comm
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
namespace iranker::comm {
inline void TsanRelease(const void* p) { __tsan_release(const_cast<void*>(p)); }
inline void TsanAcquire(const void* p) { __tsan_acquire(const_cast<void*>(p)); }
#else
inline void TsanRelease(const void*) {}
inline void TsanAcquire(const void*) {}
#endif
inline void TsanAcquire(const zmq::message_t& m) { TsanAcquire(m.data()); }

// A message whose data is the shared frame itself (no copy); the frame lives until ZeroMQ is done.
zmq::message_t SharedFrameMessage(std::shared_ptr<const std::string> frame);
zmq::message_t SharedSliceMessage(std::shared_ptr<const std::string> blob, size_t offset,
                                  size_t size);

// Sends one frame without blocking (`more`: more frames of the message follow); false when the
// peer cannot take it now (high-water mark, no connection, or an unroutable ROUTER peer).
bool TrySend(zmq::socket_t& s, zmq::message_t&& msg, bool more = false);
// A ROUTER's two frames (the peer's route, then `msg`) without blocking; false as TrySend.
bool TrySendRouted(zmq::socket_t& s, const std::string& route, zmq::message_t&& msg);

// Binds `socket` to `endpoint` and returns the resolved endpoint (tcp port 0 or '*' -> actual).
// Throws Error(kUnavailable) naming the endpoint on failure.
std::string BindResolved(zmq::socket_t& socket, const std::string& endpoint);

}  // namespace iranker::comm
