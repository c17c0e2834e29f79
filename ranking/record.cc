#include "ranking/record.h"

#include <algorithm>
#include <set>

#include "base/error.h"

namespace iranker {
namespace {
using nlohmann::json;

[[noreturn]] void Bad(const std::string& why) { Fail(ErrorCode::kInvalidArgument, why); }

std::string IdString(const json& v, const std::string& field) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  Bad("'" + field + "' must be a string or an integer");
}

void CheckPerCandidateNumbers(const json& extra, const char* key, size_t n) {
  if (!extra.contains(key)) return;
  const json& v = extra[key];
  if (!v.is_array() || v.size() != n)
    Bad(std::string("'") + key + "' must be a list of " + std::to_string(n) +
        " numbers (one per candidate)");
  for (size_t i = 0; i < n; ++i)
    if (!v[i].is_number())
      Bad(std::string("'") + key + "[" + std::to_string(i) + "]' is not a number");
}
}  // namespace

void ValidateRecord(const QueryRecord& r) {
  if (r.id.empty()) Bad("'id' is empty");
  if (r.task.empty()) Bad("'task' is empty");
  if (!r.scenario.empty() &&
      std::find(Scenarios().begin(), Scenarios().end(), r.scenario) == Scenarios().end())
    Bad("'scenario' is '" + r.scenario + "'; expected recommendation, routing or passage");
  if (r.candidates.size() < 2) Bad("'candidates' needs at least 2 entries");
  std::set<std::string> ids;
  for (size_t i = 0; i < r.candidates.size(); ++i) {
    if (r.candidates[i].text.empty()) Bad("candidate " + std::to_string(i) + " has empty text");
    if (!ids.insert(r.candidates[i].id).second)
      Bad("candidate id '" + r.candidates[i].id + "' appears twice");
  }
  if (r.relevance.size() != r.candidates.size())
    Bad("'relevance' has " + std::to_string(r.relevance.size()) + " entries for " +
        std::to_string(r.candidates.size()) + " candidates");
  double best = 0;
  for (size_t i = 0; i < r.relevance.size(); ++i) {
    if (!(r.relevance[i] >= 0)) Bad("'relevance[" + std::to_string(i) + "]' must be >= 0");
    best = std::max(best, r.relevance[i]);
  }
  if (best <= 0) Bad("no relevant candidate (every relevance is 0)");
  if (r.positive >= static_cast<int>(r.candidates.size())) Bad("'positive' out of range");
  if (!r.extra.is_object()) Bad("extra fields must form an object");
  if (r.extra.contains("history")) {
    const json& h = r.extra["history"];
    bool ok = h.is_string();
    if (h.is_array()) {
      ok = true;
      for (const auto& x : h) ok = ok && x.is_string();
    }
    if (!ok) Bad("'history' must be a string or a list of strings");
  }
  CheckPerCandidateNumbers(r.extra, "cost", r.candidates.size());
  CheckPerCandidateNumbers(r.extra, "quality", r.candidates.size());
}

QueryRecord ParseRecord(const json& j) {
  if (!j.is_object()) Bad("a record must be a JSON object");
  QueryRecord r;
  for (const char* key : {"id", "task", "query", "candidates"})
    if (!j.contains(key)) Bad(std::string("missing '") + key + "'");
  r.id = IdString(j["id"], "id");
  if (!j["task"].is_string()) Bad("'task' must be a string");
  r.task = j["task"].get<std::string>();
  if (j.contains("scenario")) {
    if (!j["scenario"].is_string()) Bad("'scenario' must be a string");
    r.scenario = j["scenario"].get<std::string>();
  }
  if (!j["query"].is_string()) Bad("'query' must be a string");
  r.query = j["query"].get<std::string>();
  const json& cands = j["candidates"];
  if (!cands.is_array()) Bad("'candidates' must be a list");
  for (size_t i = 0; i < cands.size(); ++i) {
    const json& c = cands[i];
    Candidate cand;
    if (c.is_string()) {
      cand.id = std::to_string(i);
      cand.text = c.get<std::string>();
    } else if (c.is_object()) {
      if (!c.contains("text") || !c["text"].is_string())
        Bad("candidate " + std::to_string(i) + " needs a string 'text'");
      cand.text = c["text"].get<std::string>();
      cand.id = c.contains("id") ? IdString(c["id"], "candidates[" + std::to_string(i) + "].id")
                                 : std::to_string(i);
    } else {
      Bad("candidate " + std::to_string(i) + " must be a string or an object {id, text}");
    }
    r.candidates.push_back(std::move(cand));
  }
  const bool has_pos = j.contains("positive"), has_rel = j.contains("relevance");
  if (has_pos == has_rel) Bad("give exactly one of 'positive' and 'relevance'");
  if (has_pos) {
    const json& p = j["positive"];
    int index = -1;
    if (p.is_number_integer()) {
      const int64_t v = p.get<int64_t>();
      if (v < 0 || v >= static_cast<int64_t>(r.candidates.size()))
        Bad("'positive' index " + std::to_string(v) + " is out of range [0, " +
            std::to_string(r.candidates.size()) + ")");
      index = static_cast<int>(v);
    } else if (p.is_string()) {
      const std::string id = p.get<std::string>();
      for (size_t i = 0; i < r.candidates.size(); ++i)
        if (r.candidates[i].id == id) index = static_cast<int>(i);
      if (index < 0) Bad("'positive' names id '" + id + "', which no candidate has");
    } else {
      Bad("'positive' must be a candidate index or id");
    }
    r.positive = index;
    r.relevance.assign(r.candidates.size(), 0.0);
    r.relevance[index] = 1.0;
  } else {
    const json& rel = j["relevance"];
    if (!rel.is_array()) Bad("'relevance' must be a list of numbers");
    for (size_t i = 0; i < rel.size(); ++i) {
      if (!rel[i].is_number()) Bad("'relevance[" + std::to_string(i) + "]' is not a number");
      r.relevance.push_back(rel[i].get<double>());
    }
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    static const std::set<std::string> kCore = {"id",         "task",     "scenario", "query",
                                                "candidates", "positive", "relevance"};
    if (!kCore.count(it.key())) r.extra[it.key()] = it.value();
  }
  ValidateRecord(r);
  return r;
}

json RecordToJson(const QueryRecord& r) {
  json j = json::object();
  j["id"] = r.id;
  j["task"] = r.task;
  if (!r.scenario.empty()) j["scenario"] = r.scenario;
  j["query"] = r.query;
  json cands = json::array();
  for (const auto& c : r.candidates) cands.push_back({{"id", c.id}, {"text", c.text}});
  j["candidates"] = std::move(cands);
  if (r.positive >= 0)
    j["positive"] = r.positive;
  else
    j["relevance"] = r.relevance;
  for (auto it = r.extra.begin(); it != r.extra.end(); ++it) j[it.key()] = it.value();
  return j;
}

std::vector<int> GroundTruth(const QueryRecord& r) {
  double best = 0;
  for (double x : r.relevance) best = std::max(best, x);
  std::vector<int> out;
  if (best <= 0) return out;
  for (size_t i = 0; i < r.relevance.size(); ++i)
    if (r.relevance[i] == best) out.push_back(static_cast<int>(i));
  return out;
}

bool IsGroundTruth(const QueryRecord& r, int i) {
  double best = 0;
  for (double x : r.relevance) best = std::max(best, x);
  return best > 0 && r.relevance.at(i) == best;
}

std::vector<std::string> History(const QueryRecord& r) {
  std::vector<std::string> out;
  if (!r.extra.contains("history")) return out;
  const auto& h = r.extra["history"];
  if (h.is_string()) {
    out.push_back(h.get<std::string>());
  } else {
    for (const auto& x : h) out.push_back(x.get<std::string>());
  }
  return out;
}

}  // namespace iranker
