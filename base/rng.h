// base/rng.h — a small, portable pseudo-random generator for everything that must
// be reproducible from a seed on any platform (episode shuffles, single-step subsets, synthetic
// data, the random baseline). std::uniform_int_distribution is implementation-defined, so results
// would differ between standard libraries; this one is SplitMix64 with explicit range reduction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace iranker {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  // Next 64 random bits (SplitMix64).
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform integer in [0, n); n > 0. Rejection sampling, so it is exactly uniform.
  uint64_t Below(uint64_t n) {
    const uint64_t limit = ~uint64_t{0} - (~uint64_t{0} % n);
    uint64_t x;
    do x = Next();
    while (x >= limit);
    return x % n;
  }
  // Uniform double in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
  // Standard normal (Box-Muller).
  double Normal();
  // Fisher-Yates shuffle.
  template <class T>
  void Shuffle(std::vector<T>* v) {
    for (size_t i = v->size(); i > 1; --i) std::swap((*v)[i - 1], (*v)[Below(i)]);
  }

 private:
  uint64_t state_;
};

// Derives an independent seed for stream `index` of `seed` (e.g. one per record or episode).
uint64_t DeriveSeed(uint64_t seed, uint64_t index);

// A random non-zero value that differs between processes and calls (not seeded: incarnations,
// session ids), from std::random_device mixed with the pid and the clock.
uint64_t RandomNonZeroU64();

}  // namespace iranker
