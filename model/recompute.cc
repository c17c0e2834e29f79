#include "model/recompute.h"

#include <torch/torch.h>

#include "base/error.h"
#include "model/autocast.h"

namespace iranker {

namespace {

// The function travels in the autograd context as a refcounted capsule, freed with the graph even
// if backward never runs.
struct FnHolder : torch::CustomClassHolder {
  explicit FnHolder(TensorFn f) : fn(std::move(f)) {}
  TensorFn fn;
};

struct RecomputeFunction : torch::autograd::Function<RecomputeFunction> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                at::TensorList inputs,
                                                c10::intrusive_ptr<FnHolder> holder) {
    ctx->save_for_backward(inputs.vec());
    ctx->saved_data["fn"] = c10::IValue::make_capsule(holder);
    // The recomputation runs under the autocast state of this forward.
    ctx->saved_data["autocast"] = AutocastState::Current().Pack();
    torch::NoGradGuard no_grad;
    return holder->fn(inputs.vec());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto holder = ctx->saved_data["fn"].toCapsule();
    auto& fn = static_cast<FnHolder*>(holder.get())->fn;
    std::vector<at::Tensor> inputs;
    for (const auto& x : ctx->get_saved_variables())
      inputs.push_back(x.detach().requires_grad_(x.requires_grad()));
    std::vector<at::Tensor> outputs;
    {
      torch::AutoGradMode grad(true);
      AutocastReplay amp(AutocastState::Unpack(ctx->saved_data["autocast"].toInt()));
      outputs = fn(inputs);
    }
    IR_CHECK_EQ(outputs.size(), grad_out.size());
    std::vector<at::Tensor> roots, grads;
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (!outputs[i].requires_grad() || !grad_out[i].defined()) continue;
      roots.push_back(outputs[i]);
      grads.push_back(grad_out[i]);
    }
    if (!roots.empty()) torch::autograd::backward(roots, grads);
    torch::autograd::variable_list result;
    for (const auto& x : inputs) result.push_back(x.requires_grad() ? x.grad() : at::Tensor());
    result.push_back(at::Tensor());  // the function holder
    return result;
  }
};

}  // namespace

std::vector<at::Tensor> Recompute(const TensorFn& fn, const std::vector<at::Tensor>& inputs) {
  if (!torch::GradMode::is_enabled()) return fn(inputs);
  return RecomputeFunction::apply(at::TensorList(inputs), c10::make_intrusive<FnHolder>(fn));
}

}  // namespace iranker
