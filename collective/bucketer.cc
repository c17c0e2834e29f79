// The gradient bucketer: autograd hooks -> per-bucket non-blocking all-reduce, overlapping the
// rest of backward.
#include "collective/bucketer.h"

#include <c10/util/strides.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "base/error.h"
#include "base/mutex.h"

namespace iranker::collective {

struct GradientBucketer::Impl {
  struct Slot {
    int bucket = 0;
    int64_t offset = 0, numel = 0;  // flat buckets: where the gradient sits in the bucket
    bool direct = false;            // a collective of its own, in place in .grad() when safe
    bool ready = false;             // this pass's gradient is where its collective reads it
    bool grad_at_begin = false;     // .grad() was defined when this pass was armed
    // Direct slots: the memory the last FinishBackward left in .grad(). A weak reference: it
    // does not keep the memory alive, and its identity cannot be taken by a later allocation.
    c10::weak_intrusive_ptr<c10::StorageImpl> home{c10::intrusive_ptr<c10::StorageImpl>()};
  };
  struct Bucket {
    at::Tensor flat;  // flat buckets: the buffer the members' gradients are copied into
    std::vector<int> members;
    int pending = 0;
    at::Tensor target;  // this pass: what is reduced (the flat buffer, or a direct gradient)
    std::unique_ptr<PendingCollective> work;
  };

  Collective& coll;
  AllreduceOptions opt;
  std::vector<at::Tensor> params;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;  // in the order their collectives start (the same on all ranks)
  std::vector<at::Tensor> own;  // direct slots whose .grad() cannot be reduced in place
  std::vector<unsigned> hooks;
  std::vector<std::shared_ptr<torch::autograd::Node>>
      accumulators;  // kept alive: they hold our hooks
  std::vector<uintptr_t> post_hooks;
  mutable Mutex mu;
  at::ScalarType dtype = at::kFloat;  // the parameters', when the bucketer was made
  at::Device device = at::kCPU;
  const double inv_size;  // 1 / ranks
  at::Tensor inv_size_t;  // the same, a scalar tensor of the gradients' dtype
  bool armed IR_GUARDED_BY(mu) = false;
  // Buckets start strictly in order (the same on all ranks).
  size_t next_start IR_GUARDED_BY(mu) = 0;
  size_t first_open IR_GUARDED_BY(mu) = 0;  // the earliest started bucket not known complete
  BucketerStats st IR_GUARDED_BY(mu);

  Impl(Collective& c, const std::vector<at::Tensor>& ps, const AllreduceOptions& o)
      : coll(c), opt(o), inv_size(1.0 / c.size()) {
    for (const auto& p : ps)
      if (p.requires_grad()) params.push_back(p);
    IR_CHECK(!params.empty());
    inv_size_t = torch::scalar_tensor(inv_size, params[0].options().requires_grad(false));
    dtype = params[0].scalar_type();
    device = params[0].device();
    for (size_t i = 0; i < params.size(); ++i) {
      const at::Tensor& p = params[i];
      if (p.scalar_type() != dtype || p.device() != device)
        Fail(ErrorCode::kInvalidArgument,
             "GradientBucketer needs parameters of one dtype and "
             "device; got ",
             dtype, "/", device, " and ", p.scalar_type(), "/", p.device());
      if (!p.is_leaf()) Fail(ErrorCode::kInvalidArgument, "GradientBucketer needs leaf parameters");
      for (size_t j = 0; j < i; ++j)
        if (params[j].unsafeGetTensorImpl() == p.unsafeGetTensorImpl())
          Fail(ErrorCode::kInvalidArgument, "GradientBucketer: parameter ", j,
               " is listed again as ", "parameter ", i, "; pass each parameter once");
    }
    const int64_t elem = params[0].element_size();
    const int64_t cap = std::max<int64_t>(1, static_cast<int64_t>(opt.bucket_mb * 1e6) / elem);
    const int64_t direct_min =
        opt.inplace_mb > 0 ? std::max<int64_t>(1, static_cast<int64_t>(opt.inplace_mb * 1e6) / elem)
                           : std::numeric_limits<int64_t>::max();
    slots.resize(params.size());
    own.resize(params.size());
    // Reverse parameter order, the order backward produces gradients. A large gradient is a
    // bucket of its own, placed where it becomes ready; small ones fill the open flat bucket,
    // which takes its place in the start order when it closes (full, or at the end).
    std::vector<int> open;
    int64_t fill = 0;
    auto close = [&] {
      if (open.empty()) return;
      const int b = static_cast<int>(buckets.size());
      buckets.emplace_back();
      int64_t off = 0;
      for (int m : open) {
        slots[m] = {b, off, params[m].numel(), false, false};
        off += params[m].numel();
      }
      buckets.back().members = open;
      buckets.back().flat = torch::zeros({off}, params[0].options().requires_grad(false));
      open.clear();
      fill = 0;
    };
    for (int i = static_cast<int>(params.size()) - 1; i >= 0; --i) {
      const int64_t n = params[i].numel();
      if (n >= direct_min) {
        slots[i] = {static_cast<int>(buckets.size()), 0, n, true, false};
        buckets.emplace_back();
        buckets.back().members = {i};
        continue;
      }
      if (!open.empty() && fill + n > cap) close();
      open.push_back(i);
      fill += n;
    }
    close();
    for (const auto& p : params) st.bytes += p.numel() * elem;
    st.buckets = static_cast<int>(buckets.size());
    for (size_t i = 0; i < params.size(); ++i) {
      hooks.push_back(params[i].register_hook([this, i](const at::Tensor&) { OnGradArriving(i); }));
      accumulators.push_back(torch::autograd::impl::grad_accumulator(params[i]));
      // After the accumulator ran, i.e. once .grad() holds this pass's gradient.
      post_hooks.push_back(accumulators.back()->add_post_hook(
          std::make_unique<torch::autograd::utils::LambdaPostHook>(
              [this, i](const torch::autograd::variable_list& outputs,
                        const torch::autograd::variable_list& inputs) {
                OnAccumulated(i, inputs);
                return outputs;
              })));
    }
  }

  ~Impl() {
    for (size_t i = 0; i < params.size(); ++i) {
      params[i].remove_hook(hooks[i]);
      accumulators[i]->del_post_hook(post_hooks[i]);
    }
  }

  // params[i]'s slot in its flat bucket: a tensor sharing the bucket's storage, made with set_
  // rather than a view op so that autograd does not treat it as a view (Optimizer::zero_grad
  // detach_()es gradients, which autograd refuses for views).
  at::Tensor SlotView(int i) {
    const Slot& s = slots[i];
    const at::Tensor& flat = buckets[s.bucket].flat;
    at::Tensor t = at::empty({0}, flat.options());
    t.set_(flat.storage(), flat.storage_offset() + s.offset, params[i].sizes(),
           c10::contiguous_strides(params[i].sizes()));
    return t;
  }

  // Whether `g` is params[i]'s slot in its flat bucket (as FinishBackward leaves .grad()).
  bool IsSlotView(int i, const at::Tensor& g) {
    const Slot& s = slots[i];
    return g.defined() && g.is_contiguous() && g.numel() == s.numel &&
           g.data_ptr() ==
               static_cast<char*>(buckets[s.bucket].flat.data_ptr()) + s.offset * g.element_size();
  }

  // Whether params[i]'s gradient `g` (a direct slot's) may be all-reduced where it lies, i.e.
  // modified before backward ends: dense, contiguous, the parameters' dtype and device, and its
  // memory seen by nobody else. That holds for what the last FinishBackward left in .grad() (the
  // bucketer's memory, as bucket slots are). For what AccumulateGrad made this pass from an
  // undefined .grad() it holds when every reference to the memory is accounted for (Unshared).
  // Anything else, e.g. a .grad() the caller set, is copied.
  bool CanReduceInPlace(size_t i, const at::Tensor& g,
                        const torch::autograd::variable_list& incoming) {
    const Slot& s = slots[i];
    if (!g.defined() || g.layout() != at::kStrided || !g.is_contiguous() || g.is_neg() ||
        g.is_conj() || g.scalar_type() != params[i].scalar_type() ||
        g.device() != params[i].device() || g.numel() != params[i].numel() || !g.has_storage())
      return false;
    if (s.grad_at_begin) {
      // The memory the bucketer handed out, held by .grad() alone (and by own[i], ours).
      c10::intrusive_ptr<c10::StorageImpl> home = s.home.lock();
      if (!home || home.get() != g.storage().unsafeGetStorageImpl()) return false;
      const bool own_other = own[i].defined() &&
                             own[i].unsafeGetTensorImpl() != g.unsafeGetTensorImpl() &&
                             own[i].storage().is_alias_of(g.storage());
      // `home` counts once while we hold it.
      return static_cast<int64_t>(g.storage().use_count()) <= 2 + (own_other ? 1 : 0);
    }
    return Unshared(g, incoming);
  }

  // Whether the only tensors holding g's memory are g, the incoming gradient AccumulateGrad stole
  // it from (the engine still holds that until the hooks return), and view bases that no other
  // tensor refers to. An incoming gradient can be a view of a gradient another backward node has
  // yet to read (p.view(...) + q: the add's gradient goes to both), and reducing it in place would
  // corrupt that node's input: its base is then referenced by that node's input buffer as well.
  static bool Unshared(const at::Tensor& g, const torch::autograd::variable_list& incoming) {
    std::vector<const c10::TensorImpl*> holders;
    auto count = [&](const at::TensorBase& t) {
      if (std::find(holders.begin(), holders.end(), t.unsafeGetTensorImpl()) == holders.end())
        holders.push_back(t.unsafeGetTensorImpl());
    };
    std::vector<const at::TensorBase*> views;
    count(g);
    if (g.is_view()) views.push_back(&g);
    for (const auto& t : incoming) {
      if (!t.defined() || !t.has_storage() || !t.storage().is_alias_of(g.storage())) continue;
      // Only the engine's list may hold the incoming gradient. More holders: e.g. a tensor hook
      // on the parameter returned g.detach(), which AccumulateGrad stole while the gradient
      // itself is still on its way to another node.
      if (t.use_count() != 1) return false;
      count(t);
      if (t.is_view()) views.push_back(&t);
    }
    for (const at::TensorBase* v : views) {
      const at::TensorBase& base = v->_base();
      // Each view of it that we hold refers to the base once; any other reference is unknown.
      int64_t known = 0;
      for (const at::TensorBase* u : views)
        known += u->_base().unsafeGetTensorImpl() == base.unsafeGetTensorImpl();
      if (static_cast<int64_t>(base.use_count()) > known) return false;
      count(base);
    }
    return static_cast<int64_t>(g.storage().use_count()) <= static_cast<int64_t>(holders.size());
  }

  // Before params[i]'s AccumulateGrad: a second gradient in one armed pass would be added into
  // memory that may already be in flight.
  void OnGradArriving(size_t i) IR_EXCLUDES(mu) {
    MutexLock lock(mu);
    if (!armed || !slots[i].ready) return;
    Fail(ErrorCode::kFailedPrecondition, "gradient all-reduce: parameter ", i, " (shape ",
         params[i].sizes(),
         ") received a second gradient in one backward pass after it was "
         "handed to the all-reduce; a parameter must reach the loss through one backward pass "
         "(reentrant backward, e.g. one parameter shared by two activation-checkpointed pieces, "
         "calls its accumulator twice)");
  }

  // After params[i]'s AccumulateGrad: .grad() holds this pass's gradient.
  void OnAccumulated(size_t i, const torch::autograd::variable_list& incoming) IR_EXCLUDES(mu) {
    torch::NoGradGuard no_grad;
    MutexLock lock(mu);
    if (!armed || slots[i].ready) return;
    Place(i, incoming);
    if (--buckets[slots[i].bucket].pending == 0) StartReady(/*in_backward=*/true);
  }

  // Puts params[i]'s gradient / world size where its collective reads it (the sum over ranks is
  // then the mean: the scaling rides on the copy, or on a pass over memory still in cache).
  void Place(size_t i, const torch::autograd::variable_list& incoming) IR_REQUIRES(mu) {
    Slot& s = slots[i];
    Bucket& b = buckets[s.bucket];
    const at::Tensor& g = params[i].grad();
    if (s.direct) {
      if (CanReduceInPlace(i, g, incoming)) {
        b.target = g;
        ScaleInPlace(b.target);
        ++st.inplace_gradients;
      } else {
        if (!own[i].defined())
          own[i] = at::empty(params[i].sizes(), params[i].options().requires_grad(false));
        b.target = own[i];
        CopyScaled(b.target, g);
      }
    } else {
      b.target = b.flat;
      at::Tensor view = SlotView(static_cast<int>(i));
      if (IsSlotView(static_cast<int>(i), g))  // accumulated in place into the bucket
        ScaleInPlace(view);
      else
        CopyScaled(view, g);
    }
    s.ready = true;
  }

  void ScaleInPlace(at::Tensor& t) {
    if (inv_size != 1.0) t.mul_(inv_size_t);
  }

  // out = g / world size, counted in the stats; zeros for a parameter without a gradient.
  void CopyScaled(at::Tensor& out, const at::Tensor& g) IR_REQUIRES(mu) {
    if (!g.defined()) {
      out.zero_();
      return;
    }
    if (inv_size == 1.0)
      out.copy_(g);
    else
      torch::mul_out(out, g, inv_size_t);
    st.copied_bytes += static_cast<int64_t>(g.nbytes());
  }

  void StartReady(bool in_backward) IR_REQUIRES(mu) {
    while (next_start < buckets.size() && buckets[next_start].pending == 0) {
      Bucket& b = buckets[next_start];
      b.work =
          coll.StartAllreduceSum(b.target, "gradient bucket " + std::to_string(next_start + 1) +
                                               "/" + std::to_string(buckets.size()) + " (" +
                                               std::to_string(b.target.nbytes() / 1e6) + " MB)");
      if (in_backward) ++st.buckets_started_in_backward;
      ++next_start;
    }
    // Let started buckets progress: MPI advances all its non-blocking collectives inside any of
    // its calls, so testing the earliest incomplete one is enough.
    while (first_open < next_start && buckets[first_open].work->Test()) ++first_open;
  }

  void Begin() IR_EXCLUDES(mu) {
    MutexLock lock(mu);
    IR_CHECK(!armed);
    for (size_t i = 0; i < slots.size(); ++i) {
      const at::Tensor& p = params[i];
      // Moving a parameter to another dtype or device (set_data, Module::to) gives it a new
      // accumulator without our hooks, and our buffers would no longer fit.
      if (torch::autograd::impl::try_get_grad_accumulator(p) != accumulators[i] ||
          p.scalar_type() != dtype || p.device() != device)
        Fail(ErrorCode::kFailedPrecondition, "gradient all-reduce: parameter ", i, " (shape ",
             p.sizes(),
             ") changed dtype or device after its GradientBucketer was made; make the bucketer "
             "after "
             "moving the model");
      slots[i].ready = false;
      slots[i].grad_at_begin = p.grad().defined();
    }
    for (auto& b : buckets) {
      b.pending = static_cast<int>(b.members.size());
      b.work.reset();
      b.target = at::Tensor();
    }
    next_start = first_open = 0;
    st.buckets_started_in_backward = 0;
    st.inplace_gradients = 0;
    st.copied_bytes = 0;
    armed = true;
  }

  void Finish() IR_EXCLUDES(mu) {
    torch::NoGradGuard no_grad;
    {
      MutexLock lock(mu);
      IR_CHECK(armed);
      for (size_t i = 0; i < params.size(); ++i) {
        if (slots[i].ready) continue;
        Place(i, {});
        --buckets[slots[i].bucket].pending;
      }
      StartReady(/*in_backward=*/false);
      armed = false;
    }
    auto t0 = std::chrono::steady_clock::now();
    for (auto& b : buckets) {
      b.work->Wait();
      b.work.reset();
    }
    // Every .grad() becomes what was reduced: its slot of the averaged flat bucket (no copy out,
    // PyTorch DDP's gradient_as_bucket_view), or the direct gradient itself. The optimizer and
    // clipping then work on them in place, and the next step accumulates into them.
    for (size_t i = 0; i < params.size(); ++i) {
      Slot& s = slots[i];
      if (s.direct) {
        params[i].mutable_grad() = buckets[s.bucket].target;
        s.home = buckets[s.bucket].target.storage().getWeakStorageImpl();
      } else {
        params[i].mutable_grad() = SlotView(static_cast<int>(i));
      }
    }
    // Drop our references: a caller that sets .grad() to none frees the memory (except for a
    // direct slot's own buffer, kept for the next copy).
    for (auto& b : buckets) b.target = at::Tensor();
    MutexLock lock(mu);
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
  MutexLock lock(impl_->mu);
  return impl_->st;
}

}  // namespace iranker::collective
