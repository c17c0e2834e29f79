// trainer/evaluation.h — the evaluation protocol on held-out data, with baselines.
//
// Each test file is one dataset. The policy ranks every query by greedy iterative elimination
// (actor/rollout.h Rank: N - 1 steps, fallback matching so that one candidate is removed per step);
// random order and BM25 rank the same queries. Metrics are means over queries of MRR (reciprocal
// rank of the first relevant candidate), nDCG@10 (graded) and Hit@1.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actor/options.h"
#include "model/decoder.h"
#include "ranking/jsonl.h"
#include "ranking/prompt.h"
#include "ranking/reward.h"
#include "tokenizer/tokenizer.h"

namespace iranker {

struct Dataset {
  std::string name;  // the records' task (or the file stem)
  std::string path;
  std::vector<QueryRecord> records;
};

// Reads data.test (each file one dataset), keeping the first max_queries of each (0 = all).
std::vector<Dataset> LoadTestSets(const DataOptions& data, int64_t max_queries);

struct SystemScores {
  std::string system;  // "policy", "random", "bm25"
  std::string dataset;
  int64_t queries = 0;
  double mrr = 0, ndcg10 = 0, hit1 = 0;
  int64_t fallbacks = 0;  // policy only: elimination steps that needed a fallback match
};

struct EvalReport {
  std::vector<SystemScores> rows;
  // Per policy query: ranking, for TREC run files and the `rank` command.
  struct QueryResult {
    std::string dataset, query_id;
    std::vector<int> ranking;
    std::vector<std::string> responses;  // the policy's response at each elimination step
  };
  std::vector<QueryResult> policy_rankings;
  // Mean over datasets of the policy's figures.
  double MeanOf(const std::string& system, const std::string& metric) const;
};

// The seed of the evaluation protocol (display order of each query's candidates, random baseline)
// for a run seed: training, `eval` and `rank` use it, so their numbers agree for a checkpoint.
uint64_t EvaluationSeed(uint64_t run_seed);

// `on_step` (may be empty) is called after each generated answer (ProgressLease::Beat).
EvalReport Evaluate(DecoderLM& policy, const Tokenizer& tokenizer, const PromptSet& prompts,
                    const ActorOptions& actor, const MatchOptions& match,
                    const std::vector<Dataset>& datasets, uint64_t seed, bool baselines,
                    const std::function<void()>& on_step = {});

// A fixed-width table: one row per dataset, MRR / nDCG@10 / Hit@1 per system.
std::string FormatEvalTable(const EvalReport& report);
nlohmann::json EvalReportJson(const EvalReport& report);

// Writes TREC run and qrels files of the policy's rankings (ranks scored N..1) so the figures can
// be re-checked with trec_eval. An empty qrels_path writes the run only.
void WriteTrecFiles(const EvalReport& report, const std::vector<Dataset>& datasets,
                    const std::string& run_path, const std::string& qrels_path);

}  // namespace iranker
