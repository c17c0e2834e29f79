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
  auto test_full = LoadTestSets(config.data, 0);
  auto test_periodic = LoadTestSets(config.data, config.train.eval_queries);
  PromptSet prompts(config.prompt);
  MetricsLog metrics(run_dir + "/metrics.jsonl");
  QueryStream stream(train.size(), seed);
  auto trajlog = OpenTrajectoryLog(config, run_dir, 0, step, model.config().ToJson());

  std::vector<std::unique_ptr<RolloutRunner>> actors;
  for (int a = 0; a < config.train.actors; ++a)
    actors.push_back(std::make_unique<RolloutRunner>(model, *policy.tokenizer, prompts, config.reward, config.actor, a));

  auto evaluate = [&](const std::vector<Dataset>& sets) {
    return Evaluate(model, *policy.tokenizer, prompts, config.actor, config.reward.match, sets,
                    EvaluationSeed(seed), /*baselines=*/true);
  };
  if (step == 0) {
    result.initial = evaluate(test_full);
    result.has_initial = true;
    metrics.Write(EvalJson(0, result.initial));
    std::cerr << "initial policy on held-out data:\n" << FormatEvalTable(result.initial);
  }

  Progress progress(config.train.steps, step);
  const auto t_start = Clock::now();
  double last_eval_mrr = result.has_initial ? result.initial.MeanOf("policy", "mrr") : -1;
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
    if (trajlog)
      for (const auto& b : batches) trajlog->Append(b);
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
    rec["generated_tokens_per_s"] = rs.generated_tokens / std::max(1e-9, rollout_s);
    rec["prompt_reuse_fraction"] = rs.prompt_tokens ? double(rs.reused_tokens) / rs.prompt_tokens : 0;
    rec["learner_tokens_per_s"] = learn_tokens / std::max(1e-9, learn_s);
    rec["elapsed_s"] = std::chrono::duration<double>(Clock::now() - t_start).count();

    if (config.train.eval_every > 0 && step % config.train.eval_every == 0 && step < config.train.steps) {
      auto r = evaluate(test_periodic);
      last_eval_mrr = r.MeanOf("policy", "mrr");
      metrics.Write(EvalJson(step, r));
    }
    if (last_eval_mrr >= 0) rec["eval_mrr"] = last_eval_mrr;
    metrics.Write(rec);
    progress.Update(step, rec);
    if ((config.train.checkpoint_every > 0 && step % config.train.checkpoint_every == 0) || step == config.train.steps)
      SaveCheckpoint(run_dir, step, model, learner, init_dir, step * config.actor.queries_per_batch, seed,
                     config.train.keep_checkpoints);
  }
  progress.Finish();
  if (trajlog) {
    trajlog->Close();
    result.trajlog_files = TrajectoryLogFiles(run_dir, config.trajlog);
  }
  result.final_checkpoint = CheckpointDir(run_dir, config.train.steps);
  result.final = evaluate(test_full);
  metrics.Write(EvalJson(step, result.final));
  return result;
}

}  // namespace iranker
