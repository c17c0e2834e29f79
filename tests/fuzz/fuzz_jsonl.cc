// Fuzz target: the dataset reader (ranking/jsonl.h ReadJsonl, records of docs/DATA.md), with both
// bad-line policies. Properties: only iranker::Error escapes; with `skip` every line is either a
// record or counted as bad; every record read is valid (ValidateRecord passes, its ground truth
// names existing candidates).
#include "base/log.h"
#include "ranking/jsonl.h"
#include "ranking/record.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (iranker::InitLogging("error"), true);  // skipped lines warn
  (void)quiet;
  iranker::fuzz::MemFile file(data, size);
  iranker::fuzz::ExpectOnlyErrors(
      "fuzz_jsonl", [&] { (void)iranker::ReadJsonl(file.path(), iranker::BadLinePolicy::kStop); });
  iranker::fuzz::ExpectOnlyErrors("fuzz_jsonl", [&] {
    iranker::ReadStats stats;
    auto records = iranker::ReadJsonl(file.path(), iranker::BadLinePolicy::kSkip, -1, &stats);
    for (const auto& r : records) {
      iranker::ValidateRecord(r);
      for (int g : iranker::GroundTruth(r))
        if (g < 0 || g >= static_cast<int>(r.candidates.size()))
          iranker::fuzz::Violation("fuzz_jsonl", "ground truth outside the candidates in " + r.id);
    }
  });
  return 0;
}
