// actor/run_plan.h — which queries each step of a run uses and which actor rolls out which, so
// that every trainer makes the same decisions and a resumed run repeats nothing:
//
//   * QueryStream: a fresh permutation of the training set per epoch, derived from run.seed; step s
//     consumes queries [s*Q, (s+1)*Q) of that stream (Q = actor.queries_per_batch), so the step
//     number alone fixes the position (exact resume);
//   * ActorQueries: actor a of A rolls out every A-th of them starting at a, with the seed
//     ActorSeed(run.seed, s, a) = DeriveSeed(DeriveSeed(run.seed, s), a): a `train --local` run
//     with train.actors = A and a distributed one with A actor processes generate the same
//     trajectories from the same weights.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ranking/record.h"

namespace iranker {

class QueryStream {
 public:
  // A stream over `n` (> 0) training records.
  QueryStream(size_t n, uint64_t seed);
  // The record index at position `cursor` of the stream.
  size_t At(int64_t cursor);

 private:
  size_t n_;
  uint64_t seed_;
  int64_t epoch_ = -1;
  std::vector<size_t> perm_;
};

// The queries of `step` that actor `actor` of `actors` rolls out.
std::vector<const QueryRecord*> ActorQueries(const std::vector<QueryRecord>& train,
                                             QueryStream& stream, int64_t step,
                                             int queries_per_batch, int actor, int actors);
// The seed of that actor's rollout at `step`.
uint64_t ActorSeed(uint64_t run_seed, int64_t step, int actor);

}  // namespace iranker
