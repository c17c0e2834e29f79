// trainer/learner_run.h — a learner rank's training run, the same in `iranker train` under mpirun
// (trainer/distributed.h) and in `train --local` (trainer/local.h):
//
//   learner rank 0 prepares the run directory (resolved config, initial policy);
//   every rank loads the policy, resumes from the newest checkpoint, binds its endpoints
//   (learner/learner_rank.h) and opens its trajectory log; rank 0 writes RUN/rendezvous.json,
//   starts the actors it supervises (cluster.spawn_actors), publishes the first policy version and
//   evaluates the initial policy while the actors roll out; then each step is trained
//   (LearnerRank::Step) and rank 0 logs, evaluates and checkpoints it (trainer/run_book.h) while
//   the actors already roll out the next one. A stop signal (SIGTERM, SIGUSR1) on any rank makes
//   every rank stop at the same step boundary, after rank 0 wrote a checkpoint.
#pragma once

#include <functional>
#include <string>
#include <zmq.hpp>

#include "cluster/progress_lease.h"
#include "cluster/roles.h"
#include "collective/collective.h"
#include "trainer/config.h"
#include "trainer/train_result.h"

namespace iranker {

// Rank 0's preparation of the run directory: a fresh rendezvous, the resolved config, the initial
// policy (a phase of `lease`, which may be null). Bad training data fails here, naming the file and
// line, before anything is written or started. Returns the initial policy directory.
std::string PrepareRun(const Config& config, const RankLayout& me, ProgressLease* lease);

// Runs learner rank `me` to the end of training (see above). `poll_actors` (may be empty) is
// called while waiting for batches and throws when an in-process actor failed (--local), so the
// learner stops at once with the actor's error. `lease` (may be null): this rank's progress lease.
// Rank 0 returns the result (evaluations, trajectory counts); other ranks an empty one.
TrainResult RunLearner(const Config& config, const RankLayout& me, collective::Collective& learners,
                       const std::string& init_dir, zmq::context_t& ctx,
                       const std::function<void()>& poll_actors, ProgressLease* lease);

}  // namespace iranker
