// `mpirun -np N iranker bench allreduce`: one backward pass's gradients reduced through
// GradientBucketer (buckets started from autograd hooks, MPI_Iallreduce, averaged) vs one bare
// MPI_Allreduce of the same total bytes. value = gradient GB/s (bytes / time, 1e9); ratio =
// bare time / bucketed time. Params: mb=total gradient MB (default 100, quick 16),
// tensor_mb=size of each parameter (4), bucket_mb (25). Without mpirun it runs on one rank.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <torch/torch.h>

#include <chrono>

#include "bench/all.h"
#include "comm/allreduce.h"

namespace iranker::bench {

BenchResult RunAllreduce(const BenchArgs& args) {
  static comm::MpiSession mpi(nullptr, nullptr);  // lives until exit: MPI is initialised once
  double total_mb = std::stod(args.Param("mb", args.quick ? "16" : "100"));
  double tensor_mb = std::stod(args.Param("tensor_mb", "4"));
  comm::AllreduceOptions o;
  o.backend = "mpi";
  o.bucket_mb = std::stod(args.Param("bucket_mb", "25"));
  o.timeout_ms = 120000;
  auto coll = comm::MakeMpiCollective(o);
  int64_t per = static_cast<int64_t>(tensor_mb * 1e6 / 4);
  int n = std::max<int>(1, static_cast<int>(total_mb / tensor_mb));
  std::vector<torch::Tensor> params;
  for (int i = 0; i < n; ++i) params.push_back(torch::randn({per}).requires_grad_(true));
  int64_t bytes = static_cast<int64_t>(n) * per * 4;
  auto coef = torch::randn({per});
  comm::GradientBucketer bucketer(*coll, params, o);

  std::vector<double> backward_s, wait_s;  // of the bucketed runs: backward, then waiting
  auto bucketed = [&] {
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    auto t0 = std::chrono::steady_clock::now();
    bucketer.BeginBackward();
    torch::Tensor loss = torch::zeros({});
    for (auto& p : params) loss = loss + (p * coef).sum();
    loss.backward();
    backward_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    bucketer.FinishBackward();
    wait_s.push_back(bucketer.stats().finish_wait_seconds);
  };
  auto flat = torch::randn({static_cast<int64_t>(n) * per});
  auto bare = [&] {
    // The same backward, then one blocking all-reduce of all gradient bytes.
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    torch::Tensor loss = torch::zeros({});
    for (auto& p : params) loss = loss + (p * coef).sum();
    loss.backward();
    MPI_Allreduce(MPI_IN_PLACE, flat.data_ptr(), static_cast<int>(flat.numel()), MPI_FLOAT,
                  MPI_SUM, MPI_COMM_WORLD);
  };
  auto timed = [&](const std::function<void()>& fn) {
    return MedianSeconds([&] {
      MPI_Barrier(MPI_COMM_WORLD);
      fn();
    }, args.warmup, args.repeats);
  };
  double tb = timed(bucketed), tr = timed(bare);
  auto st = bucketer.stats();
  BenchResult r;
  r.value_name = "bucketed gradient all-reduce (backward + reduce)";
  r.unit = "GB/s";
  r.value = bytes / tb / 1e9;
  r.reference = "backward + one bare MPI_Allreduce of the same bytes";
  r.reference_value = bytes / tr / 1e9;
  r.ratio = tr / tb;
  r.extra = {{"ranks", coll->size()},
             {"bytes", bytes},
             {"buckets", st.buckets},
             {"buckets_started_in_backward", st.buckets_started_in_backward},
             {"bucketed_seconds", tb},
             {"bucketed_backward_seconds", Median(backward_s)},
             {"bucketed_finish_wait_seconds", Median(wait_s)},
             {"bare_seconds", tr},
             {"definition", "gradient bytes per rank / wall time of backward plus reduction"}};
  return r;
}

}  // namespace iranker::bench
