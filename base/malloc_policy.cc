#include "base/malloc_policy.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace iranker {

namespace {
constexpr int kRetainBytes = 1 << 30;

const char* EnvTunables() { return std::getenv("GLIBC_TUNABLES"); }
bool EnvSetsMalloc() {
  const char* t = EnvTunables();
  return t && std::strstr(t, "glibc.malloc.");
}
}  // namespace

std::string RetainTunables() {
  return "glibc.malloc.mmap_threshold=" + std::to_string(kRetainBytes) +
         ":glibc.malloc.trim_threshold=" + std::to_string(kRetainBytes);
}

void RetainFreedMemory() {
  if (EnvSetsMalloc()) return;
  ::mallopt(M_MMAP_THRESHOLD, kRetainBytes);
  ::mallopt(M_TRIM_THRESHOLD, kRetainBytes);
}

std::string AllocatorPolicyDescription() {
  if (EnvSetsMalloc()) return std::string("GLIBC_TUNABLES=") + EnvTunables() + " (environment)";
  return "mallopt mmap_threshold=" + std::to_string(kRetainBytes) +
         " trim_threshold=" + std::to_string(kRetainBytes) +
         " (as GLIBC_TUNABLES=" + RetainTunables() + ")";
}

std::string GlibcTunablesForChildren() {
  if (EnvSetsMalloc()) return EnvTunables();
  const char* t = EnvTunables();
  return t && *t ? std::string(t) + ":" + RetainTunables() : RetainTunables();
}

}  // namespace iranker
