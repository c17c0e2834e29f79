#include "ranking/prompt.h"

#include <algorithm>

#include "base/atomic_file.h"
#include "base/error.h"
#include "ranking/text.h"

namespace iranker {
namespace {

const char* const kPlaceholders[] = {"task",           "query", "history",   "candidates",
                                     "num_candidates", "items", "preference"};

bool KnownPlaceholder(const std::string& name) {
  for (const char* p : kPlaceholders)
    if (name == p) return true;
  return false;
}

// Replaces {{name}} in one line; sets *all_empty when the line has placeholders and every one of
// them rendered empty.
std::string Substitute(const std::string& line, const std::map<std::string, std::string>& values,
                       bool* all_empty) {
  std::string out;
  size_t pos = 0;
  bool had = false, any_text = false;
  while (true) {
    size_t open = line.find("{{", pos);
    if (open == std::string::npos) break;
    size_t close = line.find("}}", open + 2);
    if (close == std::string::npos) break;
    out += line.substr(pos, open - pos);
    const std::string& value = values.at(line.substr(open + 2, close - open - 2));
    out += value;
    had = true;
    any_text |= !Trim(value).empty();
    pos = close + 2;
  }
  out += line.substr(pos);
  *all_empty = had && !any_text;
  return out;
}

std::string Fill(const std::string& text, const std::map<std::string, std::string>& values) {
  std::string out;
  bool first = true;
  for (const auto& line : SplitLines(text)) {
    bool all_empty = false;
    std::string rendered = Substitute(line, values, &all_empty);
    if (all_empty) continue;
    if (!first) out += '\n';
    out += rendered;
    first = false;
  }
  return out;
}

std::string Cut(const std::string& text, int max_chars) {
  if (max_chars <= 0 || text.size() <= static_cast<size_t>(max_chars)) return text;
  size_t cut = text.rfind(' ', max_chars);
  if (cut == std::string::npos || cut == 0) {
    cut = max_chars;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
  }
  return Trim(text.substr(0, cut)) + " ...";
}

std::string ExtraString(const QueryRecord& record, const char* key) {
  auto it = record.extra.find(key);
  return it != record.extra.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

std::string ItemNoun(const QueryRecord& record, const std::string& scenario) {
  std::string noun = ExtraString(record, "item_noun");
  if (!noun.empty()) return noun;
  if (scenario == "routing") return "models";
  if (scenario == "passage") return "passages";
  return "items";
}

std::string PreferenceText(const QueryRecord& record) {
  const std::string p = ExtraString(record, "preference");
  if (p == "performance")
    return "performance first: choose for answer quality alone; price does not matter.";
  if (p == "balance") return "balance: answer quality and price weigh equally.";
  if (p == "cost") return "cost first: price weighs four times as much as answer quality.";
  return p;
}

const char* RankModeName(RankMode m) { return m == RankMode::kIRanker ? "iranker" : "dranker"; }

PromptTemplate ParsePromptTemplate(const std::string& text, const std::string& path) {
  PromptTemplate t;
  t.path = path;
  std::string* section = nullptr;
  bool seen_system = false, seen_user = false;
  std::vector<std::string> lines = SplitLines(text);
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const std::string where = path + ":" + std::to_string(i + 1);
    if (line == "[system]" || line == "[user]") {
      bool& seen = line == "[system]" ? seen_system : seen_user;
      if (seen) Fail(ErrorCode::kInvalidArgument, where, ": second ", line, " section");
      seen = true;
      section = line == "[system]" ? &t.system : &t.user;
      continue;
    }
    if (!section) {
      if (line.empty() || line[0] == '#') continue;
      Fail(ErrorCode::kInvalidArgument, where, ": text before the [system] section");
    }
    for (size_t p = line.find("{{"); p != std::string::npos; p = line.find("{{", p + 2)) {
      size_t q = line.find("}}", p + 2);
      if (q == std::string::npos) Fail(ErrorCode::kInvalidArgument, where, ": unclosed '{{'");
      const std::string name = line.substr(p + 2, q - p - 2);
      if (!KnownPlaceholder(name))
        Fail(ErrorCode::kInvalidArgument, where, ": unknown placeholder {{", name,
             "}} (known: task, query, history, candidates, num_candidates, items, preference)");
    }
    *section += (section->empty() ? "" : "\n") + line;
  }
  if (!seen_system || !seen_user)
    Fail(ErrorCode::kInvalidArgument, path, ": needs a [system] and a [user] section");
  t.system = Trim(t.system);
  t.user = Trim(t.user);
  return t;
}

PromptSet::PromptSet(const PromptOptions& options) : options_(options) {
  for (const auto& scenario : Scenarios())
    for (RankMode mode : {RankMode::kIRanker, RankMode::kDRanker}) {
      const std::string key = scenario + "_" + RankModeName(mode);
      const std::string path = options_.dir + "/" + key + ".txt";
      templates_[key] = ParsePromptTemplate(ReadFile(path), path);
    }
}

std::string PromptSet::Render(const QueryRecord& record, RankMode mode) const {
  std::vector<std::string> texts;
  for (const auto& c : record.candidates) texts.push_back(c.text);
  return Render(record, texts, mode);
}

std::string PromptSet::Render(const QueryRecord& record, const std::vector<std::string>& shown,
                              RankMode mode) const {
  const std::string scenario =
      record.scenario.empty() ? options_.default_scenario : record.scenario;
  const PromptTemplate& t = templates_.at(scenario + "_" + RankModeName(mode));
  std::vector<std::string> history = History(record);
  if (static_cast<int>(history.size()) > options_.max_history)
    history.erase(history.begin(), history.end() - options_.max_history);
  std::string hist;
  for (const auto& h : history) hist += (hist.empty() ? "- " : "\n- ") + h;
  if (hist.empty()) hist = "(no history)";
  const std::map<std::string, std::string> values = {
      {"task", record.task},
      {"query", record.query},
      {"history", hist},
      {"candidates", FormatCandidates(shown, options_.max_candidate_chars)},
      {"num_candidates", std::to_string(shown.size())},
      {"items", ItemNoun(record, scenario)},
      {"preference", PreferenceText(record)},
  };
  const std::string system = Fill(t.system, values), user = Fill(t.user, values);
  if (options_.chat_format == ChatFormat::kPlain)
    return system + "\n\n" + user + "\n\n" + options_.assistant_prefill;
  return ChatMl(system, user, options_.assistant_prefill);
}

std::string FormatCandidates(const std::vector<std::string>& texts, int max_chars) {
  std::string out;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (i) out += '\n';
    // Newlines inside a text would break the one-line-per-candidate layout.
    std::string flat = texts[i];
    std::replace(flat.begin(), flat.end(), '\n', ' ');
    out += std::to_string(i + 1) + ". " + Cut(Trim(flat), max_chars);
  }
  return out;
}

std::string ChatMl(const std::string& system, const std::string& user, const std::string& prefill) {
  return "<|im_start|>system\n" + system + "<|im_end|>\n<|im_start|>user\n" + user +
         "<|im_end|>\n<|im_start|>assistant\n" + prefill;
}

}  // namespace iranker
