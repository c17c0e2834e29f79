// cluster/options.h — how a distributed run is laid out (`cluster:` section).
//
// The MPI world (mpirun -np L, srun -n L) is the L data-parallel learner ranks. The train.actors
// rollout actors are separate processes outside that world, so one actor's death cannot abort the
// job: learner rank 0 starts and supervises them (spawn_actors), or they are started by hand /
// by a second srun step with `iranker actor -c RUN/config.yaml --id K`. Actors find the learners
// through RUN/rendezvous.json, which learner rank 0 writes once the endpoints are bound.
#pragma once

#include <string>

#include "base/fields.h"

namespace iranker {

// How actors reach the learners (cluster.transport).
enum class Transport { kIpc, kTcp, kInproc };
inline const EnumNames<Transport>& NamesOf(Transport) {
  static const EnumNames<Transport> names = {
      {Transport::kIpc, "ipc"}, {Transport::kTcp, "tcp"}, {Transport::kInproc, "inproc"}};
  return names;
}

struct ClusterOptions {
  // Data-parallel learner ranks: must equal the MPI world size.
  int learners = 1;
  // Learner rank 0 starts the train.actors actor processes on its host and restarts any that die
  // (up to max_actor_restarts each). false: start them yourself (`iranker actor`).
  bool spawn_actors = true;
  int max_actor_restarts = 10;
  // How actors reach the learners: "ipc" (one host: sockets in the run directory), "tcp" (any
  // host: each learner binds `host` on a free port and publishes the address over MPI), or
  // "inproc" (actor threads in the learner's process; what `iranker train --local` uses).
  Transport transport = Transport::kIpc;
  // Interface the learners bind for tcp: "127.0.0.1" (one host, the default) or a host name /
  // address reachable from the actors' hosts ("*" = this host's name). A non-loopback bind needs
  // comm CURVE keys or comm.*.security.allow_insecure_remote.
  std::string host = "127.0.0.1";
  // A learner waiting this long for the actors' batches of one step fails, naming the actors it
  // is missing, instead of hanging.
  double collect_timeout_s = 600;
  // An actor host lost: once a step has waited this long for some actors' batches, their shares
  // are handed to actors that delivered (RUN/takeover.json); the step then completes within
  // collect_timeout_s, and an actor that comes back rejoins at the current step. 0: never.
  double actor_takeover_s = 60;
  // Fewer actors heard from than this when a step hands shares over: the run stops with a clear
  // message (their work would pile on too few).
  int min_actors = 1;
  // An actor waiting this long for the next policy version fails, naming the publisher, unless
  // learner rank 0 reports progress on its own work meanwhile (an evaluation, a checkpoint:
  // cluster/progress_lease.h); then the wait restarts.
  double weights_timeout_s = 900;
  // With model.device=cuda each process takes one GPU by its local index: learner local rank r
  // takes GPU r, actor k takes GPU k + actor_gpu_offset (mod the GPUs it sees). On a node that runs
  // L learners and the actors, actor_gpu_offset = L gives the actors GPUs of their own.
  int actor_gpu_offset = 0;
  template <class V>
  void Visit(V& v) {
    v.Field("learners", learners, "Data-parallel learner ranks (= the MPI world size).",
            AtLeast(1));
    v.Field("spawn_actors", spawn_actors,
            "Learner rank 0 starts and supervises the actor processes.");
    v.Field("max_actor_restarts", max_actor_restarts,
            "Restarts of one actor before giving up on it.", AtLeast(0));
    v.Field("transport", transport, "Actor-learner transport.");
    v.Field("host", host, "Interface learners bind for tcp (\"*\" = this host's name).");
    v.Field("collect_timeout_s", collect_timeout_s, "Learner wait for one step's batches (s).",
            Range(1.0, 1e7));
    v.Field("actor_takeover_s", actor_takeover_s,
            "Wait for a step's missing actor batches before live actors roll out their shares "
            "(s; 0: never).",
            Range(0.0, 1e7));
    v.Field("min_actors", min_actors,
            "Fewest live actors a step may hand missing shares to before the run stops.",
            AtLeast(1));
    v.Field("weights_timeout_s", weights_timeout_s,
            "Actor wait for the next policy version (s); restarts while learner rank 0 reports "
            "progress.",
            Range(1.0, 1e7));
    v.Field("actor_gpu_offset", actor_gpu_offset,
            "First GPU (local index) of the actors with model.device=cuda.", AtLeast(0));
  }
};

}  // namespace iranker
