#include "bench/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace iranker::bench {

std::string TransferSides::Describe() const {
  if (!across()) return "loopback TCP";
  return "TCP between hosts " + bind_netns + " (" + host + ") and " + connect_netns;
}

TransferSides ParseTransferSides(const BenchArgs& args, const std::string& bench) {
  TransferSides s;
  const std::string ns = args.Param("netns", ""), host = args.Param("host", "");
  if (ns.empty() && host.empty()) return s;
  const size_t comma = ns.find(',');
  if (ns.empty() || host.empty() || comma == std::string::npos || comma == 0 ||
      comma + 1 == ns.size() || ns.find(',', comma + 1) != std::string::npos)
    Fail(ErrorCode::kInvalidArgument, "bench ", bench,
         ": netns=BINDING_HOST,CONNECTING_HOST and host=BINDING_HOST_ADDRESS go together ",
         "(hosts from cluster/hosts.sh), got netns='", ns, "' host='", host, "'");
  s.bind_netns = ns.substr(0, comma);
  s.connect_netns = ns.substr(comma + 1);
  s.host = host;
  for (const std::string& n : {s.bind_netns, s.connect_netns})
    if (access(("/run/netns/" + n).c_str(), F_OK) != 0)
      Fail(ErrorCode::kNotFound, "bench ", bench, ": no network namespace '", n, "' (/run/netns/",
           n, "; make hosts with cluster/hosts.sh up)");
  return s;
}

NetnsSwitch::NetnsSwitch() {
  original_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original_ < 0)
    Fail(ErrorCode::kInternal,
         "bench: cannot open /proc/thread-self/ns/net: ", std::strerror(errno));
}

NetnsSwitch::~NetnsSwitch() {
  if (!current_.empty()) (void)setns(original_, CLONE_NEWNET);
  close(original_);
}

void NetnsSwitch::Enter(const std::string& name) {
  if (name == current_) return;
  if (name.empty()) {
    if (setns(original_, CLONE_NEWNET) != 0)
      Fail(ErrorCode::kInternal,
           "bench: cannot return to the original network namespace: ", std::strerror(errno));
    current_.clear();
    return;
  }
  const std::string path = "/run/netns/" + name;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail(ErrorCode::kNotFound, "bench: cannot open ", path, ": ", std::strerror(errno));
  const int rc = setns(fd, CLONE_NEWNET);
  const int err = errno;
  close(fd);
  if (rc != 0)
    Fail(ErrorCode::kFailedPrecondition, "bench: cannot enter network namespace '", name,
         "': ", std::strerror(err), " (needs root)");
  current_ = name;
}

}  // namespace iranker::bench
