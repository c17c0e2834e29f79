// ranking/split.h — train/test splits that reproduce the reference code's draws.
//
// The IRanker reference code splits every dataset with scikit-learn's
// train_test_split(samples, test_size=0.2, random_state=42). TrainTestSplit computes the same
// partition from the same seed: numpy's legacy RandomState(seed) (MT19937 seeded with
// init_genrand, which std::mt19937 implements), its permutation(n) (Fisher-Yates from the back,
// each index drawn by masked rejection of 32-bit outputs), the first ceil(test_fraction × n)
// entries as the test set and the rest as the training set, both in permutation order.
// tests/ranking/split_test.cc holds indices printed by scikit-learn 1.2 / numpy 1.24.
#pragma once

#include <cstdint>
#include <vector>

namespace iranker {

struct SplitIndices {
  std::vector<int64_t> train, test;
};

// `test_fraction` in (0, 1). Throws Error(kInvalidArgument) when either side would be empty.
SplitIndices TrainTestSplit(int64_t n, double test_fraction, uint32_t seed);

// numpy.random.RandomState(seed).permutation(n).
std::vector<int64_t> NumpyPermutation(int64_t n, uint32_t seed);

}  // namespace iranker
