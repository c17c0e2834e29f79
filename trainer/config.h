// trainer/config.h — the whole resolved configuration of a run: one section per room.
// Each section's struct lives in its room's header; this file only assembles them.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "actor/options.h"
#include "base/fields.h"
#include "cluster/options.h"
#include "collective/options.h"
#include "comm/options.h"
#include "learner/options.h"
#include "model/options.h"
#include "ranking/jsonl.h"
#include "ranking/prompt.h"
#include "ranking/reward.h"
#include "trainer/train_options.h"
#include "trajlog/options.h"

namespace iranker {

// Options of the run as a whole (trainer/).
struct RunOptions {
  // Name of the run; the run directory defaults to runs/<name>.
  std::string name = "run";
  // Run directory (resolved config, checkpoints, HDF5 log, metrics, plots). "" = runs/<name>.
  std::string dir = "";
  // Master seed: every other seed (actors, data order, sampling) is derived from it.
  uint64_t seed = 1;
  // Intra-op threads for torch in this process; 0 = all cores of the machine divided by the
  // processes that share it.
  int threads = 0;
  // Log level: trace, debug, info, warn, error or off.
  std::string log_level = "info";

  template <class V>
  void Visit(V& v) {
    v.Field("name", name, "Name of the run; the run directory defaults to runs/<name>.");
    v.Field("dir", dir,
            "Run directory (config, checkpoints, HDF5 log, metrics, plots); \"\" = runs/<name>.");
    v.Field("seed", seed, "Master seed; all other seeds derive from it.");
    v.Field("threads", threads,
            "Torch intra-op threads per process; 0 = cores / processes on the host.", AtLeast(0));
    v.Field("log_level", log_level, "Log level.",
            OneOf({"trace", "debug", "info", "warn", "error", "off"}));
    v.Check(!name.empty() && name.find('/') == std::string::npos, "name",
            "must be non-empty and contain no '/'");
  }
};

// The `comm:` section: the trajectory stream and the weight broadcast (comm/), and the gradient
// all-reduce (collective/). Endpoints in stream/weights are used as given by tests and single
// processes; `iranker train` under mpirun derives them from cluster.transport instead.
struct CommSection {
  comm::StreamOptions stream;
  comm::WeightsOptions weights;
  collective::AllreduceOptions allreduce;

  template <class V>
  void Visit(V& v) {
    v.Section("stream", stream, "Trajectory stream actors -> learners (credit flow control).");
    v.Section("weights", weights, "Weight broadcast learner rank 0 -> actors.");
    v.Section("allreduce", allreduce, "Gradient all-reduce across learner ranks.");
  }
};

struct Config {
  RunOptions run;
  ModelOptions model;
  DataOptions data;
  PromptOptions prompt;
  RewardOptions reward;
  ActorOptions actor;
  LearnerOptions learner;
  TrainOptions train;
  TrajlogOptions trajlog;
  ClusterOptions cluster;
  CommSection comm;

  template <class V>
  void Visit(V& v) {
    v.Section("run", run, "The run as a whole.");
    v.Section("data", data, "Ranking datasets (JSONL, docs/DATA.md) and bad-line policy.");
    v.Section("prompt", prompt, "Prompt templates and chat formatting.");
    v.Section("reward", reward, "IRanker/DRanker reward terms and answer matching.");
    v.Section("model", model, "The policy: checkpoint or preset, dtype, device.");
    v.Section("actor", actor, "Rollout actors: episodes, sampling, generation engine.");
    v.Section("learner", learner, "Learner ranks: RL algorithm, optimizer, batching.");
    v.Section("train", train, "Training schedule: steps, evaluation, checkpoints.");
    v.Section("trajlog", trajlog, "HDF5 trajectory log (docs/TRAJLOG.md).");
    v.Section("cluster", cluster,
              "Distributed layout under mpirun/srun: learners, transport, time-outs.");
    v.Section("comm", comm, "ZeroMQ streams, weight broadcast, all-reduce, CURVE security.");
    v.Check(std::abs(learner.temperature - actor.temperature) < 1e-9, "learner",
            "learner.temperature must equal actor.temperature (log-probabilities must match)");
    v.Check((learner.algorithm == Algorithm::kSft) == (actor.responses != Responses::kSampled) ||
                (!data.replay.empty() && learner.algorithm == Algorithm::kSft),
            "learner",
            "learner.algorithm=sft and actor.responses go together: sft trains on a teacher's "
            "targets (actor.responses: labels, bm25 or run) or on a log (data.replay), RL on "
            "sampled responses");
    v.Check(
        comm.weights.group != comm::WeightsGroup::kNccl || model.device == "cuda", "comm",
        "comm.weights.group=nccl needs model.device=cuda (the group broadcast runs between GPUs)");
  }

  // The run directory after defaults are applied.
  std::string RunDir() const { return run.dir.empty() ? "runs/" + run.name : run.dir; }
};

}  // namespace iranker
