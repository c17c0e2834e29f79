// `iranker bench rollout`: IRanker elimination episodes/s and generated tokens/s on the `small`
// preset with 20-candidate recommendation prompts: prefix reuse on vs off, and vs a Python
// reference that generates every step's prompts from scratch, one batch per step, the way a
// generic RL framework does (bench/reference/hf_qwen2.py generate_batches).
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>

#include "actor/rollout.h"
#include "base/atomic_file.h"
#include "base/error.h"
#include "bench/all.h"
#include "model/checkpoint.h"
#include "ranking/synthetic.h"
#include "tokenizer/tokenizer.h"

namespace iranker::bench {
namespace fs = std::filesystem;

BenchResult RunRollout(const BenchArgs& args) {
  const std::string preset = args.Param("preset", "small");
  const int queries = std::stoi(args.Param("queries", args.quick ? "1" : "2"));
  const int group = std::stoi(args.Param("group", args.quick ? "2" : "4"));
  const int candidates = std::stoi(args.Param("candidates", args.quick ? "8" : "20"));
  const int repeats = std::max(1, std::min(args.repeats, 3));
  auto tokenizer = Tokenizer::FromJson(ByteLevelTokenizerJson(), "byte-level");
  torch::manual_seed(11);
  auto model = std::make_shared<DecoderLM>(PresetConfig(preset, tokenizer->vocab_size()));
  model->eval();
  PromptOptions po;
  po.dir = args.Param("prompts", "configs/prompts");
  if (!fs::exists(po.dir + "/recommendation_iranker.txt"))
    Fail(ErrorCode::kNotFound, po.dir,
         ": prompt templates not found (run from the source tree or -p prompts=DIR)");
  po.assistant_prefill = "<think>\n</think>\n<answer>";
  PromptSet prompts(po);
  SyntheticOptions so;
  so.scenario = "recommendation";
  so.n = queries;
  so.candidates = candidates;
  auto records = GenerateSynthetic(so);
  std::vector<const QueryRecord*> qs;
  for (const auto& r : records) qs.push_back(&r);

  ActorOptions ao;
  ao.episode_mode = EpisodeMode::kFull;
  ao.group_size = group;
  ao.constrained = true;
  ao.answer_template = "{label}</answer>";
  ao.slots = std::stoi(args.Param("slots", "16"));
  ao.max_seq_len = 8192;
  TrajectoryBatch sample;  // the records of one run (for the reference's prompts)
  auto run = [&](bool reuse, TrajectoryBatch* keep) {
    ActorOptions o = ao;
    o.prefix_reuse = reuse;
    RolloutRunner runner(*model, *tokenizer, prompts, RewardOptions(), o, 0);
    TrajectoryBatch b;
    RolloutStats st;
    const double secs = bench::MedianSeconds(
        [&] {
          b = TrajectoryBatch();
          runner.InvalidateCache();
          st = runner.Run(qs, 5, 0, &b);
        },
        /*warmup=*/0, repeats);
    if (keep) *keep = b;
    return std::make_pair(secs, st);
  };
  const auto [on_s, on] = run(true, &sample);
  const auto [off_s, off] = run(false, nullptr);
  const double episodes = static_cast<double>(on.episodes);

  // The reference: the same step prompts, grouped by step index (a framework's per-step batch),
  // generated from scratch with as many new tokens as the longest constrained answer.
  std::map<int, std::vector<std::vector<int32_t>>> by_step;
  size_t longest = 1;
  for (const auto& s : sample.steps) {
    by_step[s.step].push_back(s.prompt_ids);
    longest = std::max(longest, s.response_ids.size());
  }
  nlohmann::json batches = nlohmann::json::array();
  for (const auto& [k, ps] : by_step)
    for (size_t at = 0; at < ps.size(); at += ao.slots)
      batches.push_back(std::vector<std::vector<int32_t>>(
          ps.begin() + at, ps.begin() + std::min(ps.size(), at + ao.slots)));
  const std::string dir =
      (fs::temp_directory_path() / ("iranker_bench_rollout_" + std::to_string(::getpid())))
          .string();
  MakeDirs(dir);
  SaveModel(*model, dir);
  WriteFileAtomic(dir + "/batches.json", batches.dump());
  auto ref = nlohmann::json::parse(bench::RunPythonReference(
      "hf_qwen2.py", {"generate_batches", dir, dir + "/batches.json", std::to_string(longest),
                      std::to_string(torch::get_num_threads()), "0", std::to_string(repeats)}));
  fs::remove_all(dir);
  const double ref_s = ref.at("seconds").get<double>();

  BenchResult r;
  r.value_name = "elimination episodes/s (prefix reuse on)";
  r.value = episodes / on_s;
  r.unit = "episodes/s";
  r.reference = "Python eager PyTorch, every step's prompts from scratch, one batch per step";
  r.reference_value = episodes / ref_s;
  r.ratio = r.value / r.reference_value;
  r.extra = {{"preset", preset},
             {"queries", queries},
             {"group_size", group},
             {"candidates", candidates},
             {"episodes", episodes},
             {"steps", on.steps},
             {"seconds_reuse_on", on_s},
             {"seconds_reuse_off", off_s},
             {"seconds_reference", ref_s},
             {"reuse_on_vs_off", off_s / on_s},
             {"generated_tokens_per_s_reuse_on", on.generated_tokens / on_s},
             {"generated_tokens_per_s_reuse_off", off.generated_tokens / off_s},
             {"prompt_tokens", on.prompt_tokens},
             {"reused_prompt_tokens", on.reused_tokens},
             {"reference_new_tokens_per_prompt", longest}};
  std::cerr << "rollout: " << episodes << " episodes, " << on.steps << " steps; reuse on " << on_s
            << " s, off " << off_s << " s (x" << off_s / on_s << "), Python from scratch " << ref_s
            << " s\n";
  return r;
}

}  // namespace iranker::bench
