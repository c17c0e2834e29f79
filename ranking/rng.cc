#include "ranking/rng.h"

#include <cmath>

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

}  // namespace iranker
