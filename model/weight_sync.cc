#include "model/weight_sync.h"

#include <torch/torch.h>

#include <set>

#include "base/error.h"

namespace iranker {
namespace {

comm::DType ToDType(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return comm::DType::kFloat32;
    case at::kHalf:
      return comm::DType::kFloat16;
    case at::kBFloat16:
      return comm::DType::kBFloat16;
    case at::kDouble:
      return comm::DType::kFloat64;
    default:
      Fail(ErrorCode::kInvalidArgument, "weight sync: unsupported parameter dtype ", t);
  }
}

at::ScalarType FromDType(comm::DType d) {
  switch (d) {
    case comm::DType::kFloat32:
      return at::kFloat;
    case comm::DType::kFloat16:
      return at::kHalf;
    case comm::DType::kBFloat16:
      return at::kBFloat16;
    case comm::DType::kFloat64:
      return at::kDouble;
    default:
      Fail(ErrorCode::kInvalidArgument, "weight sync: non-floating tensor dtype ",
           comm::DTypeName(d));
  }
}

}  // namespace

std::vector<comm::TensorView> PolicyTensorViews(DecoderLM& model) {
  std::vector<comm::TensorView> views;
  for (const auto& p : model.named_parameters()) {
    const at::Tensor& t = p.value();
    if (!t.is_contiguous() || !t.device().is_cpu())
      Fail(ErrorCode::kFailedPrecondition,
           "weight sync needs contiguous CPU parameters: ", p.key());
    comm::TensorView v;
    v.name = p.key();
    v.dtype = ToDType(t.scalar_type());
    v.shape = t.sizes().vec();
    v.data = t.data_ptr();
    v.nbytes = t.nbytes();
    views.push_back(std::move(v));
  }
  return views;
}

void ApplyWeights(DecoderLM& model, const comm::WeightSet& weights) {
  auto params = model.named_parameters();
  std::vector<std::string> problems;
  std::set<std::string> used;
  for (const auto& p : params) {
    const auto* e = weights.Find(p.key());
    if (!e) {
      problems.push_back("missing '" + p.key() + "'");
      continue;
    }
    used.insert(p.key());
    if (e->shape != p.value().sizes().vec())
      problems.push_back("'" + p.key() + "' has shape " + c10::str(c10::IntArrayRef(e->shape)) +
                         ", expected " + c10::str(p.value().sizes()));
  }
  for (const auto& e : weights.tensors)
    if (!used.count(e.name)) problems.push_back("unexpected '" + e.name + "'");
  if (!problems.empty()) {
    std::string msg;
    for (const auto& p : problems) msg += "\n  " + p;
    Fail(ErrorCode::kInvalidArgument, "policy version ", weights.version,
         " does not match the actor's model:", msg);
  }
  torch::NoGradGuard no_grad;
  for (auto& p : params) {
    const auto* e = weights.Find(p.key());
    auto src = torch::from_blob(const_cast<void*>(weights.data(*e)), e->shape,
                                torch::TensorOptions().dtype(FromDType(e->dtype)));
    p.value().copy_(src);
  }
}

}  // namespace iranker
