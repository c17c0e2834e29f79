#include "trainer/local.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "actor/actor_loop.h"
#include "base/error.h"
#include "base/first_error.h"
#include "cluster/progress_lease.h"
#include "cluster/roles.h"
#include "collective/collective.h"
#include "trainer/learner_run.h"
#include "trainer/wiring.h"

namespace iranker {
TrainResult TrainLocal(const Config& config_in) {
  // The distributed run's code in one process: one learner (a world of one, no MPI) and the
  // actors as threads, over inproc:// endpoints of one ZeroMQ context.
  Config config = config_in;
  config.cluster.learners = 1;
  config.cluster.spawn_actors = false;
  config.cluster.transport = Transport::kInproc;
  auto learners = collective::MakeLocalCollective();
  const RankLayout me = LearnerLayout(0, 1, config.cluster, config.train.actors);
  // The actor threads wait for weights while the learner evaluates or checkpoints, as in the
  // distributed run: the same progress lease tells them it is still at it.
  ProgressLease lease(ProgressLeaseDir(config.RunDir()), 0);
  const std::string init_dir = PrepareRun(config, me, &lease);
  zmq::context_t ctx(1);
  std::atomic<bool> cancel{false};
  FirstError actor_error;
  std::vector<ActorSpec> specs;
  for (int a = 0; a < config.train.actors; ++a)
    specs.push_back(ActorSpecFor(config, ActorLayout(a, config.cluster, config.train.actors)));
  std::vector<std::thread> actors;
  for (int a = 0; a < config.train.actors; ++a)
    actors.emplace_back([&, a] {
      try {
        RunActor(specs[a], ctx, &cancel);
      } catch (const std::exception& e) {
        if (cancel.load()) return;
        actor_error.Set("actor " + std::to_string(a) + " (thread): " + e.what());
      }
    });
  auto poll = [&] { actor_error.ThrowIfSet(); };
  auto stop_actors = [&] {
    cancel.store(true);
    for (auto& t : actors) t.join();
  };
  TrainResult result;
  try {
    result = RunLearner(config, me, *learners, init_dir, ctx, poll, &lease);
  } catch (...) {
    stop_actors();
    throw;
  }
  // After the last step the actors finish once its batch is acknowledged. A run a stop signal ended
  // (checkpoint written, result.interrupted), or one resumed at its last step (nothing left to
  // train, no batch received), has no such batch for them to wait for: stop them.
  if (result.interrupted || result.trajectories == 0) {
    stop_actors();
    return result;
  }
  for (auto& t : actors) t.join();
  poll();
  return result;
}

}  // namespace iranker
