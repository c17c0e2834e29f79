#include "trainer/evaluation.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "actor/rollout.h"
#include "base/atomic_file.h"
#include "base/error.h"
#include "ranking/baselines.h"
#include "ranking/metrics.h"

namespace iranker {

std::vector<Dataset> LoadTestSets(const DataOptions& data, int64_t max_queries) {
  std::vector<Dataset> out;
  for (const auto& path : data.test) {
    Dataset d;
    d.path = path;
    d.records = ReadJsonl(path, data.bad_lines, data.max_bad_lines);
    if (max_queries > 0 && int64_t(d.records.size()) > max_queries) d.records.resize(max_queries);
    if (d.records.empty()) Fail(ErrorCode::kInvalidArgument, path, ": no records to evaluate");
    d.name = !d.records[0].task.empty() ? d.records[0].task
                                        : std::filesystem::path(path).stem().string();
    out.push_back(std::move(d));
  }
  return out;
}

double EvalReport::MeanOf(const std::string& system, const std::string& metric) const {
  double sum = 0;
  int n = 0;
  for (const auto& r : rows) {
    if (r.system != system) continue;
    sum += metric == "mrr" ? r.mrr : metric == "ndcg@10" ? r.ndcg10 : r.hit1;
    ++n;
  }
  return n ? sum / n : 0;
}

namespace {
SystemScores Score(const std::string& system, const Dataset& d,
                   const std::vector<std::vector<int>>& rankings) {
  SystemScores s;
  s.system = system;
  s.dataset = d.name;
  s.queries = d.records.size();
  for (size_t q = 0; q < d.records.size(); ++q) {
    auto m = MetricsByName(ScoreRanking(rankings[q], d.records[q].relevance));
    s.mrr += m["mrr"];
    s.ndcg10 += m["ndcg@10"];
    s.hit1 += m["hit@1"];
  }
  if (s.queries) s.mrr /= s.queries, s.ndcg10 /= s.queries, s.hit1 /= s.queries;
  return s;
}
}  // namespace

uint64_t EvaluationSeed(uint64_t run_seed) { return DeriveSeed(run_seed, 0xE7A1); }

EvalReport Evaluate(DecoderLM& policy, const Tokenizer& tokenizer, const PromptSet& prompts,
                    const ActorOptions& actor, const MatchOptions& match,
                    const std::vector<Dataset>& datasets, uint64_t seed, bool baselines,
                    const std::function<void()>& on_step) {
  EvalReport report;
  RolloutRunner runner(policy, tokenizer, prompts, RewardOptions(), actor, /*actor_id=*/-1);
  for (size_t di = 0; di < datasets.size(); ++di) {
    const Dataset& d = datasets[di];
    std::vector<const QueryRecord*> qs;
    for (const auto& r : d.records) qs.push_back(&r);
    auto ranked = runner.Rank(qs, seed + di, match, on_step);
    std::vector<std::vector<int>> rankings;
    int64_t fallbacks = 0;
    for (size_t q = 0; q < ranked.size(); ++q) {
      rankings.push_back(ranked[q].ranking);
      fallbacks += ranked[q].fallbacks;
      report.policy_rankings.push_back(
          {d.name, d.records[q].id, ranked[q].ranking, ranked[q].responses});
    }
    auto s = Score("policy", d, rankings);
    s.fallbacks = fallbacks;
    report.rows.push_back(s);
    if (!baselines) continue;
    std::vector<std::vector<int>> random, bm25;
    for (size_t q = 0; q < d.records.size(); ++q) {
      random.push_back(RandomRanking(d.records[q].size(), seed * 1000003 + q));
      bm25.push_back(Bm25Ranking(d.records[q]));
    }
    report.rows.push_back(Score("random", d, random));
    report.rows.push_back(Score("bm25", d, bm25));
  }
  return report;
}

std::string FormatEvalTable(const EvalReport& report) {
  std::ostringstream os;
  char line[256];
  std::snprintf(line, sizeof(line), "%-22s %-8s %7s %8s %8s %8s %9s\n", "dataset", "system",
                "queries", "MRR", "nDCG@10", "Hit@1", "fallbacks");
  os << line;
  for (const auto& r : report.rows) {
    std::snprintf(line, sizeof(line), "%-22s %-8s %7lld %8.4f %8.4f %8.4f %9s\n", r.dataset.c_str(),
                  r.system.c_str(), static_cast<long long>(r.queries), r.mrr, r.ndcg10, r.hit1,
                  r.system == "policy" ? std::to_string(r.fallbacks).c_str() : "-");
    os << line;
  }
  return os.str();
}

nlohmann::json EvalReportJson(const EvalReport& report) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : report.rows)
    rows.push_back({{"system", r.system},
                    {"dataset", r.dataset},
                    {"queries", r.queries},
                    {"mrr", r.mrr},
                    {"ndcg@10", r.ndcg10},
                    {"hit@1", r.hit1},
                    {"fallbacks", r.fallbacks}});
  return rows;
}

void WriteTrecFiles(const EvalReport& report, const std::vector<Dataset>& datasets,
                    const std::string& run_path, const std::string& qrels_path) {
  std::ostringstream run, qrels;
  std::map<std::string, const Dataset*> by_name;
  for (const auto& d : datasets) by_name[d.name] = &d;
  for (const auto& q : report.policy_rankings) {
    const Dataset& d = *by_name.at(q.dataset);
    const QueryRecord* rec = nullptr;
    for (const auto& r : d.records)
      if (r.id == q.query_id) rec = &r;
    IR_CHECK(rec != nullptr);
    const std::string qid = q.dataset + "/" + q.query_id;
    const size_t n = q.ranking.size();
    for (size_t k = 0; k < n; ++k)
      run << qid << " Q0 " << rec->candidates[q.ranking[k]].id << " " << k + 1 << " " << (n - k)
          << " iranker\n";
    for (size_t c = 0; c < rec->size(); ++c)
      qrels << qid << " 0 " << rec->candidates[c].id << " " << static_cast<int>(rec->relevance[c])
            << "\n";
  }
  WriteFileAtomic(run_path, run.str());
  if (!qrels_path.empty()) WriteFileAtomic(qrels_path, qrels.str());
}

}  // namespace iranker
