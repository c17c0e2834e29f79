#include "comm/zmq_util.h"

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

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

void NameThisThread(const char* name) { ::pthread_setname_np(::pthread_self(), name); }

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

uint64_t RandomNonZeroU64() {
  static thread_local std::mt19937_64 rng(std::random_device{}() ^
                                          (static_cast<uint64_t>(::getpid()) << 32) ^
                                          static_cast<uint64_t>(SteadyMs()));
  uint64_t v;
  do v = rng();
  while (v == 0);
  return v;
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string HostName() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
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
