// bench/netns.h — the two ends of a transfer benchmark in different hosts (network namespaces
// that cluster/hosts.sh made), so that its bytes cross the hosts' link (veth, bridge and whatever
// `tc netem` put on it) instead of loopback. A thread enters a namespace with setns(2); a ZeroMQ
// context started there (its first socket) keeps its I/O threads, and a bound socket its listening
// socket, in that namespace. Needs CAP_SYS_ADMIN (root).
#pragma once

#include <string>

#include "bench/bench.h"

namespace iranker::bench {

// Where the two ends run: `netns=A,B host=ADDR` (the end that binds, the learner's stream or the
// weight publisher, in A at ADDR; the end that connects, the actors, in B), or neither: both on
// this host's loopback.
struct TransferSides {
  std::string bind_netns, connect_netns;
  std::string host = "127.0.0.1";  // the binding end's address, as the connecting end reaches it
  bool across() const { return !bind_netns.empty(); }
  std::string Endpoint() const { return "tcp://" + host + ":*"; }
  std::string Describe() const;  // "loopback TCP" or "TCP between hosts A (ADDR) and B"
};

// Reads `netns` and `host` from the benchmark's parameters (both or neither; names checked).
TransferSides ParseTransferSides(const BenchArgs& args, const std::string& bench);

// Moves the calling thread between network namespaces, and back to where it started when it is
// destroyed. Enter("") goes back to the original namespace.
class NetnsSwitch {
 public:
  NetnsSwitch();
  ~NetnsSwitch();
  NetnsSwitch(const NetnsSwitch&) = delete;
  NetnsSwitch& operator=(const NetnsSwitch&) = delete;
  void Enter(const std::string& name);

 private:
  int original_ = -1;
  std::string current_;
};

}  // namespace iranker::bench
