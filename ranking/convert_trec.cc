// TREC topics + qrels + run + passages, or rank_llm retrieve-results JSON -> passage records.
#include <fstream>
#include <map>
#include <set>

#include "base/atomic_file.h"
#include "base/error.h"
#include "ranking/convert.h"
#include "ranking/text.h"
#include "ranking/trec.h"

namespace iranker {
namespace {

// "key<TAB>text" lines; only keys in `wanted` are kept when it is non-null.
std::map<std::string, std::string> ReadTsv(const std::string& path,
                                           const std::set<std::string>* wanted) {
  std::ifstream in(path);
  if (!in) Fail(ErrorCode::kNotFound, path, ": cannot open");
  std::map<std::string, std::string> out;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (Trim(line).empty()) continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos)
      Fail(ErrorCode::kInvalidArgument, path, ":", n, ": expected 'id<TAB>text'");
    std::string key = line.substr(0, tab);
    if (wanted && !wanted->count(key)) continue;
    out[key] = line.substr(tab + 1);
  }
  return out;
}

std::string JsonId(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  Fail(ErrorCode::kInvalidArgument, "qid/docid must be a string or an integer");
}

struct Query {
  std::string qid, text;
  std::vector<std::pair<std::string, std::string>> docs;  // (docid, text), run order
};

}  // namespace

std::vector<QueryRecord> ConvertTrec(const TrecConvertOptions& o, ConvertStats* stats) {
  if (o.depth < 2) Fail(ErrorCode::kInvalidArgument, "--depth must be >= 2");
  if (o.qrels.empty()) Fail(ErrorCode::kInvalidArgument, "trec conversion needs --qrels");
  const Qrels qrels = ReadQrels(o.qrels);
  std::vector<Query> queries;
  int64_t missing_text = 0;
  if (!o.rankllm_json.empty()) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(ReadFile(o.rankllm_json));
    } catch (const nlohmann::json::exception& e) {
      Fail(ErrorCode::kInvalidArgument, o.rankllm_json, ": not valid JSON: ", e.what());
    }
    if (!j.is_array()) Fail(ErrorCode::kInvalidArgument, o.rankllm_json, ": expected a JSON list");
    for (size_t i = 0; i < j.size(); ++i) {
      const auto& q = j[i];
      const std::string where = o.rankllm_json + ": entry " + std::to_string(i);
      if (!q.is_object() || !q.contains("query") || !q.contains("hits") || !q["hits"].is_array())
        Fail(ErrorCode::kInvalidArgument, where, ": needs 'query' and a 'hits' list");
      Query query;
      query.text = q["query"].get<std::string>();
      for (const auto& h : q["hits"]) {
        if (!h.contains("qid") || !h.contains("docid") || !h.contains("content"))
          Fail(ErrorCode::kInvalidArgument, where, ": a hit lacks qid, docid or content");
        query.qid = JsonId(h["qid"]);
        if (static_cast<int>(query.docs.size()) < o.depth)
          query.docs.emplace_back(JsonId(h["docid"]), h["content"].get<std::string>());
      }
      if (!query.docs.empty()) queries.push_back(std::move(query));
    }
  } else {
    if (o.topics.empty() || o.run.empty() || o.passages.empty())
      Fail(ErrorCode::kInvalidArgument,
           "trec conversion needs --rankllm-json, or --topics, --run and --passages");
    const auto topics = ReadTsv(o.topics, nullptr);
    TrecRun run = ReadRun(o.run);
    std::set<std::string> wanted;
    for (auto& [qid, docs] : run) {
      SortTrecOrder(&docs);
      if (static_cast<int>(docs.size()) > o.depth) docs.resize(o.depth);
      for (const auto& d : docs) wanted.insert(d.docid);
    }
    const auto passages = ReadTsv(o.passages, &wanted);
    for (const auto& [qid, docs] : run) {
      auto t = topics.find(qid);
      if (t == topics.end()) {
        ++missing_text;
        continue;
      }
      Query query{qid, t->second, {}};
      for (const auto& d : docs) {
        auto p = passages.find(d.docid);
        if (p == passages.end()) {
          ++missing_text;
          continue;
        }
        query.docs.emplace_back(d.docid, p->second);
      }
      queries.push_back(std::move(query));
    }
  }
  std::vector<QueryRecord> out;
  int64_t unjudged = 0, no_relevant = 0, too_small = 0;
  for (const auto& q : queries) {
    auto judged = qrels.find(q.qid);
    if (judged == qrels.end()) {
      ++unjudged;
      continue;
    }
    QueryRecord r;
    r.id = q.qid;
    r.task = o.task;
    r.scenario = "passage";
    r.query = q.text;
    std::set<std::string> seen;
    for (const auto& [docid, text] : q.docs) {
      if (Trim(text).empty() || !seen.insert(docid).second) continue;
      auto g = judged->second.find(docid);
      double rel = g == judged->second.end() ? 0.0 : g->second;
      if (rel < o.relevance_level) rel = 0;
      r.candidates.push_back({docid, text});
      r.relevance.push_back(rel);
    }
    if (r.candidates.size() < 2) {
      ++too_small;
      continue;
    }
    if (GroundTruth(r).empty()) {
      ++no_relevant;
      continue;
    }
    ValidateRecord(r);
    out.push_back(std::move(r));
  }
  if (stats) {
    stats->records = static_cast<int64_t>(out.size());
    stats->skipped = unjudged + no_relevant + too_small;
    if (unjudged)
      stats->notes.push_back(std::to_string(unjudged) + " queries without qrels skipped");
    if (no_relevant)
      stats->notes.push_back(std::to_string(no_relevant) +
                             " queries without a relevant document in the top depth skipped");
    if (too_small)
      stats->notes.push_back(std::to_string(too_small) + " queries with < 2 documents skipped");
    if (missing_text)
      stats->notes.push_back(std::to_string(missing_text) +
                             " run entries without topic or passage text dropped");
  }
  return out;
}

}  // namespace iranker
