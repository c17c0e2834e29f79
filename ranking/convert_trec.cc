// TREC topics + qrels + run + passages, rank_llm retrieve-results JSON, or a BEIR dataset with a
// first-stage run -> passage records.
#include <algorithm>
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

// Each query's documents in trec_eval's order, cut to the first `depth`; the documents kept go
// into *wanted (the only texts read from the collection).
void CutRun(TrecRun* run, int depth, std::set<std::string>* wanted) {
  for (auto& [qid, docs] : *run) {
    SortTrecOrder(&docs);
    if (static_cast<int>(docs.size()) > depth) docs.resize(depth);
    for (const auto& d : docs) wanted->insert(d.docid);
  }
}

// The run's queries with their texts and their documents' texts, in run order; entries without
// a text are dropped and counted in *missing_text.
std::vector<Query> QueriesFromRun(const TrecRun& run,
                                  const std::map<std::string, std::string>& topics,
                                  const std::map<std::string, std::string>& passages,
                                  int64_t* missing_text) {
  std::vector<Query> queries;
  for (const auto& [qid, docs] : run) {
    auto t = topics.find(qid);
    if (t == topics.end()) {
      ++*missing_text;
      continue;
    }
    Query query{qid, t->second, {}};
    for (const auto& d : docs) {
      auto p = passages.find(d.docid);
      if (p == passages.end()) {
        ++*missing_text;
        continue;
      }
      query.docs.emplace_back(d.docid, p->second);
    }
    queries.push_back(std::move(query));
  }
  return queries;
}

// Passage records from queries with their candidates in first-stage order: relevance = the qrels
// grade (unjudged = 0; below relevance_level = 0); queries without qrels, without a relevant
// candidate or with fewer than two candidates are skipped and counted.
std::vector<QueryRecord> RecordsFromQueries(const std::vector<Query>& queries, const Qrels& qrels,
                                            const std::string& task, double relevance_level,
                                            int64_t missing_text, ConvertStats* stats) {
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
    r.task = task;
    r.scenario = "passage";
    r.query = q.text;
    std::set<std::string> seen;
    for (const auto& [docid, text] : q.docs) {
      if (Trim(text).empty() || !seen.insert(docid).second) continue;
      auto g = judged->second.find(docid);
      double rel = g == judged->second.end() ? 0.0 : g->second;
      if (rel < relevance_level) rel = 0;
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
    CutRun(&run, o.depth, &wanted);
    queries = QueriesFromRun(run, topics, ReadTsv(o.passages, &wanted), &missing_text);
  }
  return RecordsFromQueries(queries, qrels, o.task, o.relevance_level, missing_text, stats);
}

namespace {

// BEIR's JSONL files: one object per line; `fields` must be strings ("_id" may be an integer).
// Calls on_row(id, object) for each; errors name the file and line.
template <typename F>
void ReadBeirJsonl(const std::string& path, F&& on_row) {
  std::ifstream in(path);
  if (!in)
    Fail(ErrorCode::kNotFound, path, ": cannot open (a BEIR dataset directory holds ",
         "corpus.jsonl, queries.jsonl and qrels/SPLIT.tsv)");
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (Trim(line).empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      Fail(ErrorCode::kInvalidArgument, path, ":", n, ": not valid JSON: ", e.what());
    }
    if (!j.is_object() || !j.contains("_id") || !j.contains("text") || !j["text"].is_string() ||
        !(j["_id"].is_string() || j["_id"].is_number_integer()))
      Fail(ErrorCode::kInvalidArgument, path, ":", n,
           ": expected an object with \"_id\" (string or integer) and \"text\" (string)");
    if (j.contains("title") && !j["title"].is_string() && !j["title"].is_null())
      Fail(ErrorCode::kInvalidArgument, path, ":", n, ": \"title\" must be a string");
    on_row(JsonId(j["_id"]), j);
  }
}

// qrels/SPLIT.tsv: "query-id<TAB>corpus-id<TAB>score" with that header line.
Qrels ReadBeirQrels(const std::string& path) {
  std::ifstream in(path);
  if (!in) Fail(ErrorCode::kNotFound, path, ": cannot open (the split's qrels; --beir-split)");
  Qrels out;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (Trim(line).empty() || (n == 1 && line.rfind("query-id", 0) == 0)) continue;
    std::vector<std::string> f;
    for (size_t start = 0;;) {
      const size_t tab = line.find('\t', start);
      f.push_back(line.substr(start, tab == std::string::npos ? tab : tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    double score = 0;
    size_t used = 0;
    if (f.size() == 3) {
      try {
        score = std::stod(f[2], &used);
      } catch (const std::exception&) {
        used = 0;
      }
    }
    if (f.size() != 3 || used != f[2].size() || f[0].empty() || f[1].empty())
      Fail(ErrorCode::kInvalidArgument, path, ":", n,
           ": expected 'query-id<TAB>corpus-id<TAB>score'");
    out[f[0]][f[1]] = score;
  }
  return out;
}

}  // namespace

std::vector<QueryRecord> ConvertBeir(const BeirConvertOptions& o, ConvertStats* stats) {
  if (o.depth < 2) Fail(ErrorCode::kInvalidArgument, "--depth must be >= 2");
  if (o.dir.empty()) Fail(ErrorCode::kInvalidArgument, "beir conversion needs --beir-dir");
  if (o.run.empty())
    Fail(ErrorCode::kInvalidArgument,
         "beir conversion needs --run: a first-stage TREC run over the corpus (BEIR ships none; "
         "e.g. BM25's top 100)");
  const Qrels qrels = ReadBeirQrels(o.dir + "/qrels/" + o.split + ".tsv");
  TrecRun run = ReadRun(o.run);
  int64_t identical = 0;
  for (auto q = run.begin(); q != run.end();) {
    if (!qrels.count(q->first)) {  // another split's query
      q = run.erase(q);
      continue;
    }
    // The query itself among its documents (ArguAna, Quora): dropped before the depth cut, as
    // BEIR's evaluation (ignore_identical_ids) drops it from the run.
    auto& docs = q->second;
    const size_t before = docs.size();
    docs.erase(std::remove_if(docs.begin(), docs.end(),
                              [&](const RunEntry& d) { return d.docid == q->first; }),
               docs.end());
    identical += static_cast<int64_t>(before - docs.size());
    ++q;
  }
  std::set<std::string> wanted;
  CutRun(&run, o.depth, &wanted);
  std::map<std::string, std::string> topics, passages;
  ReadBeirJsonl(o.dir + "/queries.jsonl", [&](const std::string& id, const nlohmann::json& j) {
    if (qrels.count(id)) topics[id] = j["text"].get<std::string>();
  });
  ReadBeirJsonl(o.dir + "/corpus.jsonl", [&](const std::string& id, const nlohmann::json& j) {
    if (!wanted.count(id)) return;
    const std::string title =
        j.contains("title") && j["title"].is_string() ? Trim(j["title"].get<std::string>()) : "";
    const std::string text = j["text"].get<std::string>();
    passages[id] = title.empty() ? text : title + " " + text;
  });
  int64_t missing_text = 0;
  const auto queries = QueriesFromRun(run, topics, passages, &missing_text);
  auto out = RecordsFromQueries(queries, qrels, o.task, o.relevance_level, missing_text, stats);
  if (stats && identical)
    stats->notes.push_back(std::to_string(identical) +
                           " run entries whose document is the query itself dropped (as BEIR's "
                           "evaluation, ignore_identical_ids)");
  return out;
}

}  // namespace iranker
