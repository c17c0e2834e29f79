// `iranker bench quickstart`: the quickstart's two stages trained with two seeds (--local: the
// same trajectories and updates as under mpirun): supervised fine-tuning (-p sft_config, default
// configs/quickstart_sft.yaml; "none" skips it), then RL from its checkpoint (-p config). Held-out
// MRR of the initial, fine-tuned and trained policies, and BM25's, averaged over the seeds so one
// lucky seed cannot carry it; the gains of each stage per seed and on average.
#include <chrono>
#include <filesystem>
#include <iostream>

#include "base/error.h"
#include "bench/all.h"
#include "trainer/config_io.h"
#include "trainer/local.h"

namespace iranker::bench {
namespace fs = std::filesystem;

BenchResult RunQuickstart(const BenchArgs& args) {
  const std::string config_path = args.Param("config", "configs/quickstart.yaml");
  if (!fs::exists(config_path))
    Fail(ErrorCode::kNotFound, config_path,
         ": not found (run from the source tree or pass -p config=PATH)");
  const std::string sft_path = args.Param("sft_config", "configs/quickstart_sft.yaml");
  const bool sft_stage = sft_path != "none";
  if (sft_stage && !fs::exists(sft_path))
    Fail(ErrorCode::kNotFound, sft_path,
         ": not found (run from the source tree, pass -p sft_config=PATH, or none)");
  const std::string seeds_param = args.Param("seeds", "1,2");
  std::vector<uint64_t> seeds;
  for (size_t at = 0; at < seeds_param.size();) {
    size_t end = seeds_param.find(',', at);
    if (end == std::string::npos) end = seeds_param.size();
    seeds.push_back(std::stoull(seeds_param.substr(at, end - at)));
    at = end + 1;
  }
  const std::string root =
      args.Param("dir", (fs::temp_directory_path() / "iranker-bench-quickstart").string());
  nlohmann::json per_seed = nlohmann::json::array();
  double initial = 0, sft = 0, trained = 0, random = 0, bm25 = 0, seconds = 0;
  for (uint64_t seed : seeds) {
    const std::string dir = root + "/seed-" + std::to_string(seed);
    fs::remove_all(dir);
    std::vector<std::string> overrides = {"run.seed=" + std::to_string(seed), "run.dir=" + dir,
                                          "run.log_level=warn"};
    if (args.quick) overrides.push_back("train.steps=6");
    const auto t0 = std::chrono::steady_clock::now();
    double i = 0, f = 0;
    if (sft_stage) {
      std::vector<std::string> o = overrides;
      o.push_back("run.dir=" + dir + "/sft");
      TrainResult r = TrainLocal(LoadConfig(sft_path, o));
      i = r.initial.MeanOf("policy", "mrr");
      f = r.final.MeanOf("policy", "mrr");
      overrides.push_back("model.path=" + r.final_checkpoint);
    }
    Config config = LoadConfig(config_path, overrides);
    TrainResult r = TrainLocal(config);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!sft_stage) i = f = r.initial.MeanOf("policy", "mrr");
    const double t = r.final.MeanOf("policy", "mrr"), rnd = r.final.MeanOf("random", "mrr"),
                 b = r.final.MeanOf("bm25", "mrr");
    std::cerr << "seed " << seed << ": initial MRR " << i << ", after SFT " << f << " (+" << f - i
              << "), after RL " << t << " (+" << t - f << "), BM25 " << b << ", random " << rnd
              << ", " << s << " s\n";
    per_seed.push_back({{"seed", seed},
                        {"initial_mrr", i},
                        {"sft_mrr", f},
                        {"trained_mrr", t},
                        {"sft_gain", f - i},
                        {"rl_gain", t - f},
                        {"bm25_mrr", b},
                        {"random_mrr", rnd},
                        {"trained_ndcg@10", r.final.MeanOf("policy", "ndcg@10")},
                        {"trained_hit@1", r.final.MeanOf("policy", "hit@1")},
                        {"seconds", s}});
    sft += f, bm25 += b;
    initial += i, trained += t, random += rnd, seconds += s;
  }
  const double n = static_cast<double>(seeds.size());
  BenchResult res;
  res.value_name = "held-out MRR of the trained policy (mean over seeds)";
  res.value = trained / n;
  res.unit = "MRR";
  res.reference = "the initial policy's MRR (same seeds)";
  res.reference_value = initial / n;
  res.ratio = res.value / std::max(1e-9, res.reference_value);
  res.extra = {
      {"mrr_gain", (trained - initial) / n},
      {"sft_mrr", sft / n},
      {"sft_gain", (sft - initial) / n},
      {"rl_gain", (trained - sft) / n},
      {"bm25_mrr", bm25 / n},
      {"random_mrr", random / n},
      {"seeds", per_seed},
      {"seconds_per_run", seconds / n},
      {"config", config_path},
      {"sft_config", sft_path},
      {"definition",
       "--local training per seed: SFT (sft_config), then RL (config) from its checkpoint; "
       "sft_gain = after SFT - initial, rl_gain = after RL - after SFT, mrr_gain = after RL - "
       "initial MRR"}};
  return res;
}

}  // namespace iranker::bench
