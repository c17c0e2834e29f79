#include "trainer/paper_table.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "ranking/metrics.h"

namespace iranker {
namespace {

int ScenarioOrder(const std::string& s) {
  if (s == "recommendation") return 0;
  if (s == "routing") return 1;
  if (s == "passage") return 2;
  return 3;
}

PaperRow Mean(const std::vector<const PaperRow*>& rows, const std::string& name,
              const std::string& scenario) {
  PaperRow m;
  m.dataset = name;
  m.scenario = scenario;
  m.average = true;
  m.cutoffs = rows.front()->cutoffs;
  m.ndcg.assign(m.cutoffs.size(), 0);
  m.hit.assign(m.cutoffs.size(), 0);
  for (const PaperRow* r : rows) {
    m.queries += r->queries;
    m.mrr += r->mrr / rows.size();
    m.bm25_mrr += r->bm25_mrr / rows.size();
    m.random_mrr += r->random_mrr / rows.size();
    for (size_t k = 0; k < m.cutoffs.size() && k < r->ndcg.size(); ++k) {
      m.ndcg[k] += r->ndcg[k] / rows.size();
      m.hit[k] += r->hit[k] / rows.size();
    }
  }
  return m;
}

std::string Cell(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.2f", v);
  return b;
}

// The reported value of `metric` for `dataset`, or "".
std::string Reported(const nlohmann::json& reported, const std::string& dataset,
                     const std::string& metric) {
  if (!reported.is_object() || !reported.contains(dataset)) return "";
  const auto& d = reported[dataset];
  if (!d.contains(metric)) return "";
  return Cell(d[metric].get<double>());
}

}  // namespace

std::vector<int> PaperCutoffs(const std::string& scenario) {
  if (scenario == "recommendation") return {5, 10, 20};
  if (scenario == "routing") return {5, 10};
  return {3, 5, 10};
}

std::vector<PaperRow> BuildPaperTable(const EvalReport& report,
                                      const std::vector<Dataset>& datasets) {
  std::vector<PaperRow> rows;
  for (const Dataset& d : datasets) {
    PaperRow row;
    row.dataset = d.name;
    row.scenario = d.records.empty() ? "" : d.records.front().scenario;
    row.cutoffs = PaperCutoffs(row.scenario);
    row.ndcg.assign(row.cutoffs.size(), 0);
    row.hit.assign(row.cutoffs.size(), 0);
    std::map<std::string, const QueryRecord*> by_id;
    for (const auto& r : d.records) by_id[r.id] = &r;
    for (const auto& q : report.policy_rankings) {
      if (q.dataset != d.name) continue;
      auto it = by_id.find(q.query_id);
      if (it == by_id.end()) continue;
      const QueryRecord& rec = *it->second;
      std::vector<double> ranked;
      for (int c : q.ranking) ranked.push_back(rec.relevance[c]);
      row.mrr += ReciprocalRank(ranked);
      for (size_t k = 0; k < row.cutoffs.size(); ++k) {
        row.ndcg[k] += NdcgAt(ranked, rec.relevance, row.cutoffs[k]);
        row.hit[k] += HitAt(ranked, row.cutoffs[k]);
      }
      ++row.queries;
    }
    if (row.queries == 0) continue;
    const double scale = 100.0 / row.queries;
    row.mrr *= scale;
    for (size_t k = 0; k < row.cutoffs.size(); ++k) {
      row.ndcg[k] *= scale;
      row.hit[k] *= scale;
    }
    for (const auto& s : report.rows) {
      if (s.dataset != d.name) continue;
      if (s.system == "bm25") row.bm25_mrr = 100 * s.mrr;
      if (s.system == "random") row.random_mrr = 100 * s.mrr;
    }
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const PaperRow& a, const PaperRow& b) {
    return ScenarioOrder(a.scenario) < ScenarioOrder(b.scenario);
  });
  std::vector<PaperRow> out;
  std::vector<const PaperRow*> all;
  for (size_t i = 0; i < rows.size();) {
    size_t j = i;
    std::vector<const PaperRow*> group;
    while (j < rows.size() && rows[j].scenario == rows[i].scenario) group.push_back(&rows[j++]);
    for (const PaperRow* r : group) {
      out.push_back(*r);
      all.push_back(r);
    }
    out.push_back(Mean(group,
                       "mean " + (rows[i].scenario.empty() ? "(no scenario)" : rows[i].scenario),
                       rows[i].scenario));
    i = j;
  }
  if (!all.empty()) {
    PaperRow overall = Mean(all, "mean (all datasets)", "");
    overall.cutoffs.clear();  // cut-offs differ between scenarios
    overall.ndcg.clear();
    overall.hit.clear();
    out.push_back(std::move(overall));
  }
  return out;
}

nlohmann::json ReadReportedNumbers(const std::string& path) {
  auto j = nlohmann::json::parse(ReadFile(path), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object())
    Fail(ErrorCode::kInvalidArgument, path,
         ": expected {\"<dataset>\": {\"mrr\": <x 100>, \"ndcg@5\": ..., ...}, ...}");
  for (auto d = j.begin(); d != j.end(); ++d) {
    if (!d.value().is_object())
      Fail(ErrorCode::kInvalidArgument, path, ": '", d.key(), "' is not an object of metrics");
    for (auto m = d.value().begin(); m != d.value().end(); ++m)
      if (!m.value().is_number())
        Fail(ErrorCode::kInvalidArgument, path, ": '", d.key(), ".", m.key(), "' is not a number");
  }
  return j;
}

std::string FormatPaperTable(const std::vector<PaperRow>& rows, const nlohmann::json& reported) {
  const bool with_paper = reported.is_object() && !reported.empty();
  std::ostringstream os;
  os << "| Dataset | Queries | MRR×100 |" << (with_paper ? " reported |" : "")
     << " BM25 | random |\n|---|---:|---:|" << (with_paper ? "---:|" : "") << "---:|---:|\n";
  for (const auto& r : rows) {
    const std::string name = r.average ? "**" + r.dataset + "**" : r.dataset;
    os << "| " << name << " | " << r.queries << " | " << Cell(r.mrr) << " |";
    if (with_paper) os << " " << Reported(reported, r.dataset, "mrr") << " |";
    os << " " << Cell(r.bm25_mrr) << " | " << Cell(r.random_mrr) << " |\n";
  }
  std::string scenario = "\x01";
  for (const auto& r : rows) {
    if (r.cutoffs.empty()) continue;
    if (r.scenario != scenario) {
      scenario = r.scenario;
      os << "\n" << (scenario.empty() ? "(no scenario)" : scenario) << " (× 100)\n\n| Dataset |";
      std::string rule = "|---|";
      for (const char* m : {"nDCG", "Hit"})
        for (int k : r.cutoffs) {
          os << " " << m << "@" << k << " |";
          rule += "---:|";
        }
      os << "\n" << rule << "\n";
    }
    os << "| " << (r.average ? "**" + r.dataset + "**" : r.dataset) << " |";
    for (size_t k = 0; k < r.cutoffs.size(); ++k) {
      os << " " << Cell(r.ndcg[k]);
      const std::string p = Reported(reported, r.dataset, "ndcg@" + std::to_string(r.cutoffs[k]));
      if (!p.empty()) os << " (" << p << ")";
      os << " |";
    }
    for (size_t k = 0; k < r.cutoffs.size(); ++k) {
      os << " " << Cell(r.hit[k]);
      const std::string p = Reported(reported, r.dataset, "hit@" + std::to_string(r.cutoffs[k]));
      if (!p.empty()) os << " (" << p << ")";
      os << " |";
    }
    os << "\n";
  }
  if (with_paper) os << "\nReported numbers in parentheses.\n";
  return os.str();
}

nlohmann::json PaperTableJson(const std::vector<PaperRow>& rows, const nlohmann::json& reported) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json j = {
        {"dataset", r.dataset},      {"scenario", r.scenario}, {"queries", r.queries},
        {"mean", r.average},         {"mrr", r.mrr},           {"bm25_mrr", r.bm25_mrr},
        {"random_mrr", r.random_mrr}};
    for (size_t k = 0; k < r.cutoffs.size(); ++k) {
      j["ndcg@" + std::to_string(r.cutoffs[k])] = r.ndcg[k];
      j["hit@" + std::to_string(r.cutoffs[k])] = r.hit[k];
    }
    if (reported.is_object() && reported.contains(r.dataset)) j["reported"] = reported[r.dataset];
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace iranker
