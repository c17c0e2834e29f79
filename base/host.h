// base/host.h — this machine's name, as every error, log line and rendezvous shows it.
#pragma once

#include <string>

namespace iranker {

// gethostname(), or "unknown-host" when it fails.
std::string HostName();

}  // namespace iranker
