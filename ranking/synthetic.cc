#include "ranking/synthetic.h"

#include "base/error.h"

namespace iranker {

std::vector<QueryRecord> GenerateSynthetic(const SyntheticOptions& o) {
  QueryRecord (*one)(const SyntheticOptions&, int) = nullptr;
  if (o.scenario == "recommendation") one = SyntheticRecommendation;
  if (o.scenario == "routing") one = SyntheticRouting;
  if (o.scenario == "passage") one = SyntheticPassage;
  if (!one)
    Fail(ErrorCode::kInvalidArgument, "unknown scenario '", o.scenario,
         "' (recommendation, routing or passage)");
  if (o.n < 0) Fail(ErrorCode::kInvalidArgument, "--n must be >= 0");
  std::vector<QueryRecord> out;
  out.reserve(o.n);
  for (int i = 0; i < o.n; ++i) out.push_back(one(o, i));
  return out;
}

}  // namespace iranker
