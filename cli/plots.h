// cli/plots.h — SVG charts of a run's metrics.jsonl (reward, evaluation, KL, entropy, gradient
// norm, throughput, step times, answer format) into RUN_DIR/plots/. Used by `iranker plot` and at
// the end of `iranker train`.
#pragma once

#include <string>

namespace iranker {

// Returns the number of charts written. Throws Error naming metrics.jsonl when it is missing or a
// line other than a cut-short last one is not JSON.
int WritePlots(const std::string& run_dir);

}  // namespace iranker
