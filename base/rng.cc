#include "base/rng.h"

#include <unistd.h>

#include <cmath>
#include <random>

#include "base/clock.h"

namespace iranker {

double Rng::Normal() {
  double u1 = Uniform();
  while (u1 <= 0.0) u1 = Uniform();
  const double u2 = Uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

uint64_t DeriveSeed(uint64_t seed, uint64_t index) {
  Rng a(seed ^ (0xD1B54A32D192ED03ull * (index + 1)));
  a.Next();
  return a.Next();
}

uint64_t RandomNonZeroU64() {
  static thread_local std::mt19937_64 rng(std::random_device{}() ^
                                          (static_cast<uint64_t>(::getpid()) << 32) ^
                                          static_cast<uint64_t>(SteadyMs()));
  uint64_t v;
  do v = rng();
  while (v == 0);
  return v;
}

}  // namespace iranker
