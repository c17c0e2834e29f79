#include "trajectory/schema.h"

#include <cstdint>
#include <cstdio>
#include <set>
#include <type_traits>

#include "base/error.h"
#include "trajectory/record.h"

namespace iranker {
namespace {

template <class T>
const char* ElementType() {
  if constexpr (std::is_same_v<T, uint64_t>) {
    return "u64";
  } else if constexpr (std::is_same_v<T, int32_t>) {
    return "i32";
  } else if constexpr (std::is_same_v<T, float>) {
    return "f32";
  } else if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, char>) {
    return "u8";
  } else {
    return ElementType<typename T::value_type>();
  }
}

template <class R>
struct Lister {
  std::string group;
  std::vector<SchemaColumn>* out;
  std::set<std::string> ends_seen;
  template <class T>
  void Field(const char* name, T R::*, const char* doc, const char* ends = nullptr) {
    // Scalars have one element a row; strings and arrays need their end-offset column.
    IR_CHECK_EQ(std::is_arithmetic_v<T>, ends == nullptr);
    SchemaColumn c;
    c.group = group;
    c.name = name;
    c.type = ElementType<T>();
    c.ends = ends ? ends : "";
    c.owns_ends = ends && ends_seen.insert(ends).second;
    c.doc = doc;
    out->push_back(std::move(c));
  }
};

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

const char* NumpyType(const std::string& t) {
  if (t == "u64") return "uint64";
  if (t == "i32") return "int32";
  if (t == "f32") return "float32";
  return "uint8";
}

}  // namespace

std::vector<SchemaColumn> TrajectorySchema() {
  std::vector<SchemaColumn> out;
  Lister<StepRecord> steps{"steps", &out, {}};
  StepRecord::Visit(steps);
  Lister<EpisodeSummary> episodes{"episodes", &out, {}};
  EpisodeSummary::Visit(episodes);
  return out;
}

std::string TrajectorySchemaMarkdown() {
  std::string md;
  std::string group;
  for (const auto& c : TrajectorySchema()) {
    if (c.group != group) {
      group = c.group;
      md += (md.empty() ? "" : "\n") + ("Group `/" + group + "`:\n\n");
      md += "| column | type | meaning |\n|---|---|---|\n";
    }
    std::string column = "`" + c.name + "`", type = c.type;
    if (c.owns_ends) {
      column += " + `" + c.ends + "`";
      type += " flat + u64 ends";
    } else if (!c.ends.empty()) {
      type += " flat (ends: `" + c.ends + "`)";
    }
    md += "| " + column + " | " + type + " | " + Escape(c.doc) + " |\n";
  }
  return md;
}

std::string TrajectorySchemaPython() {
  std::string py = "COLUMNS = {\n";
  std::string group;
  for (const auto& c : TrajectorySchema()) {
    if (c.group != group) {
      if (!group.empty()) py += "    },\n";
      group = c.group;
      py += "    \"" + group + "\": {\n";
    }
    py += "        \"" + c.name + "\": (\"" + NumpyType(c.type) + "\", " +
          (c.ends.empty() ? std::string("None") : "\"" + c.ends + "\"") + "),\n";
  }
  py += "    },\n}\n";
  return py;
}

std::string TrajectorySchemaFingerprint() {
  // FNV-1a 64 over the listing: stable across builds and platforms.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const std::string& s) {
    for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  for (const auto& c : TrajectorySchema()) {
    mix(c.group);
    mix(c.name);
    mix(c.type);
    mix(c.ends);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace iranker
