// MS MARCO v1.1 (JSON; one object per query) -> passage records, built as the IRanker reference
// code builds Passage-5/-7/-9.
#include <algorithm>
#include <fstream>
#include <map>

#include "base/error.h"
#include "base/rng.h"
#include "ranking/convert.h"
#include "ranking/text.h"

namespace iranker {
namespace {

// Characters as Python's len() counts them: UTF-8 code points.
int64_t CodePoints(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

struct Passage {
  bool selected;
  std::string text;
};

// `passages` is either a list of {is_selected, url, passage_text} (the v1.1 release) or an object
// of parallel lists {is_selected: [...], passage_text: [...], url: [...]} (Hugging Face's export).
std::vector<Passage> ReadPassages(const nlohmann::json& q, const std::string& where) {
  auto it = q.find("passages");
  if (it == q.end()) Fail(ErrorCode::kInvalidArgument, where, ": no 'passages' field");
  auto flag = [&](const nlohmann::json& v) {
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number()) return v.get<double>() != 0;
    Fail(ErrorCode::kInvalidArgument, where, ": 'is_selected' is not a number");
  };
  auto text = [&](const nlohmann::json& v) {
    if (!v.is_string())
      Fail(ErrorCode::kInvalidArgument, where, ": 'passage_text' is not a string");
    return v.get<std::string>();
  };
  std::vector<Passage> out;
  if (it->is_array()) {
    for (const auto& p : *it) {
      if (!p.is_object() || !p.contains("is_selected") || !p.contains("passage_text"))
        Fail(ErrorCode::kInvalidArgument, where,
             ": a passage is not an object with 'is_selected' and 'passage_text'");
      out.push_back({flag(p["is_selected"]), text(p["passage_text"])});
    }
  } else if (it->is_object() && it->contains("is_selected") && it->contains("passage_text") &&
             (*it)["is_selected"].is_array() && (*it)["passage_text"].is_array()) {
    const auto& sel = (*it)["is_selected"];
    const auto& txt = (*it)["passage_text"];
    if (sel.size() != txt.size())
      Fail(ErrorCode::kInvalidArgument, where, ": 'is_selected' has ", sel.size(),
           " entries, 'passage_text' ", txt.size());
    for (size_t i = 0; i < sel.size(); ++i) out.push_back({flag(sel[i]), text(txt[i])});
  } else {
    Fail(ErrorCode::kInvalidArgument, where,
         ": 'passages' is neither a list of passages nor an object of parallel lists");
  }
  return out;
}

struct Kept {
  std::string id, query;
  nlohmann::json query_id;
  std::vector<Passage> passages;
  int selected = -1;
};

}  // namespace

std::vector<QueryRecord> ConvertMsMarco(const MsMarcoOptions& o, ConvertStats* stats) {
  if (o.candidates < 2) Fail(ErrorCode::kInvalidArgument, "--candidates must be >= 2");
  std::ifstream in(o.input);
  if (!in) Fail(ErrorCode::kNotFound, o.input, ": cannot open");
  int64_t not_one_selected = 0, other_count = 0, too_long = 0, empty_text = 0, seen = 0;
  std::vector<Kept> kept;
  auto consider = [&](const nlohmann::json& q, const std::string& where, int64_t number) {
    if (!q.is_object()) Fail(ErrorCode::kInvalidArgument, where, ": not a JSON object");
    if (q.contains("query") && q["query"].is_object())
      Fail(ErrorCode::kInvalidArgument, where,
           ": a column-oriented file (MS MARCO v2.1); convert the v1.1 release or a "
           "one-object-per-query export");
    ++seen;
    auto query = q.find("query");
    if (query == q.end() || !query->is_string())
      Fail(ErrorCode::kInvalidArgument, where, ": no string 'query' field");
    std::vector<Passage> passages = ReadPassages(q, where);
    const auto selected = std::count_if(passages.begin(), passages.end(),
                                        [](const Passage& p) { return p.selected; });
    if (selected != 1) {
      ++not_one_selected;
      return;
    }
    if (static_cast<int>(passages.size()) != o.candidates) {
      ++other_count;
      return;
    }
    int64_t chars = 0;
    bool empty = false;
    for (const auto& p : passages) {
      chars += CodePoints(p.text);
      empty |= Trim(p.text).empty();
    }
    if (o.max_chars > 0 && chars > o.max_chars) {
      ++too_long;
      return;
    }
    if (empty) {
      ++empty_text;
      return;
    }
    Kept k;
    k.query = query->get<std::string>();
    if (q.contains("query_id")) {
      k.query_id = q["query_id"];
      k.id = k.query_id.is_string() ? k.query_id.get<std::string>() : k.query_id.dump();
    } else {
      k.id = std::to_string(number);
    }
    for (size_t i = 0; i < passages.size(); ++i)
      if (passages[i].selected) k.selected = static_cast<int>(i);
    k.passages = std::move(passages);
    kept.push_back(std::move(k));
  };

  char first = 0;
  while (in.get(first) && std::isspace(static_cast<unsigned char>(first))) {
  }
  in.unget();
  if (first == '[') {
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto j = nlohmann::json::parse(all, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) Fail(ErrorCode::kInvalidArgument, o.input, ": not valid JSON");
    for (size_t i = 0; i < j.size(); ++i)
      consider(j[i], o.input + ": element " + std::to_string(i), static_cast<int64_t>(i));
  } else {
    std::string line;
    int64_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (Trim(line).empty()) continue;
      const std::string where = o.input + ":" + std::to_string(n);
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) Fail(ErrorCode::kInvalidArgument, where, ": not valid JSON");
      consider(j, where, n);
    }
  }

  // The reference samples min(available, 10000 / (N - 1)) queries; the kept ones stay in file
  // order.
  const int64_t limit = o.max_queries >= 0 ? o.max_queries : 10000 / (o.candidates - 1);
  std::vector<size_t> chosen(kept.size());
  for (size_t i = 0; i < chosen.size(); ++i) chosen[i] = i;
  if (limit > 0 && static_cast<int64_t>(kept.size()) > limit) {
    Rng rng(o.seed);
    for (int64_t i = 0; i < limit; ++i)
      std::swap(chosen[i], chosen[i + rng.Below(chosen.size() - i)]);
    chosen.resize(limit);
    std::sort(chosen.begin(), chosen.end());
  }
  std::vector<QueryRecord> out;
  for (size_t c : chosen) {
    Kept& k = kept[c];
    QueryRecord r;
    r.id = k.id;
    r.task = o.task.empty() ? "Passage-" + std::to_string(o.candidates) : o.task;
    r.scenario = "passage";
    r.query = k.query;
    for (size_t i = 0; i < k.passages.size(); ++i) {
      r.candidates.push_back({std::to_string(i), k.passages[i].text});
      r.relevance.push_back(static_cast<int>(i) == k.selected ? 1.0 : 0.0);
    }
    r.positive = k.selected;
    if (!k.query_id.is_null()) r.extra["query_id"] = k.query_id;
    ValidateRecord(r);
    out.push_back(std::move(r));
  }
  if (stats) {
    stats->records = static_cast<int64_t>(out.size());
    stats->skipped = seen - static_cast<int64_t>(out.size());
    auto note = [&](int64_t n, const std::string& why) {
      if (n) stats->notes.push_back(std::to_string(n) + " queries skipped: " + why);
    };
    note(not_one_selected, "not exactly one selected passage");
    note(other_count, "not exactly " + std::to_string(o.candidates) + " passages");
    note(too_long, "passages longer than " + std::to_string(o.max_chars) + " characters in all");
    note(empty_text, "an empty passage");
    note(static_cast<int64_t>(kept.size() - out.size()),
         "not drawn (at most " + std::to_string(limit) + " queries are sampled)");
  }
  return out;
}

}  // namespace iranker
