// Collective helpers and the gradient bucketer (autograd hooks -> per-bucket non-blocking
// all-reduce, overlapping the rest of backward).
#include "comm/allreduce.h"

#include <c10/util/strides.h>

#include <torch/torch.h>

#include <chrono>
#include <mutex>

#include "base/error.h"

namespace iranker::comm {

void Collective::AllreduceSum(const at::Tensor& t, const std::string& what) {
  StartAllreduceSum(t, what)->Wait();
}

void Collective::AllreduceMean(const at::Tensor& t, const std::string& what) {
  AllreduceSum(t, what);
  t.div_(size());
}

std::unique_ptr<Collective> MakeCollective(const AllreduceOptions& options, bool cuda_params,
                                           int device) {
  std::string b = options.backend;
  if (b == "auto") b = cuda_params && NcclAvailable() ? "nccl" : "mpi";
  if (b == "nccl") return MakeNcclCollective(options, device);
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

struct GradientBucketer::Impl {
  struct Slot {
    int bucket = 0;
    int64_t offset = 0, numel = 0;
    bool ready = false;
    // This pass: the gradient accumulated by earlier micro-batches is already in the bucket
    // (.grad() was the bucket view and has been detached from it, see Begin).
    bool acc_in_bucket = false;
  };
  struct Bucket {
    at::Tensor flat;
    std::vector<int> members;
    int pending = 0;
    std::unique_ptr<PendingCollective> work;
  };

  Collective& coll;
  AllreduceOptions opt;
  std::vector<at::Tensor> params;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  std::vector<unsigned> hooks;
  mutable std::mutex mu;
  const double inv_size;   // 1 / ranks
  at::Tensor inv_size_t;   // the same, a scalar tensor of the gradients' dtype
  bool armed = false;      // guarded by mu
  size_t next_start = 0;   // guarded by mu: buckets start strictly in order (same on all ranks)
  BucketerStats st;        // guarded by mu

  Impl(Collective& c, const std::vector<at::Tensor>& ps, const AllreduceOptions& o)
      : coll(c), opt(o), inv_size(1.0 / c.size()) {
    for (const auto& p : ps)
      if (p.requires_grad()) params.push_back(p);
    IR_CHECK(!params.empty());
    inv_size_t = torch::scalar_tensor(inv_size, params[0].options().requires_grad(false));
    auto dtype = params[0].scalar_type();
    auto device = params[0].device();
    for (const auto& p : params) {
      if (p.scalar_type() != dtype || p.device() != device)
        Fail(ErrorCode::kInvalidArgument, "GradientBucketer needs parameters of one dtype and "
             "device; got ", dtype, "/", device, " and ", p.scalar_type(), "/", p.device());
    }
    const int64_t elem = params[0].element_size();
    const int64_t cap = std::max<int64_t>(1, static_cast<int64_t>(opt.bucket_mb * 1e6) / elem);
    slots.resize(params.size());
    // Reverse order: backward produces the last layers' gradients first.
    std::vector<int64_t> sizes;
    int64_t fill = cap;
    for (int i = static_cast<int>(params.size()) - 1; i >= 0; --i) {
      int64_t n = params[i].numel();
      if (fill + n > cap && fill > 0) {
        buckets.emplace_back();
        sizes.push_back(0);
        fill = 0;
      }
      slots[i] = {static_cast<int>(buckets.size()) - 1, fill, n, false};
      buckets.back().members.push_back(i);
      fill += n;
      sizes.back() = fill;
    }
    for (size_t b = 0; b < buckets.size(); ++b) {
      buckets[b].flat = torch::zeros({sizes[b]}, params[0].options().requires_grad(false));
      st.bytes += sizes[b] * elem;
    }
    st.buckets = static_cast<int>(buckets.size());
    for (size_t i = 0; i < params.size(); ++i)
      hooks.push_back(params[i].register_hook([this, i](const at::Tensor& g) { OnGrad(i, g); }));
  }

  ~Impl() {
    for (size_t i = 0; i < params.size(); ++i) params[i].remove_hook(hooks[i]);
  }

  // params[i]'s slot in its bucket: a tensor sharing the bucket's storage, made with set_ rather
  // than a view op so that autograd does not treat it as a view (Optimizer::zero_grad detach_()es
  // gradients, which autograd refuses for views).
  at::Tensor SlotView(int i) {
    const Slot& s = slots[i];
    const at::Tensor& flat = buckets[s.bucket].flat;
    at::Tensor t = at::empty({0}, flat.options());
    t.set_(flat.storage(), flat.storage_offset() + s.offset, params[i].sizes(),
           c10::contiguous_strides(params[i].sizes()));
    return t;
  }

  // Whether params[i].grad() is its bucket view (as FinishBackward leaves it).
  bool GradIsSlotView(int i) {
    const at::Tensor& g = params[i].grad();
    const Slot& s = slots[i];
    return g.defined() && g.is_contiguous() && g.numel() == s.numel &&
           g.data_ptr() == static_cast<char*>(buckets[s.bucket].flat.data_ptr()) + s.offset * g.element_size();
  }

  void OnGrad(size_t i, const at::Tensor& g) {
    torch::NoGradGuard no_grad;
    std::lock_guard<std::mutex> lock(mu);
    if (!armed) return;
    Slot& s = slots[i];
    at::Tensor view = SlotView(static_cast<int>(i));
    // Slots hold gradient / world size, so that the sum over ranks is the mean: the scaling rides
    // on the copy into the bucket instead of costing a pass over the reduced buckets.
    if (s.ready) {  // a second gradient for the same parameter in this pass
      view.add_(g, inv_size);
    } else if (s.acc_in_bucket) {  // earlier micro-batches' sum is in the slot, unscaled
      view.add_(g).mul_(inv_size);
    } else if (const at::Tensor& acc = params[i].grad(); acc.defined()) {
      torch::add_out(view, g, acc).mul_(inv_size);
    } else {
      ScaleInto(view, g);
    }
    if (s.ready) return;
    s.ready = true;
    if (--buckets[s.bucket].pending == 0) StartReady(/*in_backward=*/true);
  }

  void ScaleInto(at::Tensor& view, const at::Tensor& g) {
    if (inv_size == 1.0)
      view.copy_(g);
    else
      torch::mul_out(view, g, inv_size_t);
  }

  void StartReady(bool in_backward) {  // mu held
    while (next_start < buckets.size() && buckets[next_start].pending == 0) {
      Bucket& b = buckets[next_start];
      b.work = coll.StartAllreduceSum(
          b.flat, "gradient bucket " + std::to_string(next_start + 1) + "/" +
                      std::to_string(buckets.size()) + " (" +
                      std::to_string(b.flat.nbytes() / 1e6) + " MB)");
      if (in_backward) ++st.buckets_started_in_backward;
      ++next_start;
    }
    // Let earlier buckets progress (MPI advances non-blocking collectives inside its calls).
    for (size_t k = 0; k < next_start; ++k)
      if (buckets[k].work) buckets[k].work->Test();
  }

  void Begin() {
    std::lock_guard<std::mutex> lock(mu);
    IR_CHECK(!armed);
    // Gradients left as bucket views by the last FinishBackward (and accumulated into in place by
    // micro-batches since): detach them, so autograd's accumulation into .grad() cannot write into
    // a bucket while it is being reduced; the hook adds this pass's gradient to the bucket instead.
    for (size_t i = 0; i < params.size(); ++i) {
      slots[i].ready = false;
      slots[i].acc_in_bucket = GradIsSlotView(static_cast<int>(i));
      if (slots[i].acc_in_bucket) params[i].mutable_grad() = at::Tensor();
    }
    for (auto& b : buckets) {
      b.pending = static_cast<int>(b.members.size());
      b.work.reset();
    }
    next_start = 0;
    st.buckets_started_in_backward = 0;
    armed = true;
  }

  void Finish() {
    torch::NoGradGuard no_grad;
    {
      std::lock_guard<std::mutex> lock(mu);
      IR_CHECK(armed);
      for (size_t i = 0; i < params.size(); ++i) {
        Slot& s = slots[i];
        if (s.ready) continue;
        at::Tensor view = SlotView(static_cast<int>(i));
        const at::Tensor& acc = params[i].grad();
        if (s.acc_in_bucket) {
          view.mul_(inv_size);  // the accumulated gradient is in the slot already
        } else if (acc.defined()) {
          ScaleInto(view, acc);
        } else {
          view.zero_();
        }
        s.ready = true;
        --buckets[s.bucket].pending;
      }
      StartReady(/*in_backward=*/false);
      armed = false;
    }
    auto t0 = std::chrono::steady_clock::now();
    for (auto& b : buckets) {
      b.work->Wait();
      b.work.reset();
    }
    // Every .grad() becomes its slot of the averaged bucket: no copy out (PyTorch DDP's
    // gradient_as_bucket_view). The optimizer and clipping then work on the buckets in place.
    for (size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = SlotView(static_cast<int>(i));
    std::lock_guard<std::mutex> lock(mu);
    st.finish_wait_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};

GradientBucketer::GradientBucketer(Collective& collective, const std::vector<at::Tensor>& params,
                                   const AllreduceOptions& options)
    : impl_(std::make_unique<Impl>(collective, params, options)) {}
GradientBucketer::~GradientBucketer() = default;
void GradientBucketer::BeginBackward() { impl_->Begin(); }
void GradientBucketer::FinishBackward() { impl_->Finish(); }
BucketerStats GradientBucketer::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->st;
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
  std::unique_ptr<PendingCollective> StartAllreduceSum(const at::Tensor&, const std::string&) override {
    return std::make_unique<DonePending>();
  }
  void Broadcast(const at::Tensor&, int, const std::string&) override {}
  void BroadcastBytes(std::string*, int, const std::string&) override {}
  void Barrier(const std::string&) override {}
  void AllreduceSumDoubles(std::vector<double>*, const std::string&) override {}
};
}  // namespace

std::unique_ptr<Collective> MakeLocalCollective() { return std::make_unique<LocalCollective>(); }

}  // namespace iranker::comm
