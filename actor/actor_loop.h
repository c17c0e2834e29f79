// actor/actor_loop.h — one rollout actor, as a process (`iranker actor`) or a thread (`train
// --local`), from the rendezvous to the last step:
//
//   1. read RUN/rendezvous.json (cluster/roles.h) for the learners' endpoints and the initial
//      policy directory, and load that policy;
//   2. for each policy version v (from learner rank 0's WeightPublisher): take the weights, roll
//      out this actor's share of step v's queries (actor/run_plan.h: the same queries and seeds in
//      every trainer) and stream the batch to the learners (TrajectorySender);
//   3. after the last step, wait until the learners accepted every batch.
//
// Every wait is bounded by cluster.weights_timeout_s; while learner rank 0 works on its own
// (evaluating, checkpointing) its progress lease restarts the wait (cluster/progress_lease.h).
// Failures throw Error: kDeadlineExceeded when no policy version arrives or no learner takes a
// batch in time; kUnavailable when the learners restarted (the rendezvous session changed: the
// supervisor restarts this actor, which then reads the new endpoints) or when *cancel is set (the
// `--local` trainer stops its actor threads); and whatever the weight subscriber or the stream
// reports as the cause of a broken connection.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "actor/options.h"
#include "comm/options.h"
#include "comm/weight_group.h"
#include "ranking/jsonl.h"
#include "ranking/prompt.h"
#include "ranking/reward.h"

namespace iranker {

// What an actor needs of the run's configuration (trainer/roles.h assembles it).
struct ActorSpec {
  int actor_id = 0;
  int actors = 1;
  std::string run_dir;            // RUN: rendezvous.json, and progress/ (learner rank 0's lease)
  uint64_t seed = 1;              // run.seed
  int64_t steps = 0;              // train.steps: the actor stops after the last one
  std::string dtype = "float32";  // model.dtype
  std::string device = "cpu";     // this actor's device (one GPU per process: cluster/roles.h)
  DataOptions data;
  PromptOptions prompt;
  RewardOptions reward;
  ActorOptions actor;
  comm::StreamOptions stream;      // learner_endpoints are taken from the rendezvous
  comm::WeightsOptions weights;    // the endpoint is taken from the rendezvous
  double weights_timeout_s = 600;  // cluster.weights_timeout_s
  // The weight broadcast's group transport of this actor (comm/weight_group.h); empty or null:
  // ZeroMQ only.
  std::function<std::unique_ptr<comm::GroupTransport>()> group_transport;
};

// Runs the actor to the end of training (see above). `cancel` may be null.
void RunActor(const ActorSpec& spec, zmq::context_t& ctx,
              const std::atomic<bool>* cancel = nullptr);

}  // namespace iranker
