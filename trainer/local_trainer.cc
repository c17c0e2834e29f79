#include "trainer/local_trainer.h"

#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <random>

#include "actor/rollout.h"
#include "base/atomic_file.h"
#include "base/error.h"
#include "base/log.h"
#include "learner/learner.h"
#include "trainer/config_io.h"
#include "trainer/policy_setup.h"
#include "trainer/progress.h"
#include "trainer/run_dir.h"
#include "trainer/train_common.h"

namespace iranker {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

TrainResult TrainLocal(const Config& config) {
  TrainResult result;
  const std::string run_dir = config.RunDir();
  result.run_dir = run_dir;
  MakeDirs(run_dir + "/checkpoints");
  WriteResolvedConfig(config, run_dir);
  const uint64_t seed = config.run.seed;

  const std::string init_dir = PrepareInitDir(config, run_dir);
  Policy policy = LoadPolicy(init_dir, config.model.dtype, config.model.device);
  DecoderLM& model = *policy.model.model;
  Learner learner(policy.model.model, config.learner, config.train.steps);

  const ResumePoint resume = ReadResumePoint(run_dir, seed);
  int64_t step = resume.step;
  if (!resume.checkpoint.empty()) {
    LoadWeightsInto(model, resume.checkpoint);
    learner.LoadState(resume.checkpoint);
    IR_LOG_INFO("resuming from {} (step {})", resume.checkpoint, step);
  }

  auto train = LoadTrainRecords(config.data);
  PromptSet prompts(config.prompt);
  QueryStream stream(train.size(), seed);
  auto trajlog = OpenTrajectoryLog(config, run_dir, 0, step, model.config().ToJson());
  RunBook book(config, run_dir, init_dir, model, *policy.tokenizer, learner, step, &result);

  std::vector<std::unique_ptr<RolloutRunner>> actors;
  for (int a = 0; a < config.train.actors; ++a)
    actors.push_back(std::make_unique<RolloutRunner>(model, *policy.tokenizer, prompts, config.reward, config.actor, a));

  if (step == 0) book.EvaluateInitial();
  book.BeginTraining();
  while (step < config.train.steps) {
    const auto t0 = Clock::now();
    // Rollout: each actor its share of the step's queries (train_common.h), one batch each.
    std::vector<TrajectoryBatch> batches(actors.size());
    RolloutStats rs;
    for (size_t a = 0; a < actors.size(); ++a) {
      auto part = ActorQueries(train, stream, step, config.actor.queries_per_batch, a, actors.size());
      if (part.empty()) continue;
      batches[a].actor_id = a;
      auto s = actors[a]->Run(part, ActorSeed(seed, step, a), learner.version(), &batches[a]);
      rs.steps += s.steps, rs.episodes += s.episodes, rs.generated_tokens += s.generated_tokens;
      rs.prompt_tokens += s.prompt_tokens, rs.reused_tokens += s.reused_tokens;
    }
    const double rollout_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto tl = Clock::now();
    if (trajlog)
      for (const auto& b : batches) trajlog->Append(b);
    const double log_s = std::chrono::duration<double>(Clock::now() - tl).count();
    // Learn.
    nlohmann::json rec = {{"type", "train"}, {"step", step + 1}};
    std::vector<TrainSample> samples = SamplesFromBatches(batches, &rec);
    result.trajectories += samples.size();
    int64_t learn_tokens = 0;
    for (const auto& s : samples) learn_tokens += s.prompt.size() + s.response.size();
    const auto t1 = Clock::now();
    Metrics m = learner.Step(std::move(samples));
    for (auto& a : actors) a->InvalidateCache();
    const double learn_s = std::chrono::duration<double>(Clock::now() - t1).count();
    ++step;
    for (const auto& [k, v] : m) rec[k] = v;
    rec["rollout_seconds"] = rollout_s;
    rec["learn_seconds"] = learn_s;
    rec["trajlog_append_seconds"] = log_s;
    rec["generated_tokens_per_s"] = rs.generated_tokens / std::max(1e-9, rollout_s);
    rec["prompt_reuse_fraction"] = rs.prompt_tokens ? double(rs.reused_tokens) / rs.prompt_tokens : 0;
    rec["learner_tokens_per_s"] = learn_tokens / std::max(1e-9, learn_s);
    book.EndStep(step, std::move(rec));
  }
  if (trajlog) {
    trajlog->Close();
    result.trajlog_write_seconds = trajlog->stats().write_seconds;
  }
  book.Finish(step, /*interrupted=*/false);
  return result;
}

}  // namespace iranker
