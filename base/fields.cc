#include "base/fields.h"

#include <cmath>
#include <sstream>

namespace iranker {
namespace {
std::string Num(double x) {
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  std::ostringstream os;
  os << x;
  return os.str();
}
}  // namespace

std::string Range::Describe() const {
  if (std::isinf(hi)) return ">= " + Num(lo);
  if (std::isinf(lo)) return "<= " + Num(hi);
  return "in [" + Num(lo) + ", " + Num(hi) + "]";
}

bool OneOf::Contains(const std::string& s) const {
  for (const auto& v : values)
    if (v == s) return true;
  return false;
}

std::string OneOf::Describe() const {
  std::string out = "one of ";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + ("'" + values[i] + "'");
  return out;
}

}  // namespace iranker
