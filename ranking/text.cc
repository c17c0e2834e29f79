#include "ranking/text.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>

namespace iranker {
namespace {
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsWordByte(unsigned char c) { return std::isalnum(c) || c >= 0x80; }
}  // namespace

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && IsSpace(s[b])) ++b;
  while (e > b && IsSpace(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::string NormalizeForMatch(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (char c : s) {
    if (IsSpace(c)) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  // Decoration a model wraps around a copied title: quotes, markdown emphasis, a final period.
  auto strip_edges = [&] {
    bool changed = true;
    while (changed && !out.empty()) {
      changed = false;
      const char f = out.front(), l = out.back();
      if (f == '"' || f == '\'' || f == '`' || f == '*') {
        out.erase(out.begin());
        changed = true;
      } else if (l == '"' || l == '\'' || l == '`' || l == '*' || l == '.' || l == ',' ||
                 l == ';' || l == ':') {
        out.pop_back();
        changed = true;
      }
    }
  };
  strip_edges();
  return Trim(out);
}

std::vector<std::string> Tokenize(std::string_view s) {
  std::vector<std::string> tokens;
  std::string cur;
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (IsWordByte(c)) {
      cur.push_back(static_cast<char>(std::tolower(c)));
    } else if (!cur.empty()) {
      tokens.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) tokens.push_back(std::move(cur));
  return tokens;
}

size_t LongestCommonSubsequence(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty()) return 0;
  std::vector<size_t> row(b.size() + 1, 0);
  for (char ca : a) {
    size_t diag = 0;  // row[j-1] of the previous row
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = (ca == b[j - 1]) ? diag + 1 : std::max(row[j], row[j - 1]);
      diag = up;
    }
  }
  return row[b.size()];
}

std::vector<std::string> SplitLines(std::string_view s) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) nl = s.size();
    std::string line(s.substr(start, nl - start));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = nl + 1;
  }
  return lines;
}

std::string DecodeHtmlEntities(const std::string& s) {
  static const std::map<std::string, std::string> kNamed = {
      {"amp", "&"},       {"lt", "<"},         {"gt", ">"},       {"quot", "\""},
      {"apos", "'"},      {"nbsp", " "},       {"reg", "\u00AE"}, {"trade", "\u2122"},
      {"copy", "\u00A9"}, {"eacute", "\u00E9"}};
  auto utf8 = [](uint32_t cp) {
    std::string o;
    if (cp < 0x80) {
      o += static_cast<char>(cp);
    } else if (cp < 0x800) {
      o += static_cast<char>(0xC0 | (cp >> 6));
      o += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      o += static_cast<char>(0xE0 | (cp >> 12));
      o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      o += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      o += static_cast<char>(0xF0 | (cp >> 18));
      o += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      o += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return o;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '&') {
      const size_t semi = s.find(';', i);
      if (semi != std::string::npos && semi - i <= 10) {
        const std::string name = s.substr(i + 1, semi - i - 1);
        std::string rep;
        if (auto it = kNamed.find(name); it != kNamed.end()) {
          rep = it->second;
        } else if (name.size() > 1 && name[0] == '#') {
          try {
            const bool hex = name[1] == 'x' || name[1] == 'X';
            const uint32_t cp =
                static_cast<uint32_t>(std::stoul(name.substr(hex ? 2 : 1), nullptr, hex ? 16 : 10));
            if (cp > 0 && cp < 0x110000) rep = utf8(cp);
          } catch (const std::exception&) {
          }
        }
        if (!rep.empty()) {
          out += rep;
          i = semi;
          continue;
        }
      }
    }
    out += s[i];
  }
  return out;
}

}  // namespace iranker
