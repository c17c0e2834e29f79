#include "bench/all.h"

namespace iranker::bench {

const std::vector<Benchmark>& AllBenchmarks() {
  static const std::vector<Benchmark> all = {
      {"matmul", "fp32 matmul GFLOP/s through libtorch vs numpy/OpenBLAS (the MFU peak)",
       RunMatmul},
      {"generate",
       "greedy generation tokens/s, ragged batch, small preset, vs transformers-style PyTorch",
       RunGenerate},
      {"learner",
       "PPO learner step tokens/s and MFU, small preset, vs the same step in Python/PyTorch",
       RunLearner},
      {"tokenize",
       "Qwen tokenizer encode tokens/s on the parity corpus vs the JavaScript reference "
       "(transformers.js)",
       RunTokenize},
      {"stream", "trajectory bytes/s actor -> learner over loopback TCP vs bare ZeroMQ PUSH/PULL",
       RunStream},
      {"allreduce", "bucketed gradient all-reduce (run under mpirun) vs one bare MPI_Allreduce",
       RunAllreduce},
      {"sharding",
       "per-rank model state and step time of each learner.sharding level vs none (under mpirun)",
       RunSharding},
      {"weights",
       "weight broadcast GB/s to 1, 2, 4 actors vs a bare ZeroMQ transfer of the same bytes",
       RunWeights},
      {"rollout",
       "elimination episodes/s, small preset, prefix reuse on vs off and vs Python from scratch",
       RunRollout},
      {"quickstart", "quickstart (SFT then RL), two seeds: trained vs initial held-out MRR",
       RunQuickstart},
      {"trajlog", "trajectory log: learner-loop overhead (quickstart) and writer MB/s vs bare HDF5",
       RunTrajlog},
  };
  return all;
}

}  // namespace iranker::bench
