// The run plan (actor/run_plan.h): every step's queries split across the actors without overlap
// or gap, epochs as permutations, and seeds that depend only on (run seed, step, actor).
#include "actor/run_plan.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace iranker {
namespace {

std::vector<QueryRecord> Records(int n) {
  std::vector<QueryRecord> out(n);
  for (int i = 0; i < n; ++i) out[i].id = "q" + std::to_string(i);
  return out;
}

TEST(RunPlan, ActorsSplitEachStepWithoutOverlap) {
  const auto train = Records(10);
  for (int actors : {1, 2, 3, 8}) {
    QueryStream all(train.size(), 7);
    std::vector<QueryStream> per_actor(actors, QueryStream(train.size(), 7));
    for (int64_t step = 0; step < 5; ++step) {
      std::multiset<const QueryRecord*> together;
      for (int a = 0; a < actors; ++a)
        for (const QueryRecord* q : ActorQueries(train, per_actor[a], step, 6, a, actors))
          together.insert(q);
      std::multiset<const QueryRecord*> whole;
      for (const QueryRecord* q : ActorQueries(train, all, step, 6, 0, 1)) whole.insert(q);
      EXPECT_EQ(together, whole) << actors << " actors, step " << step;
    }
  }
}

TEST(RunPlan, EachEpochIsAPermutationAndTheStepFixesThePosition) {
  QueryStream s(10, 1), t(10, 1);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::set<size_t> seen;
    for (int i = 0; i < 10; ++i) seen.insert(s.At(epoch * 10 + i));
    EXPECT_EQ(seen.size(), 10u);
  }
  // Jumping to a position (a resumed run) gives what a stream that went there step by step has.
  EXPECT_EQ(t.At(25), s.At(25));
  EXPECT_NE(QueryStream(10, 2).At(3) == QueryStream(10, 1).At(3) &&
                QueryStream(10, 2).At(4) == QueryStream(10, 1).At(4) &&
                QueryStream(10, 2).At(5) == QueryStream(10, 1).At(5),
            true);
}

TEST(RunPlan, SeedsDependOnRunStepAndActorOnly) {
  EXPECT_EQ(ActorSeed(1, 4, 2), ActorSeed(1, 4, 2));
  std::set<uint64_t> seeds;
  for (uint64_t run : {1, 2})
    for (int64_t step : {0, 1, 2})
      for (int actor : {0, 1}) seeds.insert(ActorSeed(run, step, actor));
  EXPECT_EQ(seeds.size(), 12u);
}

}  // namespace
}  // namespace iranker
