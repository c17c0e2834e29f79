// trainer/distributed.h — `iranker train` as MPI learner ranks plus actor processes.
//
//   learner rank 0 ── WeightPublisher ──(policy version v)──────────────► every actor
//   every actor ──── TrajectorySender ──(batches of version v)──► learner ranks (round robin)
//   learner ranks ── MPI all-reduce of gradients (and the step's batch count) ── each other
//
// The MPI world is the learners (cluster.learners ranks). Actors are separate processes outside
// it, so an actor's death cannot abort the job: learner rank 0 starts and supervises them
// (cluster.spawn_actors; cluster/supervisor.h restarts one that dies), or they are started with
// `iranker actor`. Start-up: rank 0 prepares the run directory and the initial policy; learners
// bind their endpoints (cluster.transport) and share the bound addresses over MPI; rank 0 writes
// RUN/rendezvous.json, where actors (first start or restart) find them.
//
// A step: learner rank 0 publishes version v; each actor takes it between rollouts, rolls out its
// share of step v's queries (actor/run_plan.h: the same split and seeds as --local) and streams the
// batch; the learners collect exactly one batch per actor with version v (counted across learner
// ranks; a restarted actor's repeat of a step it already delivered is dropped), train with
// averaged gradients, and rank 0 publishes v + 1 before it logs, evaluates or checkpoints. A
// restarted actor takes the newest version and carries on from that step. Nothing blocks forever:
// a missing batch fails after cluster.collect_timeout_s naming the actors and their supervisor
// state, a missing policy version after cluster.weights_timeout_s naming the publisher, and a
// fatal error on a learner rank aborts the MPI job with that rank's message. The learner ranks'
// side is trainer/learner_run.h, the actors' actor/actor_loop.h.
#pragma once

#include "trainer/config.h"
#include "trainer/train_result.h"

namespace iranker {

// One learner rank (the MPI world is the learners). Learner rank 0 returns the result
// (evaluations, trajectory counts); other ranks return an empty one. MPI must be initialised.
TrainResult TrainDistributed(const Config& config);

// `iranker actor`: one actor process (no MPI). Finds the learners through RUN/rendezvous.json,
// rolls out until the last step, and returns; errors throw (the supervisor restarts it).
void RunActorProcess(const Config& config, int actor_id);

}  // namespace iranker
