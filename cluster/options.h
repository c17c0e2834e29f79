// cluster/options.h — how a distributed run is laid out (`cluster:` section).
//
// Under mpirun or srun, world ranks [0, learners) are the data-parallel learner ranks and ranks
// [learners, learners + train.actors) are the rollout actors. The world size must equal
// learners + train.actors; anything else is refused with the numbers to fix.
#pragma once

#include <string>

#include "base/fields.h"

namespace iranker {

struct ClusterOptions {
  // Data-parallel learner ranks.
  int learners = 1;
  // How actors reach the learners: "ipc" (one host: sockets in the run directory) or "tcp"
  // (any host: each learner binds `host` on a free port and publishes the address over MPI).
  std::string transport = "ipc";
  // Interface the learners bind for tcp: "127.0.0.1" (one host, the default) or a host name /
  // address reachable from the actors' hosts ("*" = this host's name). A non-loopback bind needs
  // comm CURVE keys or comm.*.security.allow_insecure_remote.
  std::string host = "127.0.0.1";
  // A learner waiting this long for the actors' batches of one step fails, naming the actors it
  // is missing, instead of hanging.
  double collect_timeout_s = 600;
  // An actor waiting this long for the next policy version fails, naming the publisher.
  double weights_timeout_s = 900;
  template <class V>
  void Visit(V& v) {
    v.Field("learners", learners, "Data-parallel learner ranks (world ranks 0..learners-1).", AtLeast(1));
    v.Field("transport", transport, "Actor-learner transport.", OneOf({"ipc", "tcp"}));
    v.Field("host", host, "Interface learners bind for tcp (\"*\" = this host's name).");
    v.Field("collect_timeout_s", collect_timeout_s, "Learner wait for one step's batches (s).", Range(1.0, 1e7));
    v.Field("weights_timeout_s", weights_timeout_s, "Actor wait for the next policy version (s).", Range(1.0, 1e7));
  }
};

}  // namespace iranker
