#include "ranking/trec.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include "base/atomic_file.h"
#include "base/error.h"

namespace iranker {
namespace {
std::vector<std::string> Fields(const std::string& line) {
  std::istringstream is(line);
  std::vector<std::string> f;
  std::string w;
  while (is >> w) f.push_back(w);
  return f;
}

double ParseNumber(const std::string& s, const std::string& where, const char* what) {
  try {
    size_t used = 0;
    double v = std::stod(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  Fail(ErrorCode::kInvalidArgument, where, ": ", what, " '", s, "' is not a number");
}

template <class Fn>
void ForEachLine(const std::string& path, Fn fn) {
  std::ifstream in(path);
  if (!in) Fail(ErrorCode::kNotFound, path, ": cannot open");
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto f = Fields(line);
    if (f.empty()) continue;
    fn(f, path + ":" + std::to_string(n));
  }
}

std::string Num(double x) {
  std::ostringstream os;
  os << std::setprecision(17) << x;
  return os.str();
}
}  // namespace

Qrels ReadQrels(const std::string& path) {
  Qrels q;
  ForEachLine(path, [&](const std::vector<std::string>& f, const std::string& where) {
    if (f.size() != 4)
      Fail(ErrorCode::kInvalidArgument, where, ": expected 'qid iter docid rel', got ", f.size(),
           " fields");
    const double rel = ParseNumber(f[3], where, "relevance");
    if (!std::isfinite(rel))
      Fail(ErrorCode::kInvalidArgument, where, ": relevance '", f[3], "' is not finite");
    if (!q[f[0]].emplace(f[2], rel).second)
      Fail(ErrorCode::kInvalidArgument, where, ": duplicate judgement for query ", f[0], " doc ",
           f[2]);
  });
  return q;
}

TrecRun ReadRun(const std::string& path) {
  TrecRun run;
  std::map<std::string, std::set<std::string>> seen;
  ForEachLine(path, [&](const std::vector<std::string>& f, const std::string& where) {
    if (f.size() != 6)
      Fail(ErrorCode::kInvalidArgument, where, ": expected 'qid Q0 docid rank score tag', got ",
           f.size(), " fields");
    // trec_eval reads the rank as an integer (and then ignores it); a NaN or infinite score
    // would leave the documents without an order.
    const double rank = ParseNumber(f[3], where, "rank");
    if (rank != static_cast<double>(static_cast<int64_t>(rank)))
      Fail(ErrorCode::kInvalidArgument, where, ": rank '", f[3], "' is not an integer");
    const double score = ParseNumber(f[4], where, "score");
    if (!std::isfinite(score))
      Fail(ErrorCode::kInvalidArgument, where, ": score '", f[4], "' is not finite");
    if (!seen[f[0]].insert(f[2]).second)
      Fail(ErrorCode::kInvalidArgument, where, ": document ", f[2], " appears twice for query ",
           f[0]);
    run[f[0]].push_back({f[2], score});
  });
  return run;
}

void WriteQrels(const std::string& path, const Qrels& qrels) {
  std::string out;
  for (const auto& [qid, docs] : qrels)
    for (const auto& [docid, rel] : docs) out += qid + " 0 " + docid + " " + Num(rel) + "\n";
  WriteFileAtomic(path, out);
}

void WriteRun(const std::string& path, const TrecRun& run, const std::string& tag) {
  std::string out;
  for (const auto& [qid, docs] : run) {
    std::vector<RunEntry> sorted = docs;
    SortTrecOrder(&sorted);
    for (size_t i = 0; i < sorted.size(); ++i)
      out += qid + " Q0 " + sorted[i].docid + " " + std::to_string(i + 1) + " " +
             Num(sorted[i].score) + " " + tag + "\n";
  }
  WriteFileAtomic(path, out);
}

void AddToRun(const QueryRecord& record, const std::vector<int>& ranking, TrecRun* run) {
  auto& docs = (*run)[record.id];
  docs.clear();
  for (size_t i = 0; i < ranking.size(); ++i)
    docs.push_back({record.candidates.at(ranking[i]).id, static_cast<double>(ranking.size() - i)});
}

void AddToQrels(const QueryRecord& record, Qrels* qrels) {
  auto& judged = (*qrels)[record.id];
  for (size_t i = 0; i < record.size(); ++i)
    judged[record.candidates[i].id] = std::round(record.relevance[i]);
}

void SortTrecOrder(std::vector<RunEntry>* docs) {
  std::sort(docs->begin(), docs->end(), [](const RunEntry& a, const RunEntry& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.docid > b.docid;
  });
}

TrecRun MergeReranked(const TrecRun& first_stage,
                      const std::map<std::string, std::vector<std::string>>& reranked,
                      const std::string& first_stage_name) {
  for (const auto& [qid, docs] : reranked)
    if (!first_stage.count(qid))
      Fail(ErrorCode::kInvalidArgument, "query '", qid, "' of the re-ranking is not in the ",
           "first-stage run ", first_stage_name);
  TrecRun out;
  for (const auto& [qid, given] : first_stage) {
    std::vector<RunEntry> docs = given;
    SortTrecOrder(&docs);
    std::vector<std::string> order;
    auto it = reranked.find(qid);
    if (it != reranked.end()) {
      std::set<std::string> known, placed;
      for (const auto& d : docs) known.insert(d.docid);
      for (const auto& id : it->second) {
        if (!known.count(id))
          Fail(ErrorCode::kInvalidArgument, "document '", id, "' re-ranked for query '", qid,
               "' is not in the first-stage run ", first_stage_name);
        if (placed.insert(id).second) order.push_back(id);
      }
      for (const auto& d : docs)
        if (!placed.count(d.docid)) order.push_back(d.docid);
    } else {
      for (const auto& d : docs) order.push_back(d.docid);
    }
    auto& merged = out[qid];
    for (size_t i = 0; i < order.size(); ++i)
      merged.push_back({order[i], static_cast<double>(order.size() - i)});
  }
  return out;
}

TrecEvalResult EvaluateRun(const Qrels& qrels, const TrecRun& run, const TrecEvalOptions& options) {
  TrecEvalResult result;
  MetricsSummary summary;
  for (const auto& [qid, docs] : run) {
    if (!qrels.count(qid)) ++result.without_qrels;
  }
  for (const auto& [qid, judged] : qrels) {
    std::vector<double> all;
    for (const auto& [docid, rel] : judged) all.push_back(rel);
    auto it = run.find(qid);
    if (it == run.end()) {
      ++result.missing_from_run;
      if (options.complete) {
        result.per_query[qid] = QueryMetrics{};
        summary.Add(QueryMetrics{});
      }
      continue;
    }
    std::vector<RunEntry> sorted = it->second;
    SortTrecOrder(&sorted);
    std::vector<double> ranked;
    for (const auto& e : sorted) {
      auto j = judged.find(e.docid);
      ranked.push_back(j == judged.end() ? 0.0 : j->second);
    }
    QueryMetrics m;
    m.recip_rank = ReciprocalRank(ranked, options.relevance_level);
    for (size_t c = 0; c < kMetricCutoffs.size(); ++c) {
      m.ndcg[c] = NdcgAt(ranked, all, kMetricCutoffs[c]);
      m.hit[c] = HitAt(ranked, kMetricCutoffs[c], options.relevance_level);
    }
    result.per_query[qid] = m;
    summary.Add(m);
  }
  result.num_queries = summary.count();
  result.mean = summary.Mean();
  return result;
}

}  // namespace iranker
