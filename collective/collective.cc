// The collective interface's shared parts: the blocking helpers, the back-end choice, the global
// norm, and the world of one process (`train --local`).
#include "collective/collective.h"

#include <torch/torch.h>

#include <cmath>

#include "base/error.h"

namespace iranker::collective {

void Collective::AllreduceSum(const at::Tensor& t, const std::string& what) {
  StartAllreduceSum(t, what)->Wait();
}

void Collective::ReduceScatterSum(const at::Tensor& in, const at::Tensor& out,
                                  const std::string& what) {
  StartReduceScatterSum(in, out, what)->Wait();
}

void Collective::AllGather(const at::Tensor& in, const at::Tensor& out, const std::string& what) {
  StartAllGather(in, out, what)->Wait();
}

void Collective::AllreduceMean(const at::Tensor& t, const std::string& what) {
  AllreduceSum(t, what);
  t.div_(size());
}

std::unique_ptr<Collective> MakeCollective(const AllreduceOptions& options, bool cuda_params,
                                           int device) {
  AllreduceBackend b = options.backend;
  if (b == AllreduceBackend::kAuto)
    b = cuda_params && NcclAvailable() ? AllreduceBackend::kNccl : AllreduceBackend::kMpi;
  if (b == AllreduceBackend::kNccl) return MakeNcclCollective(options, device);
  if (cuda_params)
    Fail(ErrorCode::kFailedPrecondition,
         "CUDA parameters need the NCCL all-reduce back-end, which this build lacks");
  return MakeMpiCollective(options);
}

double GlobalL2Norm(Collective& c, const std::vector<at::Tensor>& local) {
  double sq = 0;
  for (const auto& t : local)
    if (t.defined()) sq += t.detach().to(torch::kDouble).pow(2).sum().item<double>();
  std::vector<double> v{sq};
  c.AllreduceSumDoubles(&v, "global grad norm");
  return std::sqrt(v[0]);
}

namespace {
class DonePending : public PendingCollective {
 public:
  bool Test() override { return true; }
  void Wait() override {}
};

class LocalCollective : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "local"; }
  std::unique_ptr<PendingCollective> StartAllreduceSum(const at::Tensor&,
                                                       const std::string&) override {
    return std::make_unique<DonePending>();
  }
  std::unique_ptr<PendingCollective> StartReduceScatterSum(const at::Tensor& in,
                                                           const at::Tensor& out,
                                                           const std::string&) override {
    IR_CHECK_EQ(in.numel(), out.numel());
    out.view({-1}).copy_(in.view({-1}));
    return std::make_unique<DonePending>();
  }
  std::unique_ptr<PendingCollective> StartAllGather(const at::Tensor& in, const at::Tensor& out,
                                                    const std::string&) override {
    IR_CHECK_EQ(in.numel(), out.numel());
    out.view({-1}).copy_(in.view({-1}));
    return std::make_unique<DonePending>();
  }
  void Broadcast(const at::Tensor&, int, const std::string&) override {}
  void BroadcastBytes(std::string*, int, const std::string&) override {}
  void Barrier(const std::string&) override {}
  void AllreduceSumDoubles(std::vector<double>*, const std::string&) override {}
};
}  // namespace

std::unique_ptr<Collective> MakeLocalCollective() { return std::make_unique<LocalCollective>(); }

}  // namespace iranker::collective
