#include "trainer/yaml_visitors.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "base/error.h"

namespace iranker {
namespace yaml_detail {
namespace {

bool ScalarText(const YAML::Node& n, std::string* text, std::string* why) {
  if (!n.IsScalar()) {
    *why = n.IsMap()        ? "expected a value, not a section"
           : n.IsSequence() ? "expected a value, not a list"
                            : "expected a value";
    return false;
  }
  *text = n.Scalar();
  return true;
}

bool ParseInt(const YAML::Node& n, long long lo, long long hi, long long* out, std::string* why,
              const char* what) {
  std::string s;
  if (!ScalarText(n, &s, why)) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 0);
  if (s.empty() || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
    *why = std::string("expected ") + what;
    return false;
  }
  *out = v;
  return true;
}
}  // namespace

bool Decode(const YAML::Node& n, bool* out, std::string* why) {
  std::string s;
  if (!ScalarText(n, &s, why)) return false;
  std::string l = s;
  std::transform(l.begin(), l.end(), l.begin(), ::tolower);
  if (l == "true" || l == "yes" || l == "on") {
    *out = true;
    return true;
  }
  if (l == "false" || l == "no" || l == "off") {
    *out = false;
    return true;
  }
  *why = "expected a boolean (true or false)";
  return false;
}

bool Decode(const YAML::Node& n, int* out, std::string* why) {
  long long v;
  if (!ParseInt(n, INT_MIN, INT_MAX, &v, why, "an integer")) return false;
  *out = static_cast<int>(v);
  return true;
}

bool Decode(const YAML::Node& n, int64_t* out, std::string* why) {
  long long v;
  if (!ParseInt(n, LLONG_MIN, LLONG_MAX, &v, why, "an integer")) return false;
  *out = v;
  return true;
}

bool Decode(const YAML::Node& n, uint64_t* out, std::string* why) {
  std::string s;
  if (!ScalarText(n, &s, why)) return false;
  errno = 0;
  char* end = nullptr;
  if (s.empty() || s[0] == '-') {
    *why = "expected a non-negative integer";
    return false;
  }
  unsigned long long v = std::strtoull(s.c_str(), &end, 0);
  if (*end != '\0' || errno == ERANGE) {
    *why = "expected a non-negative integer";
    return false;
  }
  *out = v;
  return true;
}

bool Decode(const YAML::Node& n, double* out, std::string* why) {
  std::string s;
  if (!ScalarText(n, &s, why)) return false;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v)) {
    *why = "expected a number";
    return false;
  }
  *out = v;
  return true;
}

bool Decode(const YAML::Node& n, std::string* out, std::string* why) {
  if (n.IsNull()) {
    *why = "expected a string (write \"\" for an empty one)";
    return false;
  }
  return ScalarText(n, out, why);
}

std::string Violates(double x, const Range& r) {
  return r.Contains(x) ? "" : "a value " + r.Describe();
}
std::string Violates(const std::string& s, const OneOf& c) {
  return c.Contains(s) ? "" : c.Describe();
}

std::string Show(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a section";
  return "?";
}

std::string TypeName(const bool*) { return "bool"; }
std::string TypeName(const int*) { return "int"; }
std::string TypeName(const int64_t*) { return "int"; }
std::string TypeName(const uint64_t*) { return "uint"; }
std::string TypeName(const double*) { return "float"; }
std::string TypeName(const std::string*) { return "string"; }

std::string Suggest(const std::string& key, const std::vector<std::string>& known) {
  // Edit distance with adjacent transpositions (optimal string alignment); suggest the closest
  // known key within a third of its length.
  auto dist = [](const std::string& a, const std::string& b) {
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i)
      for (size_t j = 1; j <= b.size(); ++j) {
        d[i][j] =
            std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
          d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    return d[a.size()][b.size()];
  };
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& k : known) {
    size_t d = dist(key, k);
    if (d < best_d) best_d = d, best = k;
  }
  if (!best.empty() && best_d <= std::max<size_t>(1, best.size() / 3)) return best;
  return "";
}
}  // namespace yaml_detail

void YamlDecoder::Error(const YAML::Node& at, const std::string& path, const std::string& message) {
  std::string where;
  auto it = ctx_->overrides.find(path);
  if (it == ctx_->overrides.end()) {  // a section created by an override of a key below it
    for (it = ctx_->overrides.begin(); it != ctx_->overrides.end(); ++it)
      if (it->first.rfind(path + ".", 0) == 0) break;
  }
  if (it != ctx_->overrides.end()) {
    where = "command-line override '" + it->second + "'";
  } else if (!at.Mark().is_null()) {
    where = ctx_->file + ":" + std::to_string(at.Mark().line + 1) + ":" +
            std::to_string(at.Mark().column + 1);
  } else {
    where = ctx_->file;
  }
  ctx_->errors.push_back(where + ": " + path + ": " + message);
}

void YamlDecoder::Check(bool ok, const char* key, const std::string& message) {
  if (ok) return;
  YAML::Node at = node_.IsMap() && node_[key].IsDefined() ? node_[key] : node_;
  Error(at, Path(key), message);
}

void YamlDecoder::Finish() {
  if (!node_.IsMap()) return;
  std::set<std::string> seen;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
    if (!seen.insert(key).second) {
      Error(it->first, Path(key), "duplicate key");
      continue;
    }
    if (std::find(visited_.begin(), visited_.end(), key) != visited_.end()) continue;
    std::string msg = "unknown key";
    std::string hint = yaml_detail::Suggest(key, visited_);
    if (!hint.empty()) {
      msg += " (did you mean '" + Path(hint) + "'?)";
    } else {
      msg += " (known keys" + (prefix_.empty() ? std::string() : " in '" + prefix_ + "'") + ": ";
      for (size_t i = 0; i < visited_.size(); ++i) msg += (i ? ", " : "") + visited_[i];
      msg += ")";
    }
    Error(it->first, Path(key), msg);
  }
}

void YamlEncoder::Key(const char* name, const char* doc) {
  if (docs_ && doc && *doc) *out_ << YAML::Comment(doc) << YAML::Newline;
  *out_ << YAML::Key << name;
}

void YamlEncoder::EmitValue(double x) {
  // Shortest text that reads back as the same double.
  std::ostringstream os;
  os.precision(17);
  os << x;
  std::string s = os.str();
  for (int p = 1; p <= 17; ++p) {
    std::ostringstream t;
    t.precision(p);
    t << x;
    if (std::strtod(t.str().c_str(), nullptr) == x) {
      s = t.str();
      break;
    }
  }
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  *out_ << s;
}

void ReferenceWriter::Row(const std::string& name, const std::string& type, const std::string& def,
                          const std::string& constraint, const std::string& doc) {
  std::string key = prefix_.empty() ? name : prefix_ + "." + name;
  std::string d = doc;
  std::replace(d.begin(), d.end(), '|', '/');
  *out_ += "| `" + key + "` | " + type + " | `" + def + "` | " + constraint + " | " + d + " |\n";
}

void SetYamlPath(YAML::Node root, const std::string& path, const YAML::Node& value) {
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string p; std::getline(ss, p, '.');) {
    if (p.empty()) Fail(ErrorCode::kInvalidArgument, "bad key path '", path, "'");
    parts.push_back(p);
  }
  if (parts.empty()) Fail(ErrorCode::kInvalidArgument, "empty key path");
  YAML::Node cur;
  cur.reset(root);
  std::string walked;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    walked += (i ? "." : "") + parts[i];
    YAML::Node child = cur[parts[i]];
    if (!child.IsDefined() || child.IsNull()) {
      cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
    } else if (!child.IsMap()) {
      Fail(ErrorCode::kInvalidArgument, "override '", path, "': '", walked,
           "' is a value, not a section");
    }
    YAML::Node next = cur[parts[i]];
    cur.reset(next);
  }
  cur[parts.back()] = value;
}

}  // namespace iranker
