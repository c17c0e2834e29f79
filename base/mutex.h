// base/mutex.h — the mutex, lock and condition variable of every shared state in iranker: thin
// wrappers over the standard ones that carry clang's thread-safety annotations
// (base/thread_annotations.h), so the analysis knows what each lock guards.
//
//   Mutex mu_;
//   int count_ IR_GUARDED_BY(mu_);
//   void Add() IR_EXCLUDES(mu_) { MutexLock lock(mu_); ++count_; }
//
// CondVar waits on a Mutex the caller holds; waits return at a deadline (there is no wait without
// one), and callers re-check their condition in a loop:
//   while (!ready_) if (!cv_.WaitUntil(mu_, deadline)) break;
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "base/thread_annotations.h"

namespace iranker {

class IR_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() IR_ACQUIRE() { mu_.lock(); }
  void Unlock() IR_RELEASE() { mu_.unlock(); }
  bool TryLock() IR_TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Tag: the lock is already held (a successful TryLock); MutexLock takes over releasing it.
struct AdoptLock {};

// Holds `mu` from construction to destruction.
class IR_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) IR_ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  MutexLock(Mutex& mu, AdoptLock) IR_REQUIRES(mu) : mu_(mu) {}
  ~MutexLock() IR_RELEASE() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// Like MutexLock, but the holder may let go of the lock and take it again before the end of the
// scope (the destructor releases it only when held).
class IR_SCOPED_CAPABILITY ReleasableMutexLock {
 public:
  explicit ReleasableMutexLock(Mutex& mu) IR_ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~ReleasableMutexLock() IR_RELEASE() {
    if (held_) mu_.Unlock();
  }
  ReleasableMutexLock(const ReleasableMutexLock&) = delete;
  ReleasableMutexLock& operator=(const ReleasableMutexLock&) = delete;
  void Unlock() IR_RELEASE() {
    held_ = false;
    mu_.Unlock();
  }
  void Lock() IR_ACQUIRE() {
    mu_.Lock();
    held_ = true;
  }

 private:
  Mutex& mu_;
  bool held_ = true;
};

class CondVar {
 public:
  // Releases `mu` while waiting and holds it again on return. Returns false once `deadline` has
  // passed (it may also return true spuriously: callers re-check their condition).
  template <class Clock, class Duration>
  bool WaitUntil(Mutex& mu, std::chrono::time_point<Clock, Duration> deadline) IR_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    const bool in_time = cv_.wait_until(lock, deadline) == std::cv_status::no_timeout;
    lock.release();  // the caller keeps holding mu
    return in_time;
  }
  template <class Rep, class Period>
  bool WaitFor(Mutex& mu, std::chrono::duration<Rep, Period> timeout) IR_REQUIRES(mu) {
    return WaitUntil(mu, std::chrono::steady_clock::now() + timeout);
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace iranker
