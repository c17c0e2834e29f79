// `iranker bench generate`: greedy generation throughput of iranker's engine on a ragged batch
// (the `small` preset, random weights), against bench/reference/hf_qwen2.py — the same architecture
// written the way transformers writes it (eager PyTorch, left padding, KV cache grown by cat) —
// on the same checkpoint, prompts, new-token count and thread count, in the same run.
//
// Figures: generated tokens/s = batch * new_tokens / median wall time of the whole generate call
// (prefill included). `agreement` is the fraction of generated tokens equal between the two
// (greedy decoding of the same weights: a cross-check of the numerics).
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "bench/all.h"
#include "bench/bench.h"
#include "model/checkpoint.h"
#include "model/generate.h"

namespace iranker::bench {

BenchResult RunGenerate(const BenchArgs& args) {
  const std::string preset = args.Param("preset", args.quick ? "tiny" : "small");
  const int batch = std::stoi(args.Param("batch", args.quick ? "4" : "8"));
  const int new_tokens = std::stoi(args.Param("new_tokens", args.quick ? "8" : "64"));
  const int min_len = std::stoi(args.Param("min_prompt", args.quick ? "16" : "96"));
  const int max_len = std::stoi(args.Param("max_prompt", args.quick ? "48" : "480"));

  torch::manual_seed(0);
  auto model = std::make_shared<DecoderLM>(PresetConfig(preset));
  model->eval();
  const auto dir =
      (std::filesystem::temp_directory_path() / ("iranker_bench_gen_" + std::to_string(::getpid())))
          .string();
  MakeDirs(dir);
  SaveModel(*model, dir);

  // Ragged prompts: lengths spread evenly between min_len and max_len, random tokens.
  std::vector<std::vector<int32_t>> prompts;
  auto gen = at::detail::createCPUGenerator(1);
  for (int b = 0; b < batch; ++b) {
    int len = batch > 1 ? min_len + (max_len - min_len) * b / (batch - 1) : max_len;
    auto t = torch::randint(model->config().vocab_size, {len}, gen, torch::kInt64);
    prompts.emplace_back(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + len);
  }
  EngineOptions opts;
  opts.slots = batch;
  opts.max_seq_len = max_len + new_tokens + 8;
  GenerationEngine engine(*model, opts);
  std::vector<GenerationResult> results;
  double sec = MedianSeconds(
      [&] {
        engine.InvalidateCache();  // no reuse across repeats: every repeat does the full work
        for (int b = 0; b < batch; ++b) {
          GenerationRequest r;
          r.id = b;
          r.prompt = prompts[b];
          r.params.greedy = true;
          r.params.max_new_tokens = new_tokens;
          engine.Submit(r);
        }
        results = engine.RunAll();
      },
      args.warmup, args.repeats);

  const std::string prompts_file = dir + "/prompts.json";
  WriteFileAtomic(prompts_file, nlohmann::json(prompts).dump());
  auto ref = nlohmann::json::parse(RunPythonReference(
      "hf_qwen2.py", {"generate", dir, prompts_file, std::to_string(new_tokens),
                      std::to_string(torch::get_num_threads()), std::to_string(args.warmup),
                      std::to_string(args.repeats)}));
  std::filesystem::remove_all(dir);
  int64_t same = 0, total = 0;
  for (int b = 0; b < batch; ++b) {
    auto ref_toks = ref["tokens"][b].get<std::vector<int32_t>>();
    for (size_t t = 0; t < ref_toks.size() && t < results[b].tokens.size(); ++t)
      same += ref_toks[t] == results[b].tokens[t];
    total += new_tokens;
  }
  BenchResult r;
  r.value_name = "greedy generation, ragged batch, generated tokens/s (prefill included)";
  r.value = batch * new_tokens / sec;
  r.unit = "tokens/s";
  r.reference =
      "transformers-style eager PyTorch (bench/reference/hf_qwen2.py), same weights/batch/threads";
  r.reference_value = batch * new_tokens / ref["seconds"].get<double>();
  r.ratio = r.value / r.reference_value;
  r.extra = {{"preset", preset},
             {"batch", batch},
             {"new_tokens", new_tokens},
             {"prompt_tokens",
              [&] {
                int64_t n = 0;
                for (auto& p : prompts) n += p.size();
                return n;
              }()},
             {"threads", torch::get_num_threads()},
             {"agreement", double(same) / total},
             {"seconds", sec},
             {"reference_seconds", ref["seconds"]}};
  return r;
}

}  // namespace iranker::bench
