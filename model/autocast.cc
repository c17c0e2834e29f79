#include "model/autocast.h"

#include <ATen/autocast_mode.h>

namespace iranker {

AutocastGuard::AutocastGuard(bool enabled, c10::DeviceType device, c10::ScalarType dtype)
    : enabled_(enabled), cuda_(device == c10::DeviceType::CUDA) {
  if (!enabled_) return;
  if (cuda_) {
    prev_enabled_ = at::autocast::is_enabled();
    prev_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(true);
  } else {
    prev_enabled_ = at::autocast::is_cpu_enabled();
    prev_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(true);
  }
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!enabled_) return;
  // The cast weights are cached while autocast is on; drop them when the outermost guard ends
  // (the optimizer changes the weights before the next forward).
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (cuda_) {
    at::autocast::set_enabled(prev_enabled_);
    at::autocast::set_autocast_gpu_dtype(prev_dtype_);
  } else {
    at::autocast::set_cpu_enabled(prev_enabled_);
    at::autocast::set_autocast_cpu_dtype(prev_dtype_);
  }
}

AutocastState AutocastState::Current() {
  AutocastState s;
  s.cpu = at::autocast::is_cpu_enabled();
  s.cpu_dtype = at::autocast::get_autocast_cpu_dtype();
  s.cuda = at::autocast::is_enabled();
  s.cuda_dtype = at::autocast::get_autocast_gpu_dtype();
  return s;
}

// Bit 0: cpu, bit 1: cuda, bits 8-15: cpu_dtype, bits 16-23: cuda_dtype.
int64_t AutocastState::Pack() const {
  return int64_t{cpu} | int64_t{cuda} << 1 | static_cast<int64_t>(cpu_dtype) << 8 |
         static_cast<int64_t>(cuda_dtype) << 16;
}

AutocastState AutocastState::Unpack(int64_t packed) {
  AutocastState s;
  s.cpu = packed & 1;
  s.cuda = (packed >> 1) & 1;
  s.cpu_dtype = static_cast<c10::ScalarType>((packed >> 8) & 0xff);
  s.cuda_dtype = static_cast<c10::ScalarType>((packed >> 16) & 0xff);
  return s;
}

AutocastReplay::AutocastReplay(const AutocastState& s)
    : cpu_(s.cpu, c10::DeviceType::CPU, s.cpu_dtype),
      cuda_(s.cuda, c10::DeviceType::CUDA, s.cuda_dtype) {}

}  // namespace iranker
