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

namespace iranker {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// The order in which training queries are drawn: a fresh permutation per epoch, derived from the
// run seed, so a cursor (queries consumed) identifies the position exactly.
class QueryStream {
 public:
  QueryStream(size_t n, uint64_t seed) : n_(n), seed_(seed) { IR_CHECK_GT(n, 0u); }
  size_t At(int64_t cursor) {
    const int64_t epoch = cursor / n_;
    if (epoch != epoch_) {
      perm_.resize(n_);
      std::iota(perm_.begin(), perm_.end(), 0);
      std::mt19937_64 rng(DeriveSeed(seed_, 0xE90C + epoch));
      std::shuffle(perm_.begin(), perm_.end(), rng);
      epoch_ = epoch;
    }
    return perm_[cursor % n_];
  }

 private:
  size_t n_;
  uint64_t seed_;
  int64_t epoch_ = -1;
  std::vector<size_t> perm_;
};

std::vector<QueryRecord> LoadTrain(const DataOptions& data) {
  std::vector<QueryRecord> all;
  for (const auto& path : data.train) {
    auto recs = ReadJsonl(path, data.policy(), data.max_bad_lines);
    for (auto& r : recs) all.push_back(std::move(r));
  }
  if (all.empty()) Fail(ErrorCode::kInvalidArgument, "data.train: no training records");
  return all;
}

void SaveCheckpoint(const std::string& run_dir, int64_t step, DecoderLM& policy, const Learner& learner,
                    const std::string& tokenizer_dir, int64_t cursor, uint64_t seed, int keep) {
  const std::string final_dir = CheckpointDir(run_dir, step);
  if (fs::exists(final_dir)) return;  // already written (e.g. a resumed run at the same step)
  const std::string tmp = final_dir + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp);
  MakeDirs(tmp);
  SaveModel(policy, tmp);
  CopyTokenizerFiles(tokenizer_dir, tmp);
  learner.SaveState(tmp);
  nlohmann::json st = {{"step", step}, {"query_cursor", cursor}, {"seed", seed},
                       {"policy_version", learner.version()}};
  WriteFileAtomic(tmp + "/trainer_state.json", st.dump(2) + "\n");
  CommitDirectory(tmp, final_dir);
  PruneCheckpoints(run_dir, keep);
}

nlohmann::json EvalJson(int64_t step, const EvalReport& r) {
  return {{"type", "eval"}, {"step", step}, {"rows", EvalReportJson(r)},
          {"mrr", r.MeanOf("policy", "mrr")}, {"ndcg@10", r.MeanOf("policy", "ndcg@10")},
          {"hit@1", r.MeanOf("policy", "hit@1")}};
}
}  // namespace

TrainResult TrainLocal(const Config& config) {
  TrainResult result;
  const std::string run_dir = config.RunDir();
  result.run_dir = run_dir;
  MakeDirs(run_dir + "/checkpoints");
  WriteResolvedConfig(config, run_dir);
  const uint64_t seed = config.run.seed;

  // The initial policy: a given checkpoint, or a preset written to <run>/init once.
  std::string init_dir = config.model.path;
  if (init_dir.empty()) {
    init_dir = run_dir + "/init";
    if (!fs::exists(init_dir + "/config.json"))
      InitModelDirectory(config.model.preset, config.model.tokenizer, seed, config.model.dtype, init_dir);
  }
  Policy policy = LoadPolicy(init_dir, config.model.dtype, config.model.device);
  DecoderLM& model = *policy.model.model;
  Learner learner(policy.model.model, config.learner, config.train.steps);

  int64_t step = 0, cursor = 0;
  const std::string latest = LatestCheckpoint(run_dir);
  if (!latest.empty()) {
    auto st = nlohmann::json::parse(ReadFile(latest + "/trainer_state.json"));
    if (st.at("seed").get<uint64_t>() != seed)
      Fail(ErrorCode::kFailedPrecondition, latest, " was written with run.seed ", st.at("seed").get<uint64_t>(),
           ", this run has ", seed, "; use another run.name or the same seed");
    LoadWeightsInto(model, latest);
    learner.LoadState(latest);
    step = st.at("step").get<int64_t>();
    cursor = st.at("query_cursor").get<int64_t>();
    IR_LOG_INFO("resuming from {} (step {}, {} queries consumed)", latest, step, cursor);
  }

  auto train = LoadTrain(config.data);
  auto test_full = LoadTestSets(config.data, 0);
  auto test_periodic = LoadTestSets(config.data, config.train.eval_queries);
  PromptSet prompts(config.prompt);
  MetricsLog metrics(run_dir + "/metrics.jsonl");
  QueryStream stream(train.size(), seed);

  std::vector<std::unique_ptr<RolloutRunner>> actors;
  for (int a = 0; a < config.train.actors; ++a)
    actors.push_back(std::make_unique<RolloutRunner>(model, *policy.tokenizer, prompts, config.reward, config.actor, a));

  auto evaluate = [&](const std::vector<Dataset>& sets) {
    return Evaluate(model, *policy.tokenizer, prompts, config.actor, config.reward.match, sets,
                    DeriveSeed(seed, 0xE7A1), /*baselines=*/true);
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
    // Rollout: the batch's queries, split across the actors.
    std::vector<const QueryRecord*> queries;
    for (int q = 0; q < config.actor.queries_per_batch; ++q) queries.push_back(&train[stream.At(cursor + q)]);
    TrajectoryBatch batch;
    RolloutStats rs;
    const uint64_t step_seed = DeriveSeed(seed, step);
    for (size_t a = 0; a < actors.size(); ++a) {
      std::vector<const QueryRecord*> part;
      for (size_t q = a; q < queries.size(); q += actors.size()) part.push_back(queries[q]);
      if (part.empty()) continue;
      auto s = actors[a]->Run(part, DeriveSeed(step_seed, a), learner.version(), &batch);
      rs.steps += s.steps, rs.episodes += s.episodes, rs.generated_tokens += s.generated_tokens;
      rs.prompt_tokens += s.prompt_tokens, rs.reused_tokens += s.reused_tokens;
    }
    const double rollout_s = std::chrono::duration<double>(Clock::now() - t0).count();
    // Learn.
    std::vector<TrainSample> samples;
    double valid = 0, episode_mrr = 0;
    for (auto& s : batch.steps) {
      valid += s.valid_format;
      TrainSample t;
      t.prompt = std::move(s.prompt_ids);
      t.response = std::move(s.response_ids);
      t.behaviour_logprobs = std::move(s.logprobs);
      t.reward = s.reward;
      t.group = s.group_id;
      t.policy_version = s.policy_version;
      samples.push_back(std::move(t));
    }
    for (const auto& e : batch.episodes) episode_mrr += e.mrr;
    result.trajectories += samples.size();
    int64_t learn_tokens = 0;
    for (const auto& s : samples) learn_tokens += s.prompt.size() + s.response.size();
    const auto t1 = Clock::now();
    Metrics m = learner.Step(std::move(samples));
    for (auto& a : actors) a->InvalidateCache();
    const double learn_s = std::chrono::duration<double>(Clock::now() - t1).count();
    cursor += queries.size();
    ++step;

    nlohmann::json rec = {{"type", "train"}, {"step", step}};
    for (const auto& [k, v] : m) rec[k] = v;
    rec["valid_format"] = batch.steps.empty() ? 0 : valid / batch.steps.size();
    rec["episode_mrr"] = batch.episodes.empty() ? 0 : episode_mrr / batch.episodes.size();
    rec["rollout_seconds"] = rollout_s;
    rec["learn_seconds"] = learn_s;
    rec["generated_tokens_per_s"] = rs.generated_tokens / std::max(1e-9, rollout_s);
    rec["prompt_reuse_fraction"] = rs.prompt_tokens ? double(rs.reused_tokens) / rs.prompt_tokens : 0;
    rec["learner_tokens_per_s"] = learn_tokens / std::max(1e-9, learn_s);
    rec["trajectories"] = batch.steps.size();
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
      SaveCheckpoint(run_dir, step, model, learner, init_dir, cursor, seed, config.train.keep_checkpoints);
  }
  progress.Finish();
  result.final_checkpoint = CheckpointDir(run_dir, config.train.steps);
  result.final = evaluate(test_full);
  metrics.Write(EvalJson(step, result.final));
  return result;
}

}  // namespace iranker
