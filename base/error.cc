#include "base/error.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace iranker {
namespace {
std::mutex g_label_mu;
std::string g_label;  // guarded by g_label_mu

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
  std::lock_guard<std::mutex> lock(g_label_mu);
  g_label = label;
}

std::string ProcessIdentity() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '?';
  std::lock_guard<std::mutex> lock(g_label_mu);
  return std::string(host) + ":" + (g_label.empty() ? RankFromEnvironment() : g_label);
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
