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
// std::vector<double>, and nested structs that have Visit.
#pragma once

#include <limits>
#include <string>
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

}  // namespace iranker
