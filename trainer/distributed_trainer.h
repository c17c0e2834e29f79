// trainer/distributed_trainer.h — `iranker train` under mpirun or srun: learner ranks and actor
// processes (cluster/roles.h), wired by ZeroMQ and MPI.
//
//   learner rank 0 ── WeightPublisher ──(policy version v)──────────────► every actor
//   every actor ──── TrajectorySender ──(batches of version v)──────────► learner ranks (round robin)
//   learner ranks ── MPI all-reduce of gradients (and of the step's batch count) ── each other
//
// Start-up: rank 0 prepares the run directory and the initial policy; the learners bind their
// endpoints (cluster.transport) and broadcast the bound addresses over MPI, so nothing needs a
// fixed port. Every rank loads the same initial checkpoint (or the newest checkpoint on resume).
//
// A step: learner rank 0 publishes version v; each actor takes it between rollouts, rolls out its
// share of step v's queries (train_common.h, the same split and seeds as --local) and streams the
// batch; the learners collect exactly one batch per actor with version v (counted across learner
// ranks), train on them with averaged gradients, and rank 0 publishes v + 1 before it logs,
// evaluates or checkpoints, so the actors are already rolling out the next step. Nothing blocks
// forever: a missing batch fails after cluster.collect_timeout_s naming the actors it waited for,
// a missing policy version after cluster.weights_timeout_s naming the publisher, and a fatal
// error on any rank aborts the whole job (MPI_Abort) with that rank's message.
#pragma once

#include "trainer/config.h"
#include "trainer/local_trainer.h"

namespace iranker {

// One learner rank (the MPI world is the learners). Learner rank 0 returns the result
// (evaluations, trajectory counts); other ranks return an empty one. MPI must be initialised.
TrainResult TrainDistributed(const Config& config);

// `iranker actor`: one actor process (no MPI). Finds the learners through RUN/rendezvous.json,
// rolls out until the last step, and returns; errors throw (the supervisor restarts it).
void RunActorProcess(const Config& config, int actor_id);

}  // namespace iranker
