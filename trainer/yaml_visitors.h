// trainer/yaml_visitors.h — the visitors that turn YAML into options structs and back.
// Only trainer/ sees yaml-cpp. See base/fields.h for the Visit protocol.
//
// YamlDecoder collects every problem (unknown key with a suggestion, wrong type, value out of
// range, failed Check) with its location — "file:line:col" for keys read from a file,
// "override 'k=v'" for keys set on the command line — instead of stopping at the first.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "base/fields.h"

namespace iranker {

struct DecodeContext {
  std::string file;                              // shown in locations
  std::map<std::string, std::string> overrides;  // key path -> "key=value" as typed
  std::vector<std::string> errors;
};

namespace yaml_detail {
// Scalar conversions; return false (and set *why) when the node is not of the type.
bool Decode(const YAML::Node& n, bool* out, std::string* why);
bool Decode(const YAML::Node& n, int* out, std::string* why);
bool Decode(const YAML::Node& n, int64_t* out, std::string* why);
bool Decode(const YAML::Node& n, uint64_t* out, std::string* why);
bool Decode(const YAML::Node& n, double* out, std::string* why);
bool Decode(const YAML::Node& n, std::string* out, std::string* why);
// An enumeration is read as one of its names (base/fields.h NamesOf).
template <class E, std::enable_if_t<HasEnumNames<E>::value, int> = 0>
bool Decode(const YAML::Node& n, E* out, std::string* why) {
  std::string name;
  if (!Decode(n, &name, why)) return false;
  if (ParseName(name, out)) return true;
  *why = "expected " + NamesConstraint<E>().Describe();
  return false;
}
template <class T>
bool Decode(const YAML::Node& n, std::vector<T>* out, std::string* why) {
  if (!n.IsSequence()) {
    *why = "expected a list";
    return false;
  }
  std::vector<T> result;
  for (size_t i = 0; i < n.size(); ++i) {
    T item{};
    if (!Decode(n[i], &item, why)) {
      *why = "item " + std::to_string(i) + ": " + *why;
      return false;
    }
    result.push_back(item);
  }
  *out = std::move(result);
  return true;
}

// Constraint checks; return "" when satisfied.
std::string Violates(double x, const Range& r);
std::string Violates(const std::string& s, const OneOf& c);
template <class T>
std::string Violates(const T&, const Any&) {
  return "";
}
template <class T>
std::string Violates(const std::vector<T>& v, const Range& r) {
  for (size_t i = 0; i < v.size(); ++i) {
    auto why = Violates(static_cast<double>(v[i]), r);
    if (!why.empty()) return "item " + std::to_string(i) + ": " + why;
  }
  return "";
}
inline std::string Violates(const std::vector<std::string>& v, const OneOf& c) {
  for (size_t i = 0; i < v.size(); ++i) {
    auto why = Violates(v[i], c);
    if (!why.empty()) return "item " + std::to_string(i) + ": " + why;
  }
  return "";
}
template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
std::string Violates(T x, const Range& r) {
  return Violates(static_cast<double>(x), r);
}

std::string Show(const YAML::Node& n);  // short rendering of a value for messages
std::string TypeName(const bool*);
std::string TypeName(const int*);
std::string TypeName(const int64_t*);
std::string TypeName(const uint64_t*);
std::string TypeName(const double*);
std::string TypeName(const std::string*);
template <class E, std::enable_if_t<HasEnumNames<E>::value, int> = 0>
std::string TypeName(const E*) {
  return "string";
}
template <class T>
std::string TypeName(const std::vector<T>*) {
  return "list of " + TypeName(static_cast<T*>(nullptr)) + "s";
}
std::string Suggest(const std::string& key, const std::vector<std::string>& known);
}  // namespace yaml_detail

class YamlDecoder {
 public:
  YamlDecoder(YAML::Node node, std::string prefix, DecodeContext* ctx)
      : node_(node), prefix_(std::move(prefix)), ctx_(ctx) {}

  template <class T, class C = Any>
  void Field(const char* name, T& value, const char* doc, const C& constraint = C()) {
    visited_.push_back(name);
    if (!node_.IsMap()) return;
    YAML::Node child = node_[name];
    if (!child.IsDefined()) return;  // keep the default
    std::string why;
    T decoded = value;
    if (!yaml_detail::Decode(child, &decoded, &why)) {
      Error(child, Path(name), why + ", got " + yaml_detail::Show(child));
      return;
    }
    why = yaml_detail::Violates(decoded, constraint);
    if (!why.empty()) {
      Error(child, Path(name), "expected " + why + ", got " + yaml_detail::Show(child));
      return;
    }
    value = decoded;
  }

  template <class S>
  void Section(const char* name, S& section, const char* doc) {
    visited_.push_back(name);
    YAML::Node child = node_.IsMap() ? node_[name] : YAML::Node();
    if (child.IsDefined() && !child.IsNull() && !child.IsMap()) {
      Error(child, Path(name),
            "expected a section (a map of keys), got " + yaml_detail::Show(child));
      return;
    }
    YamlDecoder sub(child.IsDefined() ? child : YAML::Node(YAML::NodeType::Map), Path(name), ctx_);
    section.Visit(sub);
    sub.Finish();
  }

  // A cross-field rule: records an error on `key` when !ok.
  void Check(bool ok, const char* key, const std::string& message);

  // Reports keys present in the node that no Field/Section named, and duplicate keys.
  void Finish();

 private:
  std::string Path(const std::string& name) const {
    return prefix_.empty() ? name : prefix_ + "." + name;
  }
  void Error(const YAML::Node& at, const std::string& path, const std::string& message);

  YAML::Node node_;
  std::string prefix_;
  DecodeContext* ctx_;
  std::vector<std::string> visited_;
};

// Writes the resolved values as YAML; with docs, each key is preceded by its documentation.
class YamlEncoder {
 public:
  YamlEncoder(YAML::Emitter* out, bool docs) : out_(out), docs_(docs) {}

  template <class T, class C = Any>
  void Field(const char* name, T& value, const char* doc, const C& = C()) {
    Key(name, doc);
    *out_ << YAML::Value;
    EmitValue(value);
  }
  template <class S>
  void Section(const char* name, S& section, const char* doc) {
    Key(name, doc);
    *out_ << YAML::Value << YAML::BeginMap;
    section.Visit(*this);
    *out_ << YAML::EndMap;
  }
  void Check(bool, const char*, const std::string&) {}

 private:
  void Key(const char* name, const char* doc);
  template <class T>
  void EmitValue(const std::vector<T>& v) {
    *out_ << YAML::Flow << YAML::BeginSeq;
    for (const auto& x : v) EmitValue(x);
    *out_ << YAML::EndSeq;
  }
  void EmitValue(const std::string& s) { *out_ << YAML::DoubleQuoted << s; }
  template <class E, std::enable_if_t<HasEnumNames<E>::value, int> = 0>
  void EmitValue(E e) {
    EmitValue(std::string(NameOf(e)));
  }
  void EmitValue(double x);
  template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
  void EmitValue(T x) {
    *out_ << x;
  }

  YAML::Emitter* out_;
  bool docs_;
};

// Writes a Markdown table row per field: | key | type | default | constraint | description |
class ReferenceWriter {
 public:
  explicit ReferenceWriter(std::string* out, std::string prefix = "")
      : out_(out), prefix_(std::move(prefix)) {}

  template <class T, class C = Any>
  void Field(const char* name, T& value, const char* doc, const C& constraint = C()) {
    YAML::Emitter e;
    YamlEncoder enc(&e, false);
    e << YAML::BeginMap;
    enc.Field("v", value, "");
    e << YAML::EndMap;
    std::string shown = YAML::Dump(YAML::Load(e.c_str())["v"]);
    std::string allowed = Describe(constraint);
    if constexpr (HasEnumNames<T>::value) allowed = NamesConstraint<T>().Describe();
    Row(name, yaml_detail::TypeName(&value), shown, allowed, doc);
  }
  template <class S>
  void Section(const char* name, S& section, const char* doc) {
    ReferenceWriter sub(out_, prefix_.empty() ? name : prefix_ + "." + name);
    section.Visit(sub);
  }
  void Check(bool, const char*, const std::string&) {}

 private:
  static std::string Describe(const Any&) { return ""; }
  static std::string Describe(const Range& r) { return r.Describe(); }
  static std::string Describe(const OneOf& c) { return c.Describe(); }
  void Row(const std::string& name, const std::string& type, const std::string& def,
           const std::string& constraint, const std::string& doc);
  std::string* out_;
  std::string prefix_;
};

// Sets `path` ("a.b.c") in `root` to `value`, creating sections as needed. Throws
// iranker::Error(kInvalidArgument) when a prefix of the path is a value, not a section.
void SetYamlPath(YAML::Node root, const std::string& path, const YAML::Node& value);

}  // namespace iranker
