// `iranker metrics --qrels FILE --run FILE [--json]`: trec_eval's recip_rank and ndcg_cut_k
// (plus hit@k) of a TREC run, with the query set and tie order of trec_eval (ranking/trec.h).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "ranking/trec.h"

namespace iranker {

void AddMetricsCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "metrics", "Score a TREC run against qrels (trec_eval's recip_rank, ndcg_cut_k; hit@k)");
  struct Opts {
    std::string qrels, run;
    bool json = false, per_query = false;
    TrecEvalOptions eval;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--qrels", o->qrels, "TREC qrels file: qid iter docid rel")->required();
  cmd->add_option("--run", o->run, "TREC run file: qid Q0 docid rank score tag")->required();
  cmd->add_flag("--json", o->json, "Print one JSON object instead of a table");
  cmd->add_flag("-q,--per-query", o->per_query, "Also print each query's figures");
  cmd->add_option("-l,--relevance-level", o->eval.relevance_level,
                  "Least relevance counted as relevant by recip_rank and hit@k (trec_eval -l)");
  cmd->add_flag("-c,--complete", o->eval.complete,
                "Average over every qrels query; queries missing from the run score 0 "
                "(trec_eval -c). Default: the run's queries that have qrels");
  cmd->callback([o] {
    const TrecEvalResult r = EvaluateRun(ReadQrels(o->qrels), ReadRun(o->run), o->eval);
    if (o->json) {
      nlohmann::json j = MetricsByName(r.mean);
      j["num_queries"] = r.num_queries;
      j["missing_from_run"] = r.missing_from_run;
      j["without_qrels"] = r.without_qrels;
      j["complete"] = o->eval.complete;
      if (o->per_query) {
        nlohmann::json q = nlohmann::json::object();
        for (const auto& [qid, m] : r.per_query) q[qid] = MetricsByName(m);
        j["per_query"] = std::move(q);
      }
      std::cout << j.dump() << std::endl;
      return;
    }
    // trec_eval's layout: measure, query (or "all"), value with 4 decimals.
    auto print = [](const std::string& qid, const QueryMetrics& m) {
      std::printf("%-22s\t%s\t%.4f\n", "recip_rank", qid.c_str(), m.recip_rank);
      for (size_t c = 0; c < kMetricCutoffs.size(); ++c)
        std::printf("%-22s\t%s\t%.4f\n", ("ndcg_cut_" + std::to_string(kMetricCutoffs[c])).c_str(),
                    qid.c_str(), m.ndcg[c]);
      for (size_t c = 0; c < kMetricCutoffs.size(); ++c)
        std::printf("%-22s\t%s\t%.4f\n", ("hit_" + std::to_string(kMetricCutoffs[c])).c_str(),
                    qid.c_str(), m.hit[c]);
    };
    if (o->per_query)
      for (const auto& [qid, m] : r.per_query) print(qid, m);
    std::printf("%-22s\tall\t%d\n", "num_q", r.num_queries);
    print("all", r.mean);
    if (r.missing_from_run > 0 && !o->eval.complete)
      std::fprintf(stderr,
                   "note: %d qrels queries have no run lines and are not averaged (use -c)\n",
                   r.missing_from_run);
  });
}

}  // namespace iranker
