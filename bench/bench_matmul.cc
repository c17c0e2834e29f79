// `iranker bench matmul`: the machine's fp32 matrix-multiply throughput through libtorch, against
// numpy (OpenBLAS) doing the same products in the same run. A ratio far below 1 means libtorch is
// not reaching an optimised BLAS (Debian: install libopenblas0-openmp). The value is also the peak
// that model FLOP utilisation (MFU) figures are measured against.
#include <torch/torch.h>

#include "bench/all.h"
#include "bench/bench.h"

namespace iranker::bench {

BenchResult RunMatmul(const BenchArgs& args) {
  const int64_t n = std::stoll(args.Param("n", args.quick ? "256" : "1024"));
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  auto a = torch::randn({n, n});
  auto b = torch::randn({n, n});
  auto c = torch::empty({n, n});
  const int inner = std::max<int64_t>(1, (int64_t(1) << 31) / (n * n * n));  // ~2 GFLOP per repeat
  double sec = MedianSeconds(
      [&] {
        for (int i = 0; i < inner; ++i) torch::mm_out(c, a, b);
      },
      args.warmup, args.repeats);
  const double flops = 2.0 * n * n * n * inner;
  BenchResult r;
  r.value_name = "libtorch fp32 matmul throughput";
  r.value = flops / sec / 1e9;
  r.unit = "GFLOP/s";
  r.reference = "numpy (OpenBLAS) fp32 matmul, same size and threads";
  std::string out =
      RunPythonReference("matmul.py", {std::to_string(n), std::to_string(torch::get_num_threads()),
                                       std::to_string(args.warmup), std::to_string(args.repeats)});
  r.reference_value = std::stod(out);
  r.ratio = r.value / r.reference_value;
  r.extra = {{"n", n}, {"threads", torch::get_num_threads()}};
  return r;
}

}  // namespace iranker::bench
