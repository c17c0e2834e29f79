#include "ranking/split.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "base/error.h"

namespace iranker {
namespace {

using V = std::vector<int64_t>;

// Expected indices printed by numpy 1.24 / scikit-learn 1.2 (Debian 12's python3-sklearn):
//   np.random.RandomState(42).permutation(10)
//   train_test_split(list(range(n)), test_size=0.2, random_state=42)
TEST(Split, NumpyPermutationKnownAnswer) {
  EXPECT_EQ(NumpyPermutation(10, 42), (V{8, 1, 5, 0, 7, 2, 9, 4, 3, 6}));
}

TEST(Split, ScikitLearnTrainTestSplitKnownAnswers) {
  auto s = TrainTestSplit(10, 0.2, 42);
  EXPECT_EQ(s.train, (V{5, 0, 7, 2, 9, 4, 3, 6}));
  EXPECT_EQ(s.test, (V{8, 1}));
  s = TrainTestSplit(7, 0.2, 42);
  EXPECT_EQ(s.train, (V{5, 2, 4, 3, 6}));
  EXPECT_EQ(s.test, (V{0, 1}));
  s = TrainTestSplit(23, 0.2, 42);
  EXPECT_EQ(s.train, (V{12, 1, 13, 5, 2, 11, 20, 3, 4, 18, 16, 21, 22, 7, 10, 14, 19, 6}));
  EXPECT_EQ(s.test, (V{15, 9, 0, 8, 17}));
  s = TrainTestSplit(101, 0.2, 42);
  EXPECT_EQ(s.test,
            (V{84, 55, 66, 67, 45, 39, 22, 44, 10, 0, 18, 30, 97, 33, 77, 4, 93, 78, 12, 31, 76}));
  ASSERT_EQ(s.train.size(), 80u);
  EXPECT_EQ(V(s.train.begin(), s.train.begin() + 5), (V{89, 26, 42, 70, 15}));
  EXPECT_EQ(V(s.train.end() - 3, s.train.end()), (V{14, 92, 51}));
}

TEST(Split, PartitionIsCompleteAndSeeded) {
  auto a = TrainTestSplit(1000, 0.25, 7), b = TrainTestSplit(1000, 0.25, 7);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.test.size(), 250u);
  V all = a.train;
  all.insert(all.end(), a.test.begin(), a.test.end());
  std::sort(all.begin(), all.end());
  V want(1000);
  std::iota(want.begin(), want.end(), 0);
  EXPECT_EQ(all, want);
  EXPECT_NE(TrainTestSplit(1000, 0.25, 8).test, a.test);
}

TEST(Split, EmptySideIsAnError) {
  EXPECT_THROW(TrainTestSplit(1, 0.2, 42), Error);
  EXPECT_THROW(TrainTestSplit(10, 0.0, 42), Error);
  EXPECT_THROW(TrainTestSplit(10, 1.0, 42), Error);
}

}  // namespace
}  // namespace iranker
