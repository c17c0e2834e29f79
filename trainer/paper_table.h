// trainer/paper_table.h — evaluation results in the IRanker paper's layout: one row per dataset
// with MRR × 100 (its main table), nDCG@k and Hit@k × 100 at the appendix cut-offs of each
// scenario (recommendation 5/10/20, routing 5/10, passage 3/5/10), and the mean per scenario and
// over all datasets. Reported numbers (a JSON file the user supplies, {"Rec-Movie": {"mrr": 41.2,
// "ndcg@5": ...}, ...}, values × 100) are printed beside ours when given.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "trainer/evaluation.h"

namespace iranker {

struct PaperRow {
  std::string dataset, scenario;  // scenario "" for records without one
  int64_t queries = 0;
  bool average = false;                          // a per-scenario or overall mean, not a dataset
  double mrr = 0, bm25_mrr = 0, random_mrr = 0;  // × 100
  std::vector<int> cutoffs;
  std::vector<double> ndcg, hit;  // × 100, at cutoffs
};

// The appendix cut-offs of a scenario.
std::vector<int> PaperCutoffs(const std::string& scenario);

// Rows in the paper's order (recommendation, routing, passage, others; datasets in config order
// within a scenario), each scenario followed by its mean, then the mean over all datasets.
std::vector<PaperRow> BuildPaperTable(const EvalReport& report,
                                      const std::vector<Dataset>& datasets);

// Reads reported numbers; throws Error(kInvalidArgument) naming the file and key of a bad value.
nlohmann::json ReadReportedNumbers(const std::string& path);

// Markdown: the main table (MRR × 100, BM25 and random beside, reported MRR when given), then one
// table per scenario with its cut-offs.
std::string FormatPaperTable(const std::vector<PaperRow>& rows, const nlohmann::json& reported);
nlohmann::json PaperTableJson(const std::vector<PaperRow>& rows, const nlohmann::json& reported);

}  // namespace iranker
