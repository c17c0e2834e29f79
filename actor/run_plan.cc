#include "actor/run_plan.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "base/error.h"
#include "base/rng.h"

namespace iranker {

QueryStream::QueryStream(size_t n, uint64_t seed) : n_(n), seed_(seed) { IR_CHECK_GT(n, 0u); }

size_t QueryStream::At(int64_t cursor) {
  const int64_t epoch = cursor / static_cast<int64_t>(n_);
  if (epoch != epoch_) {
    perm_.resize(n_);
    std::iota(perm_.begin(), perm_.end(), 0);
    std::mt19937_64 rng(DeriveSeed(seed_, 0xE90C + epoch));
    std::shuffle(perm_.begin(), perm_.end(), rng);
    epoch_ = epoch;
  }
  return perm_[cursor % n_];
}

std::vector<const QueryRecord*> ActorQueries(const std::vector<QueryRecord>& train,
                                             QueryStream& stream, int64_t step,
                                             int queries_per_batch, int actor, int actors) {
  std::vector<const QueryRecord*> out;
  const int64_t base = step * queries_per_batch;
  for (int q = actor; q < queries_per_batch; q += actors)
    out.push_back(&train[stream.At(base + q)]);
  return out;
}

uint64_t ActorSeed(uint64_t run_seed, int64_t step, int actor) {
  return DeriveSeed(DeriveSeed(run_seed, step), actor);
}

}  // namespace iranker
