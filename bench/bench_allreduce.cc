// `mpirun -np N iranker bench allreduce`: one backward pass's gradients reduced through
// GradientBucketer (buckets started from autograd hooks, MPI_Iallreduce, averaged) vs one bare
// MPI_Allreduce of the same total bytes, both after the same backward. value = gradient GB/s
// (bytes / time, 1e9); ratio = bare time / bucketed time. Params: mb=total gradient MB (default
// 100, quick 16), tensor_mb=size of each parameter (4), bucket_mb (25), inplace_mb (the config
// default, 1: 4 MB gradients are reduced where autograd left them), grads=none (each step starts
// with .grad() undefined) or zeroed (zeroed in place, as the learner's optimizer does; backward
// then accumulates into them). Also reported: backward alone, the bare all-reduce alone and the
// bucketer's collectives alone. Without mpirun it runs on one rank.
//
// Each timed phase first runs at least kMinWarmup untimed passes (more with --warmup): a process's
// first passes over fresh memory are several times slower than the steady state (measured on a
// 2-core VM: 576, 283, 162, 85, 58 ms before settling at ~40 ms), which a median of 11 repeats
// after one warm-up pass still catches. The first pass of the bucketed phase is reported as
// `bucketed_first_pass_seconds`.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <torch/torch.h>

#include <chrono>

#include "base/error.h"
#include "bench/all.h"
#include "collective/bucketer.h"
#include "collective/collective.h"

namespace iranker::bench {

BenchResult RunAllreduce(const BenchArgs& args) {
  static collective::MpiSession mpi(nullptr, nullptr);  // lives until exit: MPI is initialised once
  double total_mb = std::stod(args.Param("mb", args.quick ? "16" : "100"));
  double tensor_mb = std::stod(args.Param("tensor_mb", "4"));
  collective::AllreduceOptions o;
  o.backend = collective::AllreduceBackend::kMpi;
  o.bucket_mb = std::stod(args.Param("bucket_mb", "25"));
  o.inplace_mb = std::stod(args.Param("inplace_mb", std::to_string(o.inplace_mb)));
  const std::string grads = args.Param("grads", "none");
  if (grads != "none" && grads != "zeroed")
    Fail(ErrorCode::kInvalidArgument, "bench allreduce: grads must be none or zeroed, not '", grads,
         "'");
  o.timeout_ms = 120000;
  auto coll = collective::MakeMpiCollective(o);
  int64_t per = static_cast<int64_t>(tensor_mb * 1e6 / 4);
  int n = std::max<int>(1, static_cast<int>(total_mb / tensor_mb));
  std::vector<torch::Tensor> params;
  for (int i = 0; i < n; ++i) params.push_back(torch::randn({per}).requires_grad_(true));
  int64_t bytes = static_cast<int64_t>(n) * per * 4;
  auto coef = torch::randn({per});
  collective::GradientBucketer bucketer(*coll, params, o);

  auto reset_grads = [&] {
    for (auto& p : params) {
      if (grads == "none")
        p.mutable_grad() = torch::Tensor();
      else if (p.grad().defined())
        p.mutable_grad().zero_();
    }
  };
  std::vector<double> backward_s, wait_s;  // of the bucketed runs: backward, then waiting
  auto bucketed = [&] {
    reset_grads();
    auto t0 = std::chrono::steady_clock::now();
    bucketer.BeginBackward();
    torch::Tensor loss = torch::zeros({});
    for (auto& p : params) loss = loss + (p * coef).sum();
    loss.backward();
    backward_s.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    bucketer.FinishBackward();
    wait_s.push_back(bucketer.stats().finish_wait_seconds);
  };
  auto flat = torch::randn({static_cast<int64_t>(n) * per});
  auto bare = [&] {
    // The same backward, then one blocking all-reduce of all gradient bytes.
    reset_grads();
    torch::Tensor loss = torch::zeros({});
    for (auto& p : params) loss = loss + (p * coef).sum();
    loss.backward();
    MPI_Allreduce(MPI_IN_PLACE, flat.data_ptr(), static_cast<int>(flat.numel()), MPI_FLOAT, MPI_SUM,
                  MPI_COMM_WORLD);
  };
  constexpr int kMinWarmup = 5;
  const int warmup = std::max(args.warmup, kMinWarmup);
  auto timed = [&](const std::function<void()>& fn) {
    return MedianSeconds(
        [&] {
          MPI_Barrier(MPI_COMM_WORLD);
          fn();
        },
        warmup, args.repeats);
  };
  auto first0 = std::chrono::steady_clock::now();
  MPI_Barrier(MPI_COMM_WORLD);
  bucketed();
  const double t_first =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - first0).count();
  double tb = timed(bucketed), tr = timed(bare);
  // Components, to read the ratio: backward alone, the blocking all-reduce alone, and the
  // bucketer's non-blocking reductions of the same buckets alone.
  double t_backward = timed([&] {
    reset_grads();
    torch::Tensor loss = torch::zeros({});
    for (auto& p : params) loss = loss + (p * coef).sum();
    loss.backward();
  });
  double t_bare_reduce = timed([&] {
    MPI_Allreduce(MPI_IN_PLACE, flat.data_ptr(), static_cast<int>(flat.numel()), MPI_FLOAT, MPI_SUM,
                  MPI_COMM_WORLD);
  });
  // The bucketer's collectives: one per gradient when they are reduced in place, else per bucket.
  const bool direct = o.inplace_mb > 0 && per * 4 >= static_cast<int64_t>(o.inplace_mb * 1e6);
  std::vector<torch::Tensor> pieces =
      flat.split(direct ? per : static_cast<int64_t>(o.bucket_mb * 1e6 / 4));
  double t_nb_reduce = timed([&] {
    std::vector<std::unique_ptr<collective::PendingCollective>> w;
    for (auto& piece : pieces) w.push_back(coll->StartAllreduceSum(piece, "piece"));
    for (auto& x : w) x->Wait();
  });
  auto st = bucketer.stats();
  // The bucketed phase's timed passes are the last `repeats` ones recorded.
  auto timed_tail = [&](const std::vector<double>& v) {
    const size_t n = std::min(v.size(), static_cast<size_t>(std::max(1, args.repeats)));
    return std::vector<double>(v.end() - static_cast<std::ptrdiff_t>(n), v.end());
  };
  BenchResult r;
  r.value_name = "bucketed gradient all-reduce (backward + reduce)";
  r.unit = "GB/s";
  r.value = bytes / tb / 1e9;
  r.reference = "backward + one bare MPI_Allreduce of the same bytes";
  r.reference_value = bytes / tr / 1e9;
  r.ratio = tr / tb;
  r.extra = {{"ranks", coll->size()},
             {"grads", grads},
             {"bytes", bytes},
             {"buckets", st.buckets},
             {"buckets_started_in_backward", st.buckets_started_in_backward},
             {"inplace_gradients", st.inplace_gradients},
             {"copied_bytes", st.copied_bytes},
             {"warmup", warmup},
             {"bucketed_first_pass_seconds", t_first},
             {"bucketed_seconds", tb},
             {"bucketed_backward_seconds", Median(timed_tail(backward_s))},
             {"bucketed_finish_wait_seconds", Median(timed_tail(wait_s))},
             {"bare_seconds", tr},
             {"backward_only_seconds", t_backward},
             {"bare_allreduce_only_seconds", t_bare_reduce},
             {"bucket_allreduces_only_seconds", t_nb_reduce},
             {"definition", "gradient bytes per rank / wall time of backward plus reduction"}};
  return r;
}

}  // namespace iranker::bench
