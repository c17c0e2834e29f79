// model/autocast.h — mixed precision for the learner's forward passes: while a guard lives, matrix
// products run in bfloat16 (autocast; CUDA or CPU after the parameters' device) and the
// parameters, their gradients and the optimizer stay in their own dtype (fp32 master weights).
#pragma once

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

namespace iranker {

class AutocastGuard {
 public:
  // enabled = false: does nothing.
  AutocastGuard(bool enabled, c10::DeviceType device,
                c10::ScalarType dtype = c10::ScalarType::BFloat16);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool enabled_;
  bool cuda_;
  bool prev_enabled_ = false;
  c10::ScalarType prev_dtype_ = c10::ScalarType::Undefined;
};

}  // namespace iranker
