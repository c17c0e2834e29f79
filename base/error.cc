#include "base/error.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "base/host.h"
#include "base/mutex.h"

namespace iranker {
namespace {
Mutex g_label_mu;
std::string g_label IR_GUARDED_BY(g_label_mu);

std::string RankFromEnvironment() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"}) {
    if (const char* v = std::getenv(var)) return v;
  }
  return "-";
}
}  // namespace

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kDataLoss:
      return "data loss";
    case ErrorCode::kDeadlineExceeded:
      return "deadline exceeded";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kResourceExhausted:
      return "resource exhausted";
    case ErrorCode::kFailedPrecondition:
      return "failed precondition";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

Error::Error(ErrorCode code, const std::string& message)
    : std::runtime_error(message), code_(code) {}

void SetProcessLabel(const std::string& label) {
  MutexLock lock(g_label_mu);
  g_label = label;
}

std::string ProcessIdentity() {
  const std::string host = HostName();
  MutexLock lock(g_label_mu);
  return host + ":" + (g_label.empty() ? RankFromEnvironment() : g_label);
}

namespace internal {
void CheckFailed(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "%s %s:%d: check failed: %s\n", ProcessIdentity().c_str(), file, line,
               what.c_str());
  std::fflush(stderr);
  std::abort();
}
}  // namespace internal
}  // namespace iranker
