#include "collective/sharded_optimizer.h"

#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "base/clock.h"
#include "base/error.h"
#include "base/mutex.h"

namespace iranker::collective {

struct ShardedOptimizer::Impl {
  struct Unit {
    std::vector<int> members;        // parameter indices, in the flat buffer's order
    std::vector<int64_t> offsets;    // of each member in the flat buffer
    int64_t numel = 0;               // the members' elements
    int64_t padded = 0;              // numel rounded up to a multiple of the rank count
    int64_t shard = 0;               // padded / ranks: one rank's slice
    at::Tensor flat;                 // [padded] the parameters (the members are views of it)
    at::Tensor exp_avg, exp_avg_sq;  // [shard] this rank's AdamW moments
    at::Tensor grad;                 // [shard] kGradients: this rank's slice, summed over passes
    // kFull: this rank's slice of the parameters; the part the unit belongs to (-1: none, always
    // gathered); whether `flat` holds memory now, an all-gather into it not yet waited for, and
    // the forward Acquires holding it.
    at::Tensor mine;
    int part = -1;
    bool gathered = true;
    std::unique_ptr<PendingCollective> gathering;
    int refs = 0;
    // kGradients, during a backward pass.
    int pending = 0;        // members whose gradient has not arrived yet
    at::Tensor send, recv;  // [padded] the unit's gradients / 1 rank, [shard] the sum
    std::unique_ptr<PendingCollective> work;
  };

  Collective& coll;
  const int ranks, rank;
  const Sharding level;
  const ShardedAdamW adam;
  std::vector<at::Tensor> params;
  std::vector<int> unit_of;  // per parameter
  std::vector<Unit> units;   // in the order their collectives start (the same on every rank)
  // kFull: the units of each part; whether the slices were taken yet (until then every rank holds
  // the parameters whole); whether Materialize left them whole here; bytes gathered now, most
  // since the last step, and the time spent waiting for gathers in this step.
  std::vector<std::vector<int>> part_units;
  bool sliced = false, materialized = false;
  int64_t gathered_bytes = 0, peak_gathered = 0, last_peak_gathered = 0;
  double gather_wait = 0;
  int64_t step = 0;
  int passes_planned = -1, passes_done = 0;  // kGradients: this step's backward passes
  double gather_seconds = 0;
  double last_reduce_wait_seconds = 0;
  double reduce_wait_seconds IR_GUARDED_BY(mu) = 0;  // this step's, so far
  int64_t last_peak_grad_bytes IR_GUARDED_BY(mu) = 0;
  // kGradients: this rank's slices, the send and receive buffers of the units in flight and the
  // gradients autograd left in .grad() for units not yet started.
  int64_t held_grad_bytes IR_GUARDED_BY(mu) = 0;
  int64_t peak_grad_bytes IR_GUARDED_BY(mu) = 0;

  // kGradients: the hooks, and the state they share with the caller's thread.
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;  // hold our hooks
  std::vector<uintptr_t> post_hooks;
  mutable Mutex mu;
  bool armed IR_GUARDED_BY(mu) = false;
  std::vector<bool> arrived IR_GUARDED_BY(mu);  // per parameter, this pass
  size_t next_start IR_GUARDED_BY(mu) = 0;      // units start strictly in order
  size_t next_retire IR_GUARDED_BY(mu) = 0;     // ... and complete in the same order
  // Units whose reduce-scatter may be in flight at once: the next start waits for the oldest
  // beyond this, so a backward pass holds a few units' full gradients, not all of them.
  static constexpr size_t kMaxInFlight = 2;

  Impl(Collective& c, const std::vector<at::Tensor>& ps, Sharding lv, const ShardedAdamW& a,
       double unit_mb, const std::vector<std::vector<at::Tensor>>& parts)
      : coll(c), ranks(c.size()), rank(c.rank()), level(lv), adam(a) {
    IR_CHECK(level == Sharding::kOptimizer || level == Sharding::kGradients ||
             level == Sharding::kFull);
    for (const auto& p : ps)
      if (p.requires_grad()) params.push_back(p);
    IR_CHECK(!params.empty());
    for (size_t i = 0; i < params.size(); ++i) {
      const at::Tensor& p = params[i];
      if (p.scalar_type() != params[0].scalar_type() || p.device() != params[0].device())
        Fail(ErrorCode::kInvalidArgument,
             "learner.sharding needs the parameters of one model in one dtype on one device");
      if (!p.is_leaf()) Fail(ErrorCode::kInvalidArgument, "learner.sharding: non-leaf parameter");
      for (size_t j = 0; j < i; ++j)
        if (params[j].unsafeGetTensorImpl() == p.unsafeGetTensorImpl())
          Fail(ErrorCode::kInvalidArgument, "learner.sharding: parameter ", i, " is listed twice");
    }
    // kFull: the part of each parameter (the first part that lists it), for the layout.
    std::vector<int> part_of(params.size(), -1);
    if (level == Sharding::kFull)
      for (size_t q = 0; q < parts.size(); ++q)
        for (const auto& t : parts[q])
          for (size_t i = 0; i < params.size(); ++i)
            if (params[i].unsafeGetTensorImpl() == t.unsafeGetTensorImpl() && part_of[i] < 0)
              part_of[i] = static_cast<int>(q);
    LayOut(unit_mb, part_of);
    if (level == Sharding::kFull) {
      part_units.resize(parts.size());
      for (size_t q = 0; q < parts.size(); ++q)
        for (const auto& t : parts[q])
          for (size_t i = 0; i < params.size(); ++i)
            if (params[i].unsafeGetTensorImpl() == t.unsafeGetTensorImpl()) {
              auto& us = part_units[q];
              if (std::find(us.begin(), us.end(), unit_of[i]) == us.end()) us.push_back(unit_of[i]);
            }
      for (auto& u : units) {
        u.mine = at::zeros({u.shard}, u.flat.options());
        gathered_bytes += Bytes(u);
      }
      peak_gathered = gathered_bytes;
    }
    if (ReducesGradients()) InstallHooks();
  }

  bool ReducesGradients() const {
    return level == Sharding::kGradients || level == Sharding::kFull;
  }
  static int64_t Bytes(const Unit& u) { return u.padded * u.flat.element_size(); }
  std::string UnitName(size_t k) const {
    return "parameter unit " + std::to_string(k + 1) + "/" + std::to_string(units.size()) +
           (units[k].part >= 0 ? " (part " + std::to_string(units[k].part) + ")" : "");
  }

  // kFull: the storage of a unit's whole buffer (its members' views keep pointing into it).
  void Allocate(Unit& u) {
    c10::StorageImpl* st = u.flat.storage().unsafeGetStorageImpl();
    const size_t n = static_cast<size_t>(Bytes(u));
    st->set_data_ptr_noswap(st->allocator()->allocate(n));
    st->set_nbytes(n);
  }
  void Free(size_t k) IR_REQUIRES(mu) {
    Unit& u = units[k];
    if (u.part < 0 || !u.gathered) return;
    if (u.gathering) {
      u.gathering->Wait();
      u.gathering.reset();
    }
    c10::StorageImpl* st = u.flat.storage().unsafeGetStorageImpl();
    st->set_data_ptr_noswap(at::DataPtr(nullptr, u.flat.device()));
    st->set_nbytes(0);
    u.gathered = false;
    u.refs = 0;
    gathered_bytes -= Bytes(u);
  }
  void FreeAll() IR_REQUIRES(mu) {
    for (size_t k = 0; k < units.size(); ++k) Free(k);
  }
  // kFull: before the first gather, each rank keeps its slices of the parameters as they are
  // now (initialised or loaded whole on every rank) and frees the rest.
  void TakeSlices() IR_REQUIRES(mu) {
    if (sliced) return;
    torch::NoGradGuard ng;
    for (auto& u : units) u.mine.copy_(u.flat.narrow(0, rank * u.shard, u.shard));
    sliced = true;
    FreeAll();
  }
  // Starts (or, with wait, completes) the all-gather of unit k into its whole buffer.
  void Gather(size_t k, bool wait) IR_REQUIRES(mu) {
    Unit& u = units[k];
    if (!u.gathered) {
      Allocate(u);
      u.gathered = true;
      gathered_bytes += Bytes(u);
      peak_gathered = std::max(peak_gathered, gathered_bytes);
      u.gathering = coll.StartAllGather(u.mine, u.flat, UnitName(k));
    }
    if (wait && u.gathering) {
      const auto t0 = Clock::now();
      u.gathering->Wait();
      gather_wait += SecondsSince(t0);
      u.gathering.reset();
    }
  }

  void Acquire(int part, int next) IR_EXCLUDES(mu) {
    if (level != Sharding::kFull) return;
    MutexLock lock(mu);
    IR_CHECK(part >= 0 && part < static_cast<int>(part_units.size()));
    if (!sliced || materialized) {
      // The whole parameters of start-up or of Materialize go: the step's peak starts here.
      TakeSlices();
      FreeAll();
      materialized = false;
      peak_gathered = gathered_bytes;
    }
    for (int k : part_units[part]) {
      Gather(k, /*wait=*/true);
      if (!armed) ++units[k].refs;
    }
    if (next >= 0 && next < static_cast<int>(part_units.size()))
      for (int k : part_units[next]) Gather(k, /*wait=*/false);
  }

  void Release(int part) IR_EXCLUDES(mu) {
    if (level != Sharding::kFull) return;
    MutexLock lock(mu);
    if (armed) return;  // backward frees a unit when its gradients are all there
    for (int k : part_units[part]) {
      Unit& u = units[k];
      if (u.refs > 0) --u.refs;
      if (u.refs == 0) Free(k);
    }
  }

  void Materialize(int root) IR_EXCLUDES(mu) {
    if (level != Sharding::kFull) return;
    MutexLock lock(mu);
    IR_CHECK(!armed);
    TakeSlices();
    for (size_t k = 0; k < units.size(); ++k) {
      Gather(k, /*wait=*/true);
      if (rank != root) Free(k);
    }
    materialized = rank == root;
  }

  ~Impl() {
    for (size_t i = 0; i < post_hooks.size(); ++i) accumulators[i]->del_post_hook(post_hooks[i]);
  }

  // Units of about unit_mb in reverse parameter order; each parameter becomes a view of its
  // unit's flat buffer (made with set_, not a view op, so autograd does not see a view).
  void LayOut(double unit_mb, const std::vector<int>& part_of) {
    torch::NoGradGuard ng;
    const auto options = params[0].options().requires_grad(false);
    const int64_t cap = std::max<int64_t>(
        1, static_cast<int64_t>(unit_mb * 1e6) / static_cast<int64_t>(params[0].element_size()));
    unit_of.assign(params.size(), -1);
    std::vector<int> open;
    int64_t fill = 0;
    auto close = [&] {
      if (open.empty()) return;
      Unit u;
      u.members = open;
      u.part = part_of[open[0]];
      for (int m : open) {
        u.offsets.push_back(u.numel);
        u.numel += params[m].numel();
        unit_of[m] = static_cast<int>(units.size());
      }
      u.padded = (u.numel + ranks - 1) / ranks * ranks;
      u.shard = u.padded / ranks;
      u.flat = torch::zeros({u.padded}, options);
      for (size_t k = 0; k < u.members.size(); ++k) {
        at::Tensor& p = params[u.members[k]];
        u.flat.narrow(0, u.offsets[k], p.numel()).copy_(p.detach().reshape({-1}));
        at::Tensor view = at::empty({0}, options);
        view.set_(u.flat.storage(), u.flat.storage_offset() + u.offsets[k], p.sizes(),
                  c10::contiguous_strides(p.sizes()));
        p.set_data(view);
      }
      u.exp_avg = torch::zeros({u.shard}, options);
      u.exp_avg_sq = torch::zeros({u.shard}, options);
      units.push_back(std::move(u));
      open.clear();
      fill = 0;
    };
    for (int i = static_cast<int>(params.size()) - 1; i >= 0; --i) {
      const int64_t n = params[i].numel();
      if (!open.empty() && (fill + n > cap || part_of[i] != part_of[open[0]])) close();
      open.push_back(i);
      fill += n;
    }
    close();
  }

  void InstallHooks() {
    {
      MutexLock lock(mu);
      arrived.assign(params.size(), false);
    }
    for (size_t i = 0; i < params.size(); ++i) {
      accumulators.push_back(torch::autograd::impl::grad_accumulator(params[i]));
      post_hooks.push_back(accumulators.back()->add_post_hook(
          std::make_unique<torch::autograd::utils::LambdaPostHook>(
              [this, i](const torch::autograd::variable_list& outputs,
                        const torch::autograd::variable_list&) {
                OnAccumulated(i);
                return outputs;
              })));
    }
  }

  // After params[i]'s AccumulateGrad: .grad() holds its gradient of this pass.
  void OnAccumulated(size_t i) IR_EXCLUDES(mu) {
    torch::NoGradGuard ng;
    MutexLock lock(mu);
    if (!armed) return;
    if (arrived[i])
      Fail(ErrorCode::kFailedPrecondition, "learner.sharding=gradients: parameter ", i,
           " received a second gradient in one backward pass (a parameter must reach the loss "
           "through one backward pass)");
    arrived[i] = true;
    if (params[i].grad().defined())
      held_grad_bytes += params[i].numel() * static_cast<int64_t>(params[i].element_size());
    peak_grad_bytes = std::max(peak_grad_bytes, held_grad_bytes);
    Unit& u = units[unit_of[i]];
    // kFull: the unit's gradients are all there, so the nodes that needed its parameters ran.
    if (--u.pending == 0 && level == Sharding::kFull) Free(unit_of[i]);
    StartReady();
  }

  // Starts, in unit order, every unit whose gradients are all there; retires the units whose
  // reduce-scatter has completed, and waits for the oldest while more than kMaxInFlight are out.
  void StartReady() IR_REQUIRES(mu) {
    while (next_start < units.size() && units[next_start].pending == 0) {
      Launch(next_start++);
      while (next_retire < next_start &&
             (next_start - next_retire > kMaxInFlight || units[next_retire].work->Test()))
        Retire(next_retire++);
    }
  }

  // Waits for unit k's reduce-scatter and adds its result into this rank's slice.
  void Retire(size_t k) IR_REQUIRES(mu) {
    Unit& u = units[k];
    const auto t0 = Clock::now();
    u.work->Wait();
    reduce_wait_seconds += SecondsSince(t0);
    u.work.reset();
    held_grad_bytes -= u.padded * u.flat.element_size();
    if (u.grad.defined()) {
      u.grad.add_(u.recv);
      held_grad_bytes -= u.shard * u.flat.element_size();
    } else {
      u.grad = u.recv;
    }
    u.send = at::Tensor();
    u.recv = at::Tensor();
  }

  // The unit's gradients / ranks into its send buffer (zeros for a parameter without one),
  // freed from .grad(), and its reduce-scatter started.
  void Launch(size_t k) IR_REQUIRES(mu) {
    Unit& u = units[k];
    u.send = at::zeros({u.padded}, u.flat.options());
    const double inv = 1.0 / ranks;
    for (size_t j = 0; j < u.members.size(); ++j) {
      at::Tensor& p = params[u.members[j]];
      const at::Tensor g = p.grad();
      if (g.defined()) {
        at::Tensor dst = u.send.narrow(0, u.offsets[j], p.numel());
        if (ranks == 1)
          dst.copy_(g.reshape({-1}));
        else
          torch::mul_out(dst, g.reshape({-1}), inv);
        if (arrived[u.members[j]])
          held_grad_bytes -= p.numel() * static_cast<int64_t>(p.element_size());
      }
      p.mutable_grad() = at::Tensor();
    }
    u.recv = at::empty({u.shard}, u.flat.options());
    held_grad_bytes += (u.padded + u.shard) * u.flat.element_size();
    peak_grad_bytes = std::max(peak_grad_bytes, held_grad_bytes);
    u.work = coll.StartReduceScatterSum(
        u.send, u.recv,
        "gradient unit " + std::to_string(k + 1) + "/" + std::to_string(units.size()));
  }

  int PlanPasses(int local, bool backward) {
    if (level == Sharding::kOptimizer || (level == Sharding::kGradients && !backward)) return local;
    IR_CHECK_GE(local, 0);
    std::vector<double> counts(ranks, 0.0);
    counts[rank] = local;
    coll.AllreduceSumDoubles(&counts, backward ? "backward pass count" : "forward pass count");
    const int most = static_cast<int>(*std::max_element(counts.begin(), counts.end()));
    if (backward) {
      passes_planned = most;
      passes_done = 0;
    }
    return most;
  }

  void PlanBackwardPasses(int local) {
    if (ReducesGradients()) PlanPasses(local, /*backward=*/true);
  }

  void BeginBackward() IR_EXCLUDES(mu) {
    if (!ReducesGradients()) return;
    if (passes_planned < 0)
      Fail(ErrorCode::kFailedPrecondition, "learner.sharding=", NameOf(level),
           ": a backward pass without PlanBackwardPasses (the ranks must agree on their number "
           "of passes)");
    if (++passes_done > passes_planned)
      Fail(ErrorCode::kFailedPrecondition, "learner.sharding=", NameOf(level), ": backward pass ",
           passes_done, " of a step planned with ", passes_planned);
    MutexLock lock(mu);
    IR_CHECK(!armed);
    std::fill(arrived.begin(), arrived.end(), false);
    for (auto& u : units) u.pending = static_cast<int>(u.members.size());
    next_start = 0;
    next_retire = 0;
    armed = true;
  }

  void EndBackward() IR_EXCLUDES(mu) {
    if (!ReducesGradients()) return;
    torch::NoGradGuard ng;
    MutexLock lock(mu);
    IR_CHECK(armed);
    for (auto& u : units) u.pending = 0;  // what did not arrive counts as zero
    StartReady();
    while (next_retire < units.size()) Retire(next_retire++);
    if (level == Sharding::kFull) FreeAll();
    armed = false;
  }

  // kOptimizer: this rank's slice of a unit's (averaged) gradients, read from the members'
  // .grad() (zeros for padding and for members without a gradient).
  at::Tensor GradSlice(const Unit& u) const {
    at::Tensor out = at::zeros({u.shard}, u.flat.options());
    const int64_t lo = rank * u.shard, hi = lo + u.shard;
    for (size_t j = 0; j < u.members.size(); ++j) {
      const at::Tensor& p = params[u.members[j]];
      const int64_t a = std::max(lo, u.offsets[j]), b = std::min(hi, u.offsets[j] + p.numel());
      if (a >= b || !p.grad().defined()) continue;
      out.narrow(0, a - lo, b - a).copy_(p.grad().reshape({-1}).narrow(0, a - u.offsets[j], b - a));
    }
    return out;
  }

  // torch::optim::AdamW's update, element by element, on one slice.
  void AdamW(at::Tensor p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, double lr) const {
    if (adam.weight_decay != 0) p.mul_(1 - lr * adam.weight_decay);
    m.mul_(adam.beta1).add_(g, 1 - adam.beta1);
    v.mul_(adam.beta2).addcmul_(g, g, 1 - adam.beta2);
    const double bc1 = 1 - std::pow(adam.beta1, static_cast<double>(step));
    const double bc2 = 1 - std::pow(adam.beta2, static_cast<double>(step));
    auto denom = (v.sqrt() / std::sqrt(bc2)).add_(adam.eps);
    p.addcdiv_(m, denom, -lr / bc1);
  }

  double Step(double lr, double max_grad_norm) {
    torch::NoGradGuard ng;
    ++step;
    std::vector<at::Tensor> grads(units.size());
    double norm = 0;
    if (level == Sharding::kOptimizer) {
      // The gradients are whole and averaged on every rank: the norm and clipping of the
      // unsharded update, then each rank's slices.
      for (auto& p : params)
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      norm = torch::nn::utils::clip_grad_norm_(params, max_grad_norm > 0 ? max_grad_norm : 1e30);
      for (size_t k = 0; k < units.size(); ++k) grads[k] = GradSlice(units[k]);
    } else {
      // This rank's missing passes: the others' collectives are matched by empty ones.
      if (passes_planned < 0)
        Fail(ErrorCode::kFailedPrecondition, "learner.sharding=", NameOf(level),
             ": a step without PlanBackwardPasses");
      if (level == Sharding::kFull && passes_done != passes_planned)
        Fail(ErrorCode::kFailedPrecondition, "learner.sharding=full: this rank made ", passes_done,
             " of the step's ", passes_planned,
             " backward passes (the missing ones are the caller's, as passes on padding)");
      while (passes_done < passes_planned) {
        BeginBackward();
        EndBackward();
      }
      passes_planned = -1;
      std::vector<double> sq = {0.0};
      for (size_t k = 0; k < units.size(); ++k) {
        grads[k] = units[k].grad.defined() ? units[k].grad : at::zeros_like(units[k].exp_avg);
        units[k].grad = at::Tensor();
        {
          MutexLock lock(mu);
          held_grad_bytes -= units[k].shard * units[k].flat.element_size();
        }
        sq[0] += grads[k].to(torch::kDouble).pow(2).sum().item<double>();
      }
      coll.AllreduceSumDoubles(&sq, "gradient norm");
      norm = std::sqrt(sq[0]);
      const double coef = std::min(1.0, (max_grad_norm > 0 ? max_grad_norm : 1e30) / (norm + 1e-6));
      if (coef < 1.0)
        for (auto& g : grads) g.mul_(coef);
    }
    if (level == Sharding::kFull) {
      // The parameters stay sharded: the next forward gathers them, part by part.
      MutexLock lock(mu);
      TakeSlices();
      for (size_t k = 0; k < units.size(); ++k)
        AdamW(units[k].mine, grads[k], units[k].exp_avg, units[k].exp_avg_sq, lr);
      FreeAll();
      // Units in no part stay whole on every rank: their new slices, gathered now.
      for (size_t k = 0; k < units.size(); ++k)
        if (units[k].part < 0) coll.AllGather(units[k].mine, units[k].flat, UnitName(k));
      materialized = false;
      gather_seconds = gather_wait;
      gather_wait = 0;
      last_peak_gathered = peak_gathered;
      peak_gathered = gathered_bytes;
      return norm;
    }
    for (size_t k = 0; k < units.size(); ++k) {
      Unit& u = units[k];
      AdamW(u.flat.narrow(0, rank * u.shard, u.shard), grads[k], u.exp_avg, u.exp_avg_sq, lr);
    }
    // Every rank's new slices, into every rank's parameters.
    const auto t0 = Clock::now();
    std::vector<std::unique_ptr<PendingCollective>> gathers;
    std::vector<at::Tensor> mine;
    for (size_t k = 0; k < units.size(); ++k) {
      Unit& u = units[k];
      mine.push_back(u.flat.narrow(0, rank * u.shard, u.shard).clone());
      gathers.push_back(coll.StartAllGather(
          mine.back(), u.flat,
          "parameter unit " + std::to_string(k + 1) + "/" + std::to_string(units.size())));
    }
    for (auto& g : gathers) g->Wait();
    gather_seconds = SecondsSince(t0);
    return norm;
  }
};

ShardedOptimizer::ShardedOptimizer(Collective& collective, const std::vector<at::Tensor>& params,
                                   Sharding level, const ShardedAdamW& adam, double unit_mb,
                                   const std::vector<std::vector<at::Tensor>>& parts)
    : impl_(std::make_unique<Impl>(collective, params, level, adam, unit_mb, parts)),
      level_(level) {}

ShardedOptimizer::~ShardedOptimizer() = default;

void ShardedOptimizer::ZeroGrad() {
  // As torch::optim::Optimizer::zero_grad: gradients kept, zeroed (kGradients leaves none).
  for (auto& p : impl_->params)
    if (p.grad().defined()) {
      p.mutable_grad().detach_();
      p.mutable_grad().zero_();
    }
}

int ShardedOptimizer::rank() const { return impl_->rank; }
int ShardedOptimizer::ranks() const { return impl_->ranks; }

void ShardedOptimizer::PlanBackwardPasses(int passes) { impl_->PlanBackwardPasses(passes); }
int ShardedOptimizer::PlanPasses(int passes, bool backward) {
  return impl_->PlanPasses(passes, backward);
}
void ShardedOptimizer::Acquire(int part, int next) { impl_->Acquire(part, next); }
void ShardedOptimizer::Release(int part) { impl_->Release(part); }
void ShardedOptimizer::Materialize(int root) { impl_->Materialize(root); }
void ShardedOptimizer::BeginBackward() { impl_->BeginBackward(); }
void ShardedOptimizer::EndBackward() { impl_->EndBackward(); }

double ShardedOptimizer::Step(double lr, double max_grad_norm) {
  Impl& s = *impl_;
  const double norm = s.Step(lr, max_grad_norm);
  // This step's figures become the reported ones; the next step's start from here.
  MutexLock lock(s.mu);
  s.last_reduce_wait_seconds = s.reduce_wait_seconds;
  s.reduce_wait_seconds = 0;
  s.last_peak_grad_bytes = s.peak_grad_bytes;
  s.peak_grad_bytes = s.held_grad_bytes;
  return norm;
}

void ShardedOptimizer::Save(torch::serialize::OutputArchive& archive) const {
  const Impl& s = *impl_;
  archive.write("sharded.step", torch::tensor({s.step}, torch::kInt64));
  archive.write("sharded.ranks", torch::tensor({static_cast<int64_t>(s.ranks)}, torch::kInt64));
  archive.write("sharded.units",
                torch::tensor({static_cast<int64_t>(s.units.size())}, torch::kInt64));
  for (size_t k = 0; k < s.units.size(); ++k) {
    const std::string key = "unit." + std::to_string(k);
    archive.write(key + ".numel", torch::tensor({s.units[k].numel}, torch::kInt64));
    archive.write(key + ".exp_avg", s.units[k].exp_avg);
    archive.write(key + ".exp_avg_sq", s.units[k].exp_avg_sq);
  }
}

void ShardedOptimizer::Load(
    int saved_ranks, const std::function<void(int rank, torch::serialize::InputArchive&)>& shards) {
  Impl& s = *impl_;
  torch::NoGradGuard ng;
  auto read_int = [](torch::serialize::InputArchive& a, const std::string& key) {
    at::Tensor t;
    a.read(key, t);
    return t.item<int64_t>();
  };
  auto check_layout = [&](torch::serialize::InputArchive& a, int r) {
    if (read_int(a, "sharded.ranks") != saved_ranks ||
        read_int(a, "sharded.units") != static_cast<int64_t>(s.units.size()))
      Fail(ErrorCode::kFailedPrecondition, "optimizer shard of rank ", r,
           ": written for another model layout (unit count) or rank count");
    for (size_t k = 0; k < s.units.size(); ++k)
      if (read_int(a, "unit." + std::to_string(k) + ".numel") != s.units[k].numel)
        Fail(ErrorCode::kFailedPrecondition, "optimizer shard of rank ", r, ": unit ", k,
             " has another size (another model or learner.shard_unit_mb)");
  };
  if (saved_ranks == s.ranks) {
    torch::serialize::InputArchive a;
    shards(s.rank, a);
    check_layout(a, s.rank);
    s.step = read_int(a, "sharded.step");
    for (size_t k = 0; k < s.units.size(); ++k) {
      at::Tensor m, v;
      a.read("unit." + std::to_string(k) + ".exp_avg", m);
      a.read("unit." + std::to_string(k) + ".exp_avg_sq", v);
      s.units[k].exp_avg.copy_(m);
      s.units[k].exp_avg_sq.copy_(v);
    }
    return;
  }
  // Another rank count: every saved slice, each unit's moments whole, then this rank's slices.
  std::vector<std::vector<at::Tensor>> m(s.units.size()), v(s.units.size());
  for (int r = 0; r < saved_ranks; ++r) {
    torch::serialize::InputArchive a;
    shards(r, a);
    check_layout(a, r);
    s.step = read_int(a, "sharded.step");
    for (size_t k = 0; k < s.units.size(); ++k) {
      at::Tensor mk, vk;
      a.read("unit." + std::to_string(k) + ".exp_avg", mk);
      a.read("unit." + std::to_string(k) + ".exp_avg_sq", vk);
      m[k].push_back(mk);
      v[k].push_back(vk);
    }
  }
  for (size_t k = 0; k < s.units.size(); ++k) {
    Impl::Unit& u = s.units[k];
    auto whole = [&](const std::vector<at::Tensor>& parts) {
      at::Tensor all = at::zeros({u.padded}, u.flat.options());
      all.narrow(0, 0, u.numel).copy_(torch::cat(parts).narrow(0, 0, u.numel));
      return all.narrow(0, s.rank * u.shard, u.shard);
    };
    u.exp_avg.copy_(whole(m[k]));
    u.exp_avg_sq.copy_(whole(v[k]));
  }
}

ShardedStats ShardedOptimizer::stats() const {
  const Impl& s = *impl_;
  ShardedStats st;
  st.units = static_cast<int>(s.units.size());
  for (const auto& u : s.units) {
    st.params += u.numel;
    st.moment_bytes += 2 * u.shard * u.flat.element_size();
    if (s.level != Sharding::kOptimizer) st.grad_shard_bytes += u.shard * u.flat.element_size();
    if (s.level == Sharding::kFull) st.param_shard_bytes += u.shard * u.flat.element_size();
  }
  st.reduce_wait_seconds = s.last_reduce_wait_seconds;
  st.gather_seconds = s.gather_seconds;
  MutexLock lock(s.mu);
  st.peak_grad_bytes = s.last_peak_grad_bytes;
  st.peak_gathered_bytes = s.last_peak_gathered;
  return st;
}

}  // namespace iranker::collective
