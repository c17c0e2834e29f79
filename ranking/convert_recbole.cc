// RecBole atomic files (.inter/.item) -> recommendation records.
#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "base/error.h"
#include "base/rng.h"
#include "ranking/convert.h"
#include "ranking/text.h"

namespace iranker {
namespace {

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t t = line.find('\t', start);
    out.push_back(line.substr(start, t == std::string::npos ? std::string::npos : t - start));
    if (t == std::string::npos) break;
    start = t + 1;
  }
  if (!out.empty() && !out.back().empty() && out.back().back() == '\r') out.back().pop_back();
  return out;
}

std::vector<std::string> Words(const std::string& s) {
  std::istringstream is(s);
  std::vector<std::string> out;
  std::string w;
  while (is >> w) out.push_back(w);
  return out;
}

// A typed TSV file: header "name:type" fields; columns looked up by name.
struct AtomicFile {
  std::string path;
  std::ifstream in;
  std::vector<std::string> names;
  int64_t line = 1;

  explicit AtomicFile(const std::string& p) : path(p), in(p) {
    if (!in) Fail(ErrorCode::kNotFound, p, ": cannot open");
    std::string header;
    if (!std::getline(in, header)) Fail(ErrorCode::kInvalidArgument, p, ":1: empty file");
    for (auto& f : SplitTabs(header)) names.push_back(f.substr(0, f.find(':')));
  }
  int Column(const std::string& name) const {
    auto it = std::find(names.begin(), names.end(), name);
    return it == names.end() ? -1 : static_cast<int>(it - names.begin());
  }
  int Require(const std::string& name) const {
    int c = Column(name);
    if (c < 0) Fail(ErrorCode::kInvalidArgument, path, ":1: no '", name, "' column in the header");
    return c;
  }
  bool Next(std::vector<std::string>* row) {
    std::string l;
    while (std::getline(in, l)) {
      ++line;
      if (Trim(l).empty()) continue;
      *row = SplitTabs(l);
      if (row->size() != names.size())
        Fail(ErrorCode::kInvalidArgument, path, ":", line, ": ", row->size(),
             " fields, header has ", names.size());
      return true;
    }
    return false;
  }
};

std::unordered_map<std::string, std::string> ReadItems(const std::string& path) {
  AtomicFile f(path);
  const int id = f.Require("item_id");
  int title = -1;
  for (size_t i = 0; i < f.names.size() && title < 0; ++i)
    if (f.names[i].find("title") != std::string::npos) title = static_cast<int>(i);
  for (size_t i = 0; i < f.names.size() && title < 0; ++i)
    if (f.names[i].find("name") != std::string::npos) title = static_cast<int>(i);
  if (title < 0) Fail(ErrorCode::kInvalidArgument, path, ":1: no title or name column");
  const int year = f.Column("release_year");
  std::unordered_map<std::string, std::string> items;
  std::vector<std::string> row;
  while (f.Next(&row)) {
    std::string text = Trim(DecodeHtmlEntities(row[title]));
    if (year >= 0 && !Trim(row[year]).empty()) text += " (" + Trim(row[year]) + ")";
    if (!text.empty()) items[row[id]] = text;
  }
  return items;
}

struct UserSeq {
  std::string user;
  std::vector<std::string> history;  // oldest first
  std::string target;
  std::vector<std::string> all;  // interaction files: every item, oldest first
};

std::vector<UserSeq> ReadSequences(const std::string& path) {
  AtomicFile f(path);
  const int user = f.Require("user_id");
  std::vector<UserSeq> out;
  std::vector<std::string> row;
  if (f.Column("item_id_list") >= 0) {
    const int list = f.Require("item_id_list"), target = f.Require("item_id");
    while (f.Next(&row)) out.push_back({row[user], Words(row[list]), row[target], {}});
    return out;
  }
  const int item = f.Require("item_id"), time = f.Require("timestamp");
  struct Event {
    double time;
    int64_t order;
    std::string item;
  };
  std::map<std::string, std::vector<Event>> by_user;  // ordered: deterministic output
  int64_t order = 0;
  while (f.Next(&row)) {
    double t;
    try {
      t = std::stod(row[time]);
    } catch (const std::exception&) {
      Fail(ErrorCode::kInvalidArgument, path, ":", f.line, ": timestamp '", row[time],
           "' is not a number");
    }
    by_user[row[user]].push_back({t, order++, row[item]});
  }
  for (auto& [u, events] : by_user) {
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& a, const Event& b) { return a.time < b.time; });
    UserSeq s{u, {}, events.back().item, {}};
    for (size_t i = 0; i + 1 < events.size(); ++i) s.history.push_back(events[i].item);
    for (const auto& e : events) s.all.push_back(e.item);
    out.push_back(std::move(s));
  }
  return out;
}

std::unordered_map<std::string, std::vector<std::string>> ReadCandidateFile(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) Fail(ErrorCode::kNotFound, path, ": cannot open");
  std::unordered_map<std::string, std::vector<std::string>> out;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto f = SplitTabs(line);
    if (Trim(line).empty()) continue;
    if (f.size() != 2)
      Fail(ErrorCode::kInvalidArgument, path, ":", n, ": expected 'user_id<TAB>item ids'");
    out[f[0]] = Words(f[1]);
  }
  return out;
}

// The paper's protocol: users with at least history + 1 interactions, a seeded sample of
// max_users of them (kept in user order), history = the first `history` items, target = the next.
std::vector<UserSeq> PaperUsers(std::vector<UserSeq> users, const RecboleOptions& o,
                                std::map<std::string, int64_t>* skipped) {
  std::vector<UserSeq> valid;
  for (auto& s : users) {
    if (s.all.empty() && !s.history.empty())
      Fail(ErrorCode::kInvalidArgument, o.inter,
           ": --protocol paper needs an interaction file (user_id, item_id, timestamp), not "
           "sequences");
    if (static_cast<int>(s.all.size()) < o.history + 1) {
      ++(*skipped)["fewer than --history + 1 interactions"];
      continue;
    }
    s.history.assign(s.all.begin(), s.all.begin() + o.history);
    s.target = s.all[o.history];
    valid.push_back(std::move(s));
  }
  if (o.max_users > 0 && static_cast<int64_t>(valid.size()) > o.max_users) {
    std::vector<size_t> pick(valid.size());
    for (size_t i = 0; i < pick.size(); ++i) pick[i] = i;
    Rng rng(DeriveSeed(o.seed, 0x5553455253ull));  // "USERS"
    for (int64_t i = 0; i < o.max_users; ++i)
      std::swap(pick[i], pick[i + rng.Below(pick.size() - i)]);
    pick.resize(o.max_users);
    std::sort(pick.begin(), pick.end());
    (*skipped)["not drawn (--max-users of the qualifying users are sampled)"] +=
        static_cast<int64_t>(valid.size() - pick.size());
    std::vector<UserSeq> chosen;
    for (size_t i : pick) chosen.push_back(std::move(valid[i]));
    return chosen;
  }
  return valid;
}

}  // namespace

std::vector<QueryRecord> ConvertRecbole(const RecboleOptions& o, ConvertStats* stats) {
  if (o.candidates < 2) Fail(ErrorCode::kInvalidArgument, "--candidates must be >= 2");
  const auto items = ReadItems(o.item);
  std::vector<std::string> all_ids;
  for (const auto& [id, text] : items) all_ids.push_back(id);
  std::sort(all_ids.begin(), all_ids.end());  // hash order is not portable
  std::unordered_map<std::string, std::vector<std::string>> fixed;
  if (!o.candidates_file.empty()) fixed = ReadCandidateFile(o.candidates_file);
  std::map<std::string, int64_t> skipped;
  std::vector<QueryRecord> out;
  const bool paper = o.protocol == "paper";
  if (!paper && o.protocol != "last")
    Fail(ErrorCode::kInvalidArgument, "unknown --protocol '", o.protocol, "' (last or paper)");
  auto users = ReadSequences(o.inter);
  if (paper) users = PaperUsers(std::move(users), o, &skipped);
  for (size_t u = 0; u < users.size(); ++u) {
    if (!paper && o.max_users > 0 && static_cast<int64_t>(out.size()) >= o.max_users) break;
    const UserSeq& s = users[u];
    if (!items.count(s.target)) {
      ++skipped["target item has no title in the .item file"];
      continue;
    }
    std::vector<std::string> history;
    for (const auto& h : s.history)
      if (items.count(h)) history.push_back(h);
    if (static_cast<int>(history.size()) < o.min_history) {
      ++skipped["history shorter than --min-history"];
      continue;
    }
    std::unordered_set<std::string> seen(s.history.begin(), s.history.end());
    seen.insert(s.target);
    std::vector<std::string> cands = {s.target};
    Rng rng(DeriveSeed(o.seed, u));
    if (!o.candidates_file.empty()) {
      auto it = fixed.find(s.user);
      if (it == fixed.end()) {
        ++skipped["user absent from the candidates file"];
        continue;
      }
      for (const auto& c : it->second)
        if (static_cast<int>(cands.size()) < o.candidates && c != s.target && items.count(c) &&
            std::find(cands.begin(), cands.end(), c) == cands.end())
          cands.push_back(c);
    } else {
      if (all_ids.size() < seen.size() + o.candidates) {
        ++skipped["too few unseen items for the negatives"];
        continue;
      }
      while (static_cast<int>(cands.size()) < o.candidates) {
        const std::string& c = all_ids[rng.Below(all_ids.size())];
        if (!seen.count(c) && std::find(cands.begin(), cands.end(), c) == cands.end())
          cands.push_back(c);
      }
    }
    if (cands.size() < 2) {
      ++skipped["fewer than 2 candidates"];
      continue;
    }
    rng.Shuffle(&cands);
    QueryRecord r;
    r.id = s.user;
    r.task = o.task;
    r.scenario = "recommendation";
    std::set<std::string> texts;
    bool duplicate_text = false;
    for (const auto& c : cands) {
      r.candidates.push_back({c, items.at(c)});
      duplicate_text |= !texts.insert(items.at(c)).second;
      r.relevance.push_back(c == s.target ? 1.0 : 0.0);
      if (c == s.target) r.positive = static_cast<int>(r.candidates.size()) - 1;
    }
    if (duplicate_text) {
      // Two candidates with one title cannot be told apart by a text answer.
      ++skipped["two candidates share a title"];
      continue;
    }
    const size_t keep = std::min(history.size(), static_cast<size_t>(o.history));
    nlohmann::json hist = nlohmann::json::array();
    for (size_t i = history.size() - keep; i < history.size(); ++i)
      hist.push_back(items.at(history[i]));
    r.extra["history"] = std::move(hist);
    if (!o.item_noun.empty()) r.extra["item_noun"] = o.item_noun;
    ValidateRecord(r);
    out.push_back(std::move(r));
  }
  if (stats) {
    stats->records = static_cast<int64_t>(out.size());
    for (const auto& [why, n] : skipped) {
      stats->skipped += n;
      stats->notes.push_back(std::to_string(n) + " users skipped: " + why);
    }
  }
  return out;
}

}  // namespace iranker
