// base/progress_deadline.h — a time-out that a peer's reported progress extends.
//
// Waits on other processes (a collective, the next policy version, the rendezvous file) must tell
// a peer that is stuck from one busy on its own work (evaluating, writing a checkpoint). A
// ProgressDeadline expires `timeout` after its start, or after the last time its probe reported
// progress: when the time-out passes it asks the probe once, and news (a non-empty string)
// restarts the time-out instead of expiring it. The comm back-ends (CollectiveClock) and the
// cluster waits (WaitWhileProgressing) share it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace iranker {

class ProgressDeadline {
 public:
  // `progress` may be empty: then the time-out is final.
  ProgressDeadline(std::chrono::milliseconds timeout, std::function<std::string()> progress);

  // False within the time-out; past it, true unless the probe has news, which restarts it. The
  // first news of this deadline is returned in *first_news (left empty otherwise), for the
  // caller's one log line.
  bool Expired(std::string* first_news = nullptr);
  // Empty when the time-out never restarted; else "; waited T ms in all: a peer reported progress
  // on its own work until S ms ago, then none", for the caller's error message.
  std::string Note() const;
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  using Clock = std::chrono::steady_clock;
  std::chrono::milliseconds timeout_;
  std::function<std::string()> progress_;
  Clock::time_point start_, restarted_;
  int extensions_ = 0;
};

}  // namespace iranker
