// Fuzz target: the safetensors reader (model/safetensors.h), which opens every checkpoint a user
// points iranker at. Property: Open() either rejects the file with iranker::Error or every entry
// it accepts lies inside the data section with a byte size matching dtype x shape, and viewing
// each tensor and summing it touches only mapped bytes (AddressSanitizer watches).
#include <torch/torch.h>

#include "model/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  iranker::fuzz::MemFile file(data, size);
  iranker::fuzz::ExpectOnlyErrors("fuzz_safetensors", [&] {
    auto st = iranker::SafetensorsFile::Open(file.path());
    for (const auto& e : st->entries()) {
      if (e.begin > e.end)
        iranker::fuzz::Violation("fuzz_safetensors", "entry begins after it ends: " + e.name);
      at::Tensor t = st->Tensor(e.name);
      if (static_cast<uint64_t>(t.numel()) * t.element_size() != e.end - e.begin)
        iranker::fuzz::Violation("fuzz_safetensors",
                                 "tensor size differs from its byte range: " + e.name);
      if (t.numel() > 0 && t.is_floating_point()) (void)t.to(torch::kFloat64).sum().item<double>();
    }
  });
  return 0;
}
