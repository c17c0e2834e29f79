// base/fields.h — one declaration of every configuration field drives decoding, encoding,
// validation and the generated reference.
//
// Each room declares a plain options struct with documented in-class defaults and a member
//
//   template <class V> void Visit(V& v) {
//     v.Field("lr", lr, "AdamW learning rate.", Range(0.0, 1.0));
//     v.Field("schedule", schedule, "Learning-rate schedule.", OneOf({"constant", "cosine"}));
//     v.Section("critic", critic, "The value model.");   // a nested options struct
//     v.Check(warmup_steps <= total_steps, "warmup_steps", "must not exceed total_steps");
//   }
//
// Visitors (the YAML decoder and encoder in trainer/, the reference printer) call Visit; nothing
// else lists the fields, so the lists cannot drift apart. Supported field types: bool, int,
// int64_t, uint64_t, double, std::string, std::vector<std::string>, std::vector<int>,
// std::vector<double>, nested structs that have Visit, and enumerations that have names:
//
//   enum class Schedule { kConstant, kCosine };
//   inline const EnumNames<Schedule>& NamesOf(Schedule) {
//     static const EnumNames<Schedule> names = {{Schedule::kConstant, "constant"},
//                                               {Schedule::kCosine, "cosine"}};
//     return names;
//   }
//
// An enumeration field is written and read as its name (the config file says "cosine") and
// needs no constraint: a name not in the list is an error listing them. Code compares the value
// (`schedule == Schedule::kCosine`); a mode is parsed once, when the config is read.
#pragma once

#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace iranker {

// An inclusive numeric range constraint.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  Range() = default;
  Range(double l, double h) : lo(l), hi(h) {}
  bool Contains(double x) const { return x >= lo && x <= hi; }
  std::string Describe() const;
};
inline Range AtLeast(double lo) { return Range(lo, std::numeric_limits<double>::infinity()); }

// A string constraint: the value must be one of these.
struct OneOf {
  std::vector<std::string> values;
  OneOf(std::initializer_list<std::string> v) : values(v) {}
  bool Contains(const std::string& s) const;
  std::string Describe() const;
};

// No constraint.
struct Any {};

// The names of an enumeration's values, in the order documentation lists them. A type E has names
// when `NamesOf(E{})` finds (by argument-dependent lookup) a function returning its list.
template <class E>
using EnumNames = std::vector<std::pair<E, const char*>>;

template <class E, class = void>
struct HasEnumNames : std::false_type {};
template <class E>
struct HasEnumNames<E, std::void_t<decltype(NamesOf(E{}))>> : std::true_type {};

// The name of `value` ("?" for a value without one).
template <class E>
const char* NameOf(E value) {
  for (const auto& [v, name] : NamesOf(value))
    if (v == value) return name;
  return "?";
}

// The value named `name`; false when no value has that name.
template <class E>
bool ParseName(const std::string& name, E* out) {
  for (const auto& [v, n] : NamesOf(E{}))
    if (name == n) {
      *out = v;
      return true;
    }
  return false;
}

// The constraint an enumeration's names make: one of them.
template <class E>
OneOf NamesConstraint() {
  OneOf c{};
  for (const auto& [v, n] : NamesOf(E{})) c.values.push_back(n);
  return c;
}

}  // namespace iranker
