#include "trainer/wiring.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "base/error.h"
#include "base/log.h"
#include "collective/nccl_weight_group.h"

namespace iranker {
namespace fs = std::filesystem;

std::string ProcessDevice(const Config& config, const RankLayout& me) {
  if (config.model.device != "cuda") return config.model.device;
  const int gpus = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  return DeviceForProcess(config.model.device, me.local_rank,
                          me.role == Role::kActor ? config.cluster.actor_gpu_offset : 0, gpus);
}

std::unique_ptr<comm::GroupTransport> WeightGroupTransport(const Config& config,
                                                           const RankLayout& me) {
  if (config.comm.weights.group != comm::WeightsGroup::kNccl) return nullptr;
  if (config.cluster.transport ==
      Transport::kInproc) {  // --local: actor threads share the learner's GPU
    if (me.role == Role::kLearner)
      IR_LOG_WARN(
          "comm.weights.group=nccl is not used by `train --local`: its actors are threads of this "
          "process on its GPU, and weights reach them over inproc:// ZeroMQ");
    return nullptr;
  }
  const std::string device = ProcessDevice(config, me);  // "cuda:N" (config.h checks model.device)
  return collective::MakeNcclGroupTransport(std::stoi(device.substr(device.find(':') + 1)));
}

ActorSpec ActorSpecFor(const Config& config, const RankLayout& me) {
  ActorSpec s;
  s.actor_id = me.actor_id;
  s.actors = me.actors;
  s.run_dir = config.RunDir();
  s.seed = config.run.seed;
  s.steps = config.train.steps;
  s.dtype = config.model.dtype;
  s.device = ProcessDevice(config, me);
  s.data = config.data;
  s.prompt = config.prompt;
  s.reward = config.reward;
  s.actor = config.actor;
  s.stream = config.comm.stream;
  s.weights = config.comm.weights;
  s.weights_timeout_s = config.cluster.weights_timeout_s;
  s.group_transport = [config, me] { return WeightGroupTransport(config, me); };
  return s;
}

LearnerRankSpec LearnerRankSpecFor(const Config& config, const RankLayout& me) {
  const std::string run_dir = config.RunDir();
  LearnerRankSpec s;
  s.rank = me.learner_rank;
  s.ranks = me.learners;
  // Actors with a non-empty share of each step's queries each send one batch per step.
  s.batches_per_step = std::min(me.actors, config.actor.queries_per_batch);
  s.stream = config.comm.stream;
  s.stream.learner_endpoints.assign(me.learners, "");
  s.stream.learner_endpoints[me.learner_rank] =
      StreamBindEndpoint(config.cluster, run_dir, me.learner_rank);
  s.weights = config.comm.weights;
  s.weights.endpoint = WeightsBindEndpoint(config.cluster, run_dir);
  s.collect_timeout_s = config.cluster.collect_timeout_s;
  s.actor_takeover_s = config.cluster.actor_takeover_s;
  s.min_actors = config.cluster.min_actors;
  s.run_dir = run_dir;
  s.logs_dir = run_dir + "/logs";
  return s;
}

std::unique_ptr<ProcessSupervisor> SpawnActors(const Config& config, const std::string& run_dir) {
  std::error_code ec;
  std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  if (ec)
    Fail(ErrorCode::kInternal, "cannot find this executable (/proc/self/exe): ", ec.message());
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const int threads =
      config.run.threads > 0 ? config.run.threads : std::max(1, cores / config.train.actors);
  const std::string abs_run = fs::absolute(run_dir).string();
  std::vector<ChildSpec> children;
  for (int a = 0; a < config.train.actors; ++a)
    children.push_back({"actor-" + std::to_string(a),
                        {self, "actor", "-c", abs_run + "/config.yaml", "--id", std::to_string(a),
                         "run.dir=" + abs_run, "run.threads=" + std::to_string(threads)}});
  auto sup = std::make_unique<ProcessSupervisor>(std::move(children), abs_run + "/logs",
                                                 config.cluster.max_actor_restarts);
  sup->Start();
  return sup;
}

}  // namespace iranker
