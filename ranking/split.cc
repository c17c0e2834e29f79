#include "ranking/split.h"

#include <cmath>
#include <random>

#include "base/error.h"

namespace iranker {

std::vector<int64_t> NumpyPermutation(int64_t n, uint32_t seed) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = i;
  std::mt19937 mt(seed);  // init_genrand(seed), as RandomState(int)
  for (int64_t i = n - 1; i >= 1; --i) {
    // numpy's random_interval(i): mask = all ones up to i's top bit; redraw until <= i.
    uint64_t mask = static_cast<uint64_t>(i);
    for (int s = 1; s < 64; s <<= 1) mask |= mask >> s;
    uint64_t j;
    if (static_cast<uint64_t>(i) <= 0xffffffffull) {
      do j = static_cast<uint64_t>(mt()) & mask;
      while (j > static_cast<uint64_t>(i));
    } else {
      do j = ((static_cast<uint64_t>(mt()) << 32) | mt()) & mask;
      while (j > static_cast<uint64_t>(i));
    }
    std::swap(v[i], v[j]);
  }
  return v;
}

SplitIndices TrainTestSplit(int64_t n, double test_fraction, uint32_t seed) {
  if (!(test_fraction > 0 && test_fraction < 1))
    Fail(ErrorCode::kInvalidArgument, "test fraction ", test_fraction, " is not in (0, 1)");
  const int64_t n_test = static_cast<int64_t>(std::ceil(test_fraction * static_cast<double>(n)));
  const int64_t n_train = n - n_test;
  if (n_test < 1 || n_train < 1)
    Fail(ErrorCode::kInvalidArgument, "a split of ", n, " records with test fraction ",
         test_fraction, " leaves one side empty");
  const auto perm = NumpyPermutation(n, seed);
  SplitIndices s;
  s.test.assign(perm.begin(), perm.begin() + n_test);
  s.train.assign(perm.begin() + n_test, perm.end());
  return s;
}

}  // namespace iranker
