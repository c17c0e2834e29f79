// base/first_error.h — the first failure among several worker threads, kept for their owner to
// rethrow (the --local trainer's actor threads report to the learner this way). Thread-safe.
#pragma once

#include <string>

#include "base/error.h"
#include "base/mutex.h"

namespace iranker {

class FirstError {
 public:
  // Keeps `what` unless an earlier failure is kept already.
  void Set(const std::string& what) IR_EXCLUDES(mu_);
  // Throws Error(code, the kept failure) when there is one.
  void ThrowIfSet(ErrorCode code = ErrorCode::kUnavailable) const IR_EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  std::string error_ IR_GUARDED_BY(mu_);
};

}  // namespace iranker
