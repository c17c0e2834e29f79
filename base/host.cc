#include "base/host.h"

#include <unistd.h>

namespace iranker {

std::string HostName() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

}  // namespace iranker
