// `mpirun -np N iranker bench sharding`: each learner.sharding level against `none` on the same
// PPO steps (policy and critic, AdamW, gradient clipping) over N data-parallel learner ranks.
//
// For every level, a fresh model of `preset` (the same seed) trains `warmup` + `repeats` steps on
// this rank's share of one fixed batch. Reported per level: the median step time, the model
// state this rank holds (learner/state_bytes.h: weights, gradients, moments of the policy and
// the critic, counted off the live tensors after the last step; under `gradients` the most
// gradient bytes held at once during the step), and the process's peak resident memory during
// the level (VmHWM, reset before each level; the levels run from the smallest state to the
// largest so memory the allocator kept from one does not raise the next one's peak).
//
// Under `full` the weights are this rank's slices plus the most whole parts gathered at once
// during the step; rank 0 also holds the whole parameters between steps (for publication,
// evaluation, checkpoints; the critic too when a checkpoint is written), reported apart as
// rank0_whole_between_steps_mb (the policy).
//
// value = model state MB per rank of the most sharded level (full); reference = that of `none`;
// ratio = none / full (higher is better; at N ranks ZeRO-2 bounds it by 16 / (4 + 12 / N) bytes
// per parameter, ZeRO-3 by N less the gathered parts). Step times are in `levels` with
// time_vs_none. Every level runs with activation checkpointing (full recomputes each layer in
// backward in any case; the paper configs turn it on).
// Params: preset (small; quick: tiny), layers (16; quick: 4), batch (samples per rank, 4), prompt
// (64), response (16),
// units (sharding units per parameter set, 5 per layer: learner.shard_unit_mb is set from it),
// checkpointing (1).
#include <torch/torch.h>

#include "base/error.h"
#include "bench/all.h"
#include "bench/bench.h"
#include "collective/collective.h"
#include "learner/data_parallel.h"
#include "learner/learner.h"

namespace iranker::bench {

BenchResult RunSharding(const BenchArgs& args) {
  static collective::MpiSession mpi(nullptr, nullptr);  // lives until exit
  const std::string preset = args.Param("preset", args.quick ? "tiny" : "small");
  const int batch = std::stoi(args.Param("batch", args.quick ? "2" : "4"));
  const int prompt_len = std::stoi(args.Param("prompt", args.quick ? "16" : "64"));
  const int response_len = std::stoi(args.Param("response", args.quick ? "4" : "16"));
  const int layers = std::stoi(args.Param("layers", args.quick ? "4" : "16"));
  // Units as a large model has them: a 3B model in 64 MB units has ~190 for 36 layers, about 5 a
  // layer, so that a few units' gradients in flight are a small part of all.
  const int units = std::stoi(args.Param("units", std::to_string(5 * layers)));
  const bool checkpointing = args.Param("checkpointing", "1") != "0";
  collective::AllreduceOptions ao;
  ao.backend = collective::AllreduceBackend::kMpi;
  ao.timeout_ms = 600000;
  auto coll = collective::MakeMpiCollective(ao);
  const int ranks = coll->size(), rank = coll->rank();

  ModelConfig cfg = PresetConfig(preset);
  // Depth decides what `full` saves (a few whole layers gathered at once of many): small with 16
  // layers by default, as the paper's models have 24 to 36.
  cfg.num_hidden_layers = layers;
  // This rank's samples: random tokens, distinct per rank, two groups of rewards.
  auto gen = at::detail::createCPUGenerator(11 + rank);
  std::vector<TrainSample> samples;
  for (int b = 0; b < batch; ++b) {
    auto ids = torch::randint(cfg.vocab_size, {prompt_len + response_len}, gen, torch::kInt64);
    TrainSample s;
    for (int t = 0; t < prompt_len + response_len; ++t)
      (t < prompt_len ? s.prompt : s.response)
          .push_back(static_cast<int32_t>(ids[t].item<int64_t>()));
    s.behaviour_logprobs.assign(response_len, -std::log(double(cfg.vocab_size)));
    s.reward = float((b + rank) % 2);
    s.group = b / 2;
    s.episode = b;
    samples.push_back(std::move(s));
  }

  struct Level {
    Sharding sharding;
    double seconds = 0, peak_rss_mb = 0;
    StateBytes state;
  };
  std::vector<Level> levels = {
      {Sharding::kFull}, {Sharding::kGradients}, {Sharding::kOptimizer}, {Sharding::kNone}};
  for (Level& level : levels) {
    torch::manual_seed(0);
    auto model = std::make_shared<DecoderLM>(cfg);
    LearnerOptions o;
    o.algorithm = Algorithm::kPpo;
    o.sharding = level.sharding;
    o.max_staleness = 1 << 30;
    o.activation_checkpointing = checkpointing;
    // About `units` units per parameter set.
    o.shard_unit_mb = 4.0 * static_cast<double>(cfg.NumParameters()) / units / 1e6;
    CollectiveDataParallel dp(*coll, ao);
    coll->Barrier("sharding bench: level start");
    ResetPeakRss();
    {
      Learner learner(model, o, 1000, &dp);
      level.seconds = MedianSeconds(
          [&] {
            coll->Barrier("sharding bench: step");
            auto batch_copy = samples;
            for (auto& s : batch_copy) s.policy_version = learner.version();
            learner.Step(std::move(batch_copy));
          },
          args.warmup, args.repeats);
      level.state = learner.HeldStateBytes();
    }
    level.peak_rss_mb = PeakRssMb();
  }
  // The largest rank's figures (ranks hold equal shares up to padding).
  nlohmann::json rows = nlohmann::json::array();
  for (const Level& l : levels) {
    // Every rank's figures in its own slots (a sum of zeros elsewhere), then the maxima.
    const std::vector<double> mine = {
        static_cast<double>(l.state.weights), static_cast<double>(l.state.grads),
        static_cast<double>(l.state.moments), l.peak_rss_mb, l.seconds};
    const size_t k = mine.size();
    std::vector<double> all(k * ranks, 0.0);
    std::copy(mine.begin(), mine.end(), all.begin() + static_cast<std::ptrdiff_t>(k * rank));
    coll->AllreduceSumDoubles(&all, "sharding bench: figures");
    std::vector<double> maxima(k, 0.0);
    for (int q = 0; q < ranks; ++q)
      for (size_t i = 0; i < k; ++i) maxima[i] = std::max(maxima[i], all[k * q + i]);
    rows.push_back({{"sharding", NameOf(l.sharding)},
                    {"weights_mb", maxima[0] / 1e6},
                    {"grads_mb", maxima[1] / 1e6},
                    {"moments_mb", maxima[2] / 1e6},
                    {"model_state_mb", (maxima[0] + maxima[1] + maxima[2]) / 1e6},
                    {"peak_rss_mb", maxima[3]},
                    {"step_seconds", maxima[4]}});
  }
  for (auto& row : rows)
    row["time_vs_none"] =
        row["step_seconds"].get<double>() / rows.back()["step_seconds"].get<double>();
  const double none_mb = rows.back()["model_state_mb"].get<double>();
  const double most_mb = rows.front()["model_state_mb"].get<double>();
  BenchResult r;
  r.value_name = std::string("per-rank model state of learner.sharding=") +
                 NameOf(levels.front().sharding) +
                 " (policy + critic: weights, gradients, AdamW moments)";
  r.value = most_mb;
  r.unit = "MB";
  r.reference = "the same with learner.sharding=none";
  r.reference_value = none_mb;
  r.ratio = none_mb / most_mb;
  r.extra = {{"ranks", ranks},
             {"preset", preset},
             {"layers", cfg.num_hidden_layers},
             {"parameters", cfg.NumParameters()},
             {"samples_per_rank", batch},
             {"seq_len", prompt_len + response_len},
             {"threads", torch::get_num_threads()},
             {"units", units},
             {"activation_checkpointing", checkpointing},
             {"rank0_whole_between_steps_mb", static_cast<double>(cfg.NumParameters()) * 4 / 1e6},
             {"levels", rows},
             {"definition",
              "model_state_mb: the largest rank's weights + gradients + moments of policy and "
              "critic, counted off its tensors; ratio = none / most sharded level; "
              "step_seconds: the slowest rank's median"}};
  return r;
}

}  // namespace iranker::bench
