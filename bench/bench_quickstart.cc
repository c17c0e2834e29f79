// `iranker bench quickstart`: the quickstart configuration trained with two seeds (--local: the
// same trajectories and updates as under mpirun); held-out MRR of the trained policies vs the
// initial ones, averaged over the seeds so one lucky seed cannot carry it.
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
  double initial = 0, trained = 0, random = 0, seconds = 0;
  for (uint64_t seed : seeds) {
    const std::string dir = root + "/seed-" + std::to_string(seed);
    fs::remove_all(dir);
    std::vector<std::string> overrides = {"run.seed=" + std::to_string(seed), "run.dir=" + dir,
                                          "run.log_level=warn"};
    if (args.quick) overrides.push_back("train.steps=6");
    Config config = LoadConfig(config_path, overrides);
    const auto t0 = std::chrono::steady_clock::now();
    TrainResult r = TrainLocal(config);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double i = r.initial.MeanOf("policy", "mrr"), t = r.final.MeanOf("policy", "mrr"),
                 rnd = r.final.MeanOf("random", "mrr");
    std::cerr << "seed " << seed << ": initial MRR " << i << ", trained " << t << " (+" << t - i
              << "), random " << rnd << ", " << s << " s\n";
    per_seed.push_back({{"seed", seed},
                        {"initial_mrr", i},
                        {"trained_mrr", t},
                        {"random_mrr", rnd},
                        {"trained_ndcg@10", r.final.MeanOf("policy", "ndcg@10")},
                        {"trained_hit@1", r.final.MeanOf("policy", "hit@1")},
                        {"seconds", s}});
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
      {"random_mrr", random / n},
      {"seeds", per_seed},
      {"seconds_per_run", seconds / n},
      {"config", config_path},
      {"definition",
       "--local training of the quickstart config per seed; gain = trained - initial MRR"}};
  return res;
}

}  // namespace iranker::bench
