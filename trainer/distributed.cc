#include "trainer/distributed.h"

#include <memory>
#include <zmq.hpp>

#include "actor/actor_loop.h"
#include "base/error.h"
#include "cluster/progress_lease.h"
#include "cluster/roles.h"
#include "trainer/learner_run.h"
#include "trainer/wiring.h"

namespace iranker {

TrainResult TrainDistributed(const Config& config) {
  if (config.cluster.transport == Transport::kInproc)
    Fail(ErrorCode::kInvalidArgument,
         "cluster.transport=inproc runs actors as threads: use `iranker train --local`");
  // Work one rank does on its own (the initial policy, evaluations, checkpoints) beats a progress
  // lease in the run directory; a rank whose collective reaches comm.allreduce.timeout_ms
  // meanwhile waits on while the lease moves, and times out once it stops (a hung rank).
  std::unique_ptr<ProgressWatch> watch;  // outlives the collective that asks it
  auto learners = collective::MakeMpiCollective(config.comm.allreduce);
  const RankLayout me =
      LearnerLayout(learners->rank(), learners->size(), config.cluster, config.train.actors);
  ProgressLease lease(ProgressLeaseDir(config.RunDir()), me.learner_rank);
  watch = std::make_unique<ProgressWatch>(ProgressLeaseDir(config.RunDir()), me.learner_rank);
  learners->SetPeerProgressProbe([w = watch.get()] { return w->Progress(); });
  // Rank 0 prepares the run directory and the initial policy; the others wait for its path.
  std::string init_dir;
  if (me.world_rank == 0) init_dir = PrepareRun(config, me, &lease);
  learners->BroadcastBytes(&init_dir, 0, "initial policy directory");
  zmq::context_t ctx(1);
  return RunLearner(config, me, *learners, init_dir, ctx, nullptr, &lease);
}

void RunActorProcess(const Config& config, int actor_id) {
  if (config.cluster.transport == Transport::kInproc)
    Fail(ErrorCode::kInvalidArgument,
         "this run uses cluster.transport=inproc (`iranker train --local`): its actors are threads "
         "of the learner process, and an actor process cannot join it");
  zmq::context_t ctx(1);
  RunActor(ActorSpecFor(config, ActorLayout(actor_id, config.cluster, config.train.actors)), ctx);
}

}  // namespace iranker
