// bench/all.h — one declaration per benchmark; bench/all.cc lists them for the registry.
#pragma once

#include "bench/bench.h"

namespace iranker::bench {
BenchResult RunMatmul(const BenchArgs& args);
BenchResult RunGenerate(const BenchArgs& args);
BenchResult RunLearner(const BenchArgs& args);
BenchResult RunTokenize(const BenchArgs& args);
BenchResult RunStream(const BenchArgs& args);
BenchResult RunAllreduce(const BenchArgs& args);
BenchResult RunSharding(const BenchArgs& args);
BenchResult RunWeights(const BenchArgs& args);
// Benchmarks of whole training runs and rollouts.
BenchResult RunRollout(const BenchArgs& args);
BenchResult RunQuickstart(const BenchArgs& args);
BenchResult RunTrajlog(const BenchArgs& args);
}  // namespace iranker::bench
