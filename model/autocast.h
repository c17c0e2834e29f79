// model/autocast.h — mixed precision for the learner's forward passes: while a guard lives, matrix
// products run in bfloat16 (autocast; CUDA or CPU after the parameters' device) and the
// parameters, their gradients and the optimizer stay in their own dtype (fp32 master weights).
#pragma once

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

#include <cstdint>

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

// Both device types' autocast settings, captured to be replayed later: a custom autograd function
// that recomputes in backward runs under the autocast state of its forward (model/recompute.cc,
// model/scoring.cc). Packed into one integer to travel in an AutogradContext's saved_data.
struct AutocastState {
  bool cpu = false, cuda = false;
  c10::ScalarType cpu_dtype = c10::ScalarType::BFloat16;
  c10::ScalarType cuda_dtype = c10::ScalarType::BFloat16;

  static AutocastState Current();
  int64_t Pack() const;
  static AutocastState Unpack(int64_t packed);
};

// Replays a captured state while it lives.
class AutocastReplay {
 public:
  explicit AutocastReplay(const AutocastState& s);

 private:
  AutocastGuard cpu_, cuda_;
};

}  // namespace iranker
