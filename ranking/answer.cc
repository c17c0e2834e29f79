#include "ranking/answer.h"

#include <cctype>
#include <regex>

#include "ranking/text.h"

namespace iranker {
namespace {
int Count(std::string_view s, std::string_view tag) {
  int n = 0;
  for (size_t p = s.find(tag); p != std::string_view::npos; p = s.find(tag, p + tag.size())) ++n;
  return n;
}
bool Blank(std::string_view s) { return Trim(s).empty(); }
}  // namespace

int ParsedResponse::TagsNotExactlyOnce() const {
  return (think_open != 1) + (think_close != 1) + (answer_open != 1) + (answer_close != 1);
}

ParsedResponse ParseResponse(std::string_view s) {
  static constexpr std::string_view kTO = "<think>", kTC = "</think>", kAO = "<answer>",
                                    kAC = "</answer>";
  ParsedResponse p;
  p.think_open = Count(s, kTO);
  p.think_close = Count(s, kTC);
  p.answer_open = Count(s, kAO);
  p.answer_close = Count(s, kAC);

  const size_t ao = s.rfind(kAO);
  if (ao != std::string_view::npos) {
    const size_t start = ao + kAO.size();
    const size_t ac = s.find(kAC, start);
    if (ac != std::string_view::npos) {
      p.answer = Trim(s.substr(start, ac - start));
      p.has_answer = !p.answer.empty();
    }
  }
  if (p.TagsNotExactlyOnce() == 0) {
    const size_t to = s.find(kTO), tc = s.find(kTC), a_o = s.find(kAO), ac = s.find(kAC);
    p.layout_ok = to < tc && tc < a_o && a_o < ac &&
                  Blank(s.substr(tc + kTC.size(), a_o - tc - kTC.size())) &&
                  Blank(s.substr(ac + kAC.size()));
  }
  return p;
}

std::string StripNumbering(std::string_view line) {
  std::string t = Trim(line);
  size_t i = 0;
  while (i < t.size() && i < 4 && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
  if (i == 0 || i + 1 >= t.size()) return t;
  if ((t[i] == '.' || t[i] == ')') && (t[i + 1] == ' ' || t[i + 1] == '\t'))
    return Trim(t.substr(i + 2));
  return t;
}

int ParseLabel(std::string_view line) {
  std::string t = Trim(line);
  if (t.empty() || t.size() > 40) return 0;
  static const std::regex kLabel(
      R"(^(?:(?:passage|candidate|item|model|llm|option|document|doc|movie|game|product)\s*)?)"
      R"((?:no\.?\s*|number\s*|#\s*)?[\[(<]?\s*(\d{1,4})\s*[\])>]?\s*[.:;,]?$)",
      std::regex::icase);
  std::smatch m;
  if (!std::regex_match(t, m, kLabel)) return 0;
  const int v = std::stoi(m[1].str());
  return v > 0 ? v : 0;
}

}  // namespace iranker
