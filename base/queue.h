// base/queue.h — a bounded, closable, multi-producer multi-consumer queue whose blocking
// operations take deadlines. Threads in iranker talk only through these.
//
// Shutdown protocol: the owner calls Close(); Push then fails at once; Pop keeps returning the
// items already queued and returns kClosed when the queue is empty. Pushing never drops: a full
// queue blocks the producer (back-pressure) until space frees or the deadline passes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

namespace iranker {

enum class QueueResult { kOk, kTimeout, kClosed };

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Blocks while full. kOk: moved in. kTimeout: still full at the deadline (item untouched).
  // kClosed: queue closed (item untouched).
  template <class Rep, class Period>
  QueueResult Push(T& item, std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!not_full_.wait_for(lock, timeout, [&] { return closed_ || items_.size() < capacity_; }))
      return QueueResult::kTimeout;
    if (closed_) return QueueResult::kClosed;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return QueueResult::kOk;
  }
  QueueResult Push(T&& item) {  // waits without deadline: only for producers that cannot vanish
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return QueueResult::kClosed;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return QueueResult::kOk;
  }

  // Blocks while empty. Returns kClosed only once the queue is closed *and* drained.
  template <class Rep, class Period>
  QueueResult Pop(T* out, std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!not_empty_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); }))
      return QueueResult::kTimeout;
    if (items_.empty()) return QueueResult::kClosed;
    *out = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return QueueResult::kOk;
  }

  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }
  bool closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<T> items_;  // guarded by mu_
  bool closed_ = false;  // guarded by mu_
};

}  // namespace iranker
