// trainer/wiring.h — the run's configuration turned into what each role needs: an actor's spec
// (actor/actor_loop.h), a learner rank's (learner/learner_rank.h), this process's device and its
// weight-group transport, and the actor processes learner rank 0 supervises.
#pragma once

#include <memory>
#include <string>

#include "actor/actor_loop.h"
#include "cluster/roles.h"
#include "cluster/supervisor.h"
#include "comm/weight_group.h"
#include "learner/learner_rank.h"
#include "trainer/config.h"

namespace iranker {

// This process's device: with model.device=cuda one GPU per process by its local index
// (cluster/roles.h DeviceForProcess).
std::string ProcessDevice(const Config& config, const RankLayout& me);

// The weight broadcast's group transport (comm.weights.group): NCCL on this process's GPU; null
// for "none" and for `train --local` (its actors are threads sharing the learner's GPU).
std::unique_ptr<comm::GroupTransport> WeightGroupTransport(const Config& config,
                                                           const RankLayout& me);

// Actor `me.actor_id`'s spec: its share of the run's configuration.
ActorSpec ActorSpecFor(const Config& config, const RankLayout& me);

// Learner rank `me.learner_rank`'s spec, its endpoints bound as cluster.transport says.
LearnerRankSpec LearnerRankSpecFor(const Config& config, const RankLayout& me);

// Starts the actor processes learner rank 0 supervises (cluster.spawn_actors): this binary's
// `actor` command on the run's resolved config, each with its share of the host's cores.
std::unique_ptr<ProcessSupervisor> SpawnActors(const Config& config, const std::string& run_dir);

}  // namespace iranker
