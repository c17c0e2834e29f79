#include "base/first_error.h"

namespace iranker {

void FirstError::Set(const std::string& what) {
  MutexLock l(mu_);
  if (error_.empty()) error_ = what;
}

void FirstError::ThrowIfSet(ErrorCode code) const {
  MutexLock l(mu_);
  if (!error_.empty()) Fail(code, error_);
}

}  // namespace iranker
