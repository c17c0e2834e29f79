// base/clock.h — the monotonic clock every time-out, rate and duration in iranker is measured on.
#pragma once

#include <chrono>
#include <cstdint>

namespace iranker {

using Clock = std::chrono::steady_clock;

// Milliseconds on the monotonic clock (for time-stamps that travel as integers).
inline int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

// Seconds elapsed since `since`.
inline double SecondsSince(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

}  // namespace iranker
