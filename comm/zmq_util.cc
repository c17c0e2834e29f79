#include "comm/zmq_util.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace iranker::comm {

WakeFd::WakeFd() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) Fail(ErrorCode::kInternal, "eventfd failed: ", std::strerror(errno));
}
WakeFd::~WakeFd() { ::close(fd_); }
void WakeFd::Signal() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
}
void WakeFd::Drain() {
  uint64_t v;
  [[maybe_unused]] ssize_t n = ::read(fd_, &v, sizeof v);
}

namespace {
void ReleaseShared(void*, void* hint) {
  TsanAcquire(hint);  // made by the sending thread, freed by whichever thread libzmq chooses
  delete static_cast<std::shared_ptr<const std::string>*>(hint);
}
}  // namespace

zmq::message_t SharedSliceMessage(std::shared_ptr<const std::string> blob, size_t offset,
                                  size_t size) {
  auto* keep = new std::shared_ptr<const std::string>(std::move(blob));
  void* data = const_cast<char*>((*keep)->data() + offset);
  TsanRelease(data);
  TsanRelease(keep);
  return zmq::message_t(data, size, ReleaseShared, keep);
}

zmq::message_t SharedFrameMessage(std::shared_ptr<const std::string> frame) {
  size_t n = frame->size();
  return SharedSliceMessage(std::move(frame), 0, n);
}

bool TrySend(zmq::socket_t& s, zmq::message_t&& msg, bool more) {
  try {
    const auto flags =
        zmq::send_flags::dontwait | (more ? zmq::send_flags::sndmore : zmq::send_flags::none);
    return s.send(std::move(msg), flags).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH || e.num() == EAGAIN) return false;
    throw;
  }
}

bool TrySendRouted(zmq::socket_t& s, const std::string& route, zmq::message_t&& msg) {
  try {
    if (!s.send(zmq::buffer(route), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
      return false;
    return s.send(std::move(msg), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH || e.num() == EAGAIN) return false;
    throw;
  }
}

std::string BindResolved(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.bind(endpoint);
  } catch (const zmq::error_t& e) {
    Fail(ErrorCode::kUnavailable, "cannot bind ", endpoint, ": ", e.what());
  }
  return socket.get(zmq::sockopt::last_endpoint);
}

}  // namespace iranker::comm
