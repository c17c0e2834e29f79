#include "learner/data_parallel.h"

#include <torch/torch.h>

namespace iranker {

void CollectiveDataParallel::BeforeLastBackward(const std::vector<at::Tensor>& params) {
  if (collective::GradientBucketer* b = BucketerFor(params)) {
    b->BeginBackward();
    armed_ = b;
  }
}

void CollectiveDataParallel::AverageGradients(const std::vector<at::Tensor>& params) {
  collective::GradientBucketer* b = BucketerFor(params);
  if (b) {
    // A rank without micro-batches this step never armed it; every rank still reduces every
    // bucket, in the same order.
    if (armed_ != b) b->BeginBackward();
    armed_ = nullptr;
    b->FinishBackward();
    const collective::BucketerStats st = b->stats();
    last_ = {{"grad_buckets", st.buckets},
             {"grad_buckets_overlapped", st.buckets_started_in_backward},
             {"grad_allreduce_wait_s", st.finish_wait_seconds},
             {"grad_copied_mb", st.copied_bytes / 1e6}};
    return;
  }
  FlatAverage(params);
  last_.clear();
}

double CollectiveDataParallel::SumScalar(double x) {
  std::vector<double> v = {x};
  c_.AllreduceSumDoubles(&v, "learner scalar");
  return v[0];
}

collective::GradientBucketer* CollectiveDataParallel::BucketerFor(
    const std::vector<at::Tensor>& params) {
  if (params.empty()) return nullptr;
  const void* key = params.front().unsafeGetTensorImpl();
  auto it = bucketers_.find(key);
  if (it == bucketers_.end()) {
    std::unique_ptr<collective::GradientBucketer> b;
    bool uniform = true;
    for (const auto& p : params)
      uniform =
          uniform && p.scalar_type() == params[0].scalar_type() && p.device() == params[0].device();
    if (uniform) b = std::make_unique<collective::GradientBucketer>(c_, params, opt_);
    it = bucketers_.emplace(key, std::move(b)).first;
  }
  return it->second.get();
}

void CollectiveDataParallel::FlatAverage(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> grads;
  for (const auto& p : params) {
    at::Tensor g = p.grad();
    grads.push_back(g.defined() ? g.reshape({-1}).to(torch::kFloat)
                                : torch::zeros({p.numel()}, torch::kFloat));
  }
  at::Tensor flat = torch::cat(grads).contiguous();
  c_.AllreduceMean(flat, "gradients");
  int64_t off = 0;
  for (const auto& p : params) {
    const int64_t n = p.numel();
    at::Tensor g = flat.slice(0, off, off + n).view(p.sizes()).to(p.scalar_type());
    if (p.grad().defined())
      p.mutable_grad().copy_(g);
    else
      p.mutable_grad() = g.clone();
    off += n;
  }
}

}  // namespace iranker
