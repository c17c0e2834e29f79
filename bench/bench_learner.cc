// `iranker bench learner`: learner tokens/s for one PPO step (forward, clipped-surrogate loss,
// backward, global-norm clip, AdamW) on the `small` preset, against the same step written in Python
// with PyTorch (bench/reference/hf_qwen2.py train_step), same batch and threads, same run.
//
// Figures: tokens/s = batch * sequence length / median step time. MFU = achieved model FLOP/s over
// the fp32 matmul peak measured in this run (libtorch, 1024^3 products); model FLOPs per step =
// 3 * (forward FLOPs per token) * tokens (forward + backward ~ 3x forward, the usual convention).
// Also: the same step with learner.activation_checkpointing (time and peak resident memory vs the
// plain step; -p checkpointing_repeats=0 skips it).
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "bench/all.h"
#include "bench/bench.h"
#include "learner/learner.h"
#include "model/checkpoint.h"

namespace iranker::bench {

BenchResult RunLearner(const BenchArgs& args) {
  const std::string preset = args.Param("preset", args.quick ? "tiny" : "small");
  const int batch = std::stoi(args.Param("batch", args.quick ? "2" : "8"));
  const int prompt_len = std::stoi(args.Param("prompt", args.quick ? "32" : "448"));
  const int response_len = std::stoi(args.Param("response", args.quick ? "8" : "64"));
  const int T = prompt_len + response_len;

  torch::manual_seed(0);
  auto model = std::make_shared<DecoderLM>(PresetConfig(preset));
  const auto dir = (std::filesystem::temp_directory_path() /
                    ("iranker_bench_learner_" + std::to_string(::getpid())))
                       .string();
  MakeDirs(dir);
  SaveModel(*model, dir);

  // One fixed batch: random prompt and response tokens, behaviour log-probabilities near the
  // policy's, advantages of both signs.
  auto gen = at::detail::createCPUGenerator(3);
  auto ids = torch::randint(model->config().vocab_size, {batch, T}, gen, torch::kInt64);
  std::vector<TrainSample> samples;
  nlohmann::json ref_batch = {{"ids", nlohmann::json::array()},
                              {"mask", nlohmann::json::array()},
                              {"old", nlohmann::json::array()},
                              {"adv", nlohmann::json::array()}};
  for (int b = 0; b < batch; ++b) {
    TrainSample s;
    auto row = ids[b];
    for (int t = 0; t < T; ++t)
      (t < prompt_len ? s.prompt : s.response).push_back(row[t].item<int64_t>());
    s.behaviour_logprobs.assign(response_len, -std::log(double(model->config().vocab_size)));
    s.reward = float(b % 2);
    s.group = 0;
    std::vector<int> mask(T, 0);
    std::vector<float> old(T, 0.0f), adv(T, 0.0f);
    for (int t = prompt_len; t < T; ++t)
      mask[t] = 1, old[t] = s.behaviour_logprobs[0], adv[t] = b % 2 ? 1.0f : -1.0f;
    ref_batch["ids"].push_back(
        std::vector<int64_t>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + T));
    ref_batch["mask"].push_back(mask);
    ref_batch["old"].push_back(old);
    ref_batch["adv"].push_back(adv);
    samples.push_back(std::move(s));
  }
  LearnerOptions o;
  o.micro_batch_tokens = batch * T;  // one micro-batch, like the reference
  o.max_staleness = 1 << 30;
  // With activation checkpointing first (its peak is the lower one: memory the allocator keeps
  // from it does not raise the plain step's peak), then the plain step, which the ratio is about.
  const int ckpt_repeats = std::stoi(args.Param("checkpointing_repeats", "3"));
  double ckpt_sec = 0, ckpt_peak = 0;
  if (ckpt_repeats > 0) {
    auto copy = CloneDecoder(*model);
    LearnerOptions oc = o;
    oc.activation_checkpointing = true;
    Learner ckpt(copy, oc, 1000);
    ResetPeakRss();
    ckpt_sec = MedianSeconds([&] { ckpt.Step(samples); }, 1, ckpt_repeats);
    ckpt_peak = PeakRssMb();
  }
  Learner learner(model, o, 1000);
  ResetPeakRss();
  double sec = MedianSeconds([&] { learner.Step(samples); }, args.warmup, args.repeats);
  const double peak_rss = PeakRssMb();

  WriteFileAtomic(dir + "/batch.json", ref_batch.dump());
  auto ref = nlohmann::json::parse(RunPythonReference(
      "hf_qwen2.py",
      {"train_step", dir, dir + "/batch.json", std::to_string(torch::get_num_threads()),
       std::to_string(args.warmup), std::to_string(args.repeats)}));
  std::filesystem::remove_all(dir);

  // The machine's matmul peak, measured now.
  torch::NoGradGuard ng;
  auto a = torch::randn({1024, 1024}), bm = torch::randn({1024, 1024}),
       c = torch::empty({1024, 1024});
  double mm = MedianSeconds([&] { torch::mm_out(c, a, bm); }, 2, 5);
  const double peak = 2.0 * 1024 * 1024 * 1024 / mm;
  const double tokens = double(batch) * T;
  const double flops = 3.0 * model->config().FlopsPerToken(T / 2) * tokens;

  BenchResult r;
  r.value_name = "PPO learner step tokens/s (forward, backward, AdamW)";
  r.value = tokens / sec;
  r.unit = "tokens/s";
  r.reference = "the same step in Python/PyTorch (bench/reference/hf_qwen2.py train_step)";
  r.reference_value = tokens / ref["seconds"].get<double>();
  r.ratio = r.value / r.reference_value;
  r.extra = {{"preset", preset},
             {"batch", batch},
             {"seq_len", T},
             {"threads", torch::get_num_threads()},
             {"seconds", sec},
             {"reference_seconds", ref["seconds"]},
             {"matmul_peak_gflops", peak / 1e9},
             {"mfu", flops / sec / peak},
             {"reference_mfu", flops / ref["seconds"].get<double>() / peak},
             {"peak_rss_mb", peak_rss}};
  if (ckpt_repeats > 0)
    r.extra["activation_checkpointing"] = {{"seconds", ckpt_sec},
                                           {"peak_rss_mb", ckpt_peak},
                                           {"time_vs_plain", ckpt_sec / sec},
                                           {"peak_rss_vs_plain", ckpt_peak / peak_rss}};
  return r;
}

}  // namespace iranker::bench
