// base/queue.h — a bounded, closable, multi-producer multi-consumer queue whose blocking
// operations take deadlines. Threads that hand work to each other use these (docs/ARCHITECTURE.md,
// Concurrency, lists the few hand-overs that do not, and why).
//
// Shutdown protocol: the owner calls Close(); Push then fails at once; Pop keeps returning the
// items already queued and returns kClosed when the queue is empty. Pushing never drops: a full
// queue blocks the producer (back-pressure) until space frees or the deadline passes.
#pragma once

#include <chrono>
#include <deque>

#include "base/mutex.h"

namespace iranker {

enum class QueueResult { kOk, kTimeout, kClosed };

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Blocks while full. kOk: moved in. kTimeout: still full at the deadline (item untouched).
  // kClosed: queue closed (item untouched).
  template <class Rep, class Period>
  QueueResult Push(T& item, std::chrono::duration<Rep, Period> timeout) IR_EXCLUDES(mu_) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    MutexLock lock(mu_);
    while (!closed_ && items_.size() >= capacity_)
      if (!not_full_.WaitUntil(mu_, deadline) && !closed_ && items_.size() >= capacity_)
        return QueueResult::kTimeout;
    if (closed_) return QueueResult::kClosed;
    items_.push_back(std::move(item));
    not_empty_.Signal();
    return QueueResult::kOk;
  }

  // Blocks while empty. Returns kClosed only once the queue is closed *and* drained.
  template <class Rep, class Period>
  QueueResult Pop(T* out, std::chrono::duration<Rep, Period> timeout) IR_EXCLUDES(mu_) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    MutexLock lock(mu_);
    while (!closed_ && items_.empty())
      if (!not_empty_.WaitUntil(mu_, deadline) && !closed_ && items_.empty())
        return QueueResult::kTimeout;
    if (items_.empty()) return QueueResult::kClosed;
    *out = std::move(items_.front());
    items_.pop_front();
    not_full_.Signal();
    return QueueResult::kOk;
  }

  void Close() IR_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    closed_ = true;
    not_full_.SignalAll();
    not_empty_.SignalAll();
  }

  size_t size() const IR_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }
  bool closed() const IR_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return closed_;
  }

 private:
  const size_t capacity_;
  mutable Mutex mu_;
  CondVar not_full_, not_empty_;
  std::deque<T> items_ IR_GUARDED_BY(mu_);
  bool closed_ IR_GUARDED_BY(mu_) = false;
};

}  // namespace iranker
