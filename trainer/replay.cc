#include "trainer/replay.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "base/atomic_file.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "learner/learner.h"
#include "learner/samples.h"
#include "model/policy.h"
#include "trainer/checkpoints.h"
#include "trainer/config_io.h"
#include "trainer/run_book.h"
#include "trainer/run_dir.h"
#include "trajlog/trajlog.h"

namespace iranker {
namespace {
// Maximal runs of equal values: rows [begin, end) with one policy version.
struct Span {
  int64_t begin, end;
  uint64_t version;
};
std::vector<Span> Runs(const std::vector<uint64_t>& v) {
  std::vector<Span> out;
  for (int64_t i = 0; i < static_cast<int64_t>(v.size());) {
    int64_t j = i + 1;
    while (j < static_cast<int64_t>(v.size()) && v[j] == v[i]) ++j;
    out.push_back({i, j, v[i]});
    i = j;
  }
  return out;
}

// For each step span, the episode span with the same version and the same occurrence count
// (-1: the step's episodes were not logged, e.g. a run that stopped mid-episode).
std::vector<int64_t> MatchEpisodes(const std::vector<Span>& steps,
                                   const std::vector<Span>& episodes) {
  std::map<uint64_t, std::vector<int64_t>> by_version;
  for (size_t j = 0; j < episodes.size(); ++j) by_version[episodes[j].version].push_back(j);
  std::map<uint64_t, size_t> seen;
  std::vector<int64_t> out;
  for (const auto& s : steps) {
    const auto& list = by_version[s.version];
    const size_t k = seen[s.version]++;
    out.push_back(k < list.size() ? list[k] : -1);
  }
  return out;
}

// The logged rows of one step as one batch per actor (the order SamplesFromBatches restores).
std::vector<TrajectoryBatch> ByActor(std::vector<StepRecord> steps,
                                     std::vector<EpisodeSummary> episodes) {
  std::map<int32_t, TrajectoryBatch> m;
  for (auto& s : steps) {
    auto& b = m[s.actor_id];
    b.actor_id = s.actor_id;
    b.steps.push_back(std::move(s));
  }
  for (auto& e : episodes) {
    auto& b = m[e.actor_id];
    b.actor_id = e.actor_id;
    b.episodes.push_back(std::move(e));
  }
  std::vector<TrajectoryBatch> out;
  for (auto& [a, b] : m) out.push_back(std::move(b));
  return out;
}

void CheckTokens(const std::vector<StepRecord>& rows, int64_t first_row, int64_t vocab,
                 const std::string& path) {
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    auto bad = [&](const std::vector<int32_t>& ids) {
      return std::any_of(ids.begin(), ids.end(), [&](int32_t t) { return t < 0 || t >= vocab; });
    };
    if (bad(r.prompt_ids) || bad(r.response_ids))
      Fail(ErrorCode::kInvalidArgument, path, ": /steps row ", first_row + static_cast<int64_t>(i),
           " has token ids outside this model's vocabulary of ", vocab,
           " (the log was written with another tokenizer or model; replay it from the same "
           "model.path)");
    if (r.logprobs.size() != r.response_ids.size())
      Fail(ErrorCode::kDataLoss, path, ": /steps row ", first_row + static_cast<int64_t>(i),
           " has ", r.logprobs.size(), " log-probabilities for ", r.response_ids.size(),
           " response tokens");
  }
}

}  // namespace

TrainResult TrainReplay(const Config& config_in) {
  const std::string& path = config_in.data.replay;
  TrajectoryLogReader log(path);  // a missing or foreign file is an error naming it
  const std::vector<Span> spans = Runs(log.StepPolicyVersions());
  if (spans.empty())
    Fail(ErrorCode::kInvalidArgument, path, " (data.replay): holds no step records to replay");
  const std::vector<Span> episode_spans = Runs(log.EpisodePolicyVersions());
  const std::vector<int64_t> episode_span = MatchEpisodes(spans, episode_spans);

  Config config = config_in;
  config.trajlog.enabled = false;  // nothing new is received
  const int64_t total = std::min<int64_t>(config.train.steps, spans.size());
  if (total < config.train.steps)
    IR_LOG_WARN("{} holds {} logged steps: replay trains {} steps, not train.steps={}", path,
                spans.size(), total, config.train.steps);
  config.train.steps = total;

  TrainResult result;
  const std::string run_dir = config.RunDir();
  result.run_dir = run_dir;
  MakeDirs(run_dir + "/checkpoints");
  WriteResolvedConfig(config, run_dir);
  const std::string init_dir = PrepareInitDir(config, run_dir);
  Policy policy = LoadPolicy(init_dir, config.model.dtype, config.model.device);
  DecoderLM& model = *policy.model.model;
  Learner learner(policy.model.model, config.learner, total);
  int64_t step =
      ResumeFromCheckpoint(run_dir, config.run.seed, model, learner, /*announce=*/true).step;
  if (model.config().ToJson() != log.Attribute("model"))
    IR_LOG_WARN("{}: logged with another model configuration than {} (replaying anyway)", path,
                init_dir);
  IR_LOG_INFO("replaying {}: {} steps ({} rows) from policy version {}", path, total,
              spans[total - 1].end, spans.front().version);

  RunBook book(config, run_dir, init_dir, model, *policy.tokenizer, learner, step, &result);
  if (step == 0) book.EvaluateInitial();
  book.BeginTraining();
  const int64_t vocab = model.config().vocab_size;
  while (step < total) {
    const auto t0 = Clock::now();
    const Span& sp = spans[step];
    std::vector<StepRecord> rows = log.ReadSteps(sp.begin, sp.end);
    CheckTokens(rows, sp.begin, vocab, path);
    const size_t logged_rows = rows.size();
    rows.erase(std::remove_if(
                   rows.begin(), rows.end(),
                   [&](const StepRecord& r) { return r.reward < config.data.replay_min_reward; }),
               rows.end());
    const size_t left_out = logged_rows - rows.size();
    std::vector<EpisodeSummary> episodes;
    if (episode_span[step] >= 0) {
      const Span& e = episode_spans[episode_span[step]];
      episodes = log.ReadEpisodes(e.begin, e.end);
    }
    std::vector<TrajectoryBatch> batches = ByActor(std::move(rows), std::move(episodes));
    const double read_s = SecondsSince(t0);

    nlohmann::json rec = {{"type", "train"}, {"step", step + 1}};
    std::vector<TrainSample> samples = SamplesFromBatches(batches, &rec);
    int64_t learn_tokens = 0;
    for (auto& s : samples) {
      s.policy_version = learner.version();  // replayed data is never dropped as stale
      learn_tokens += s.prompt.size() + s.response.size();
    }
    result.trajectories += samples.size();
    const auto t1 = Clock::now();
    Metrics m = learner.Step(std::move(samples));
    const double learn_s = SecondsSince(t1);
    ++step;
    for (const auto& [k, v] : m) rec[k] = v;
    rec["replay_logged_version"] = sp.version;
    rec["replay_rows_left_out"] = static_cast<double>(left_out);
    rec["replay_read_seconds"] = read_s;
    rec["learn_seconds"] = learn_s;
    rec["learner_tokens_per_s"] = learn_tokens / std::max(1e-9, learn_s);
    book.EndStep(step, std::move(rec));
  }
  book.Finish(step, /*interrupted=*/false);
  result.trajlog_files = {path};
  return result;
}

}  // namespace iranker
