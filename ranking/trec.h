// ranking/trec.h — TREC qrels and run files, and their evaluation with trec_eval's definitions.
//
//   qrels: "qid iter docid rel" per line (iter ignored: "Q0" or "0"); whitespace-separated.
//   run:   "qid Q0 docid rank score tag" per line; the rank column is ignored, as trec_eval does.
//
// EvaluateRun orders each query's documents by score descending, ties by docid descending (byte
// order), exactly as trec_eval; documents absent from the qrels are non-relevant; nDCG's ideal is
// built from all judged documents of the query. Query set (trec_eval's default): the queries of
// the run that have qrels; with `complete` (trec_eval -c) every qrels query counts and one
// missing from the run scores 0. Runs' queries without qrels are ignored either way.
// Readers throw Error(kInvalidArgument) "file:line: reason" for malformed lines and duplicate
// (qid, docid) pairs, Error(kNotFound) for a missing file.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ranking/metrics.h"
#include "ranking/record.h"

namespace iranker {

using Qrels = std::map<std::string, std::map<std::string, double>>;  // qid -> docid -> rel

struct RunEntry {
  std::string docid;
  double score = 0;
};
using TrecRun = std::map<std::string, std::vector<RunEntry>>;  // qid -> documents (file order)

Qrels ReadQrels(const std::string& path);
TrecRun ReadRun(const std::string& path);
// Write in the formats above; the run gets ranks 1.. in the order given (sorted by score first).
void WriteQrels(const std::string& path, const Qrels& qrels);
void WriteRun(const std::string& path, const TrecRun& run, const std::string& tag = "iranker");

// What `iranker eval` writes so anyone can re-check it with trec_eval: the record's ranking
// (candidate indices, best first) as run lines with scores N, N-1, ..., 1 (distinct, so
// trec_eval's tie order cannot reorder them), and the record's relevance as qrels (every
// candidate judged, relevance rounded to the nearest integer as trec_eval reads integers).
// qid = record id, docid = candidate id.
void AddToRun(const QueryRecord& record, const std::vector<int>& ranking, TrecRun* run);
void AddToQrels(const QueryRecord& record, Qrels* qrels);

// Sorts one query's documents as trec_eval does (score desc, docid desc).
void SortTrecOrder(std::vector<RunEntry>* docs);

// A re-ranking of a first-stage run's top documents put back into that run, as a re-ranker
// submits it: per query, the re-ranked documents in their new order, then the first-stage
// documents not among them in the first-stage (trec_eval) order; a query without a re-ranking
// keeps its first-stage order. Scores are n, n-1, ..., 1 per query (distinct, so the order
// written is the order evaluated). A re-ranking that leaves the order as it was reproduces the
// first stage's trec_eval figures exactly. A re-ranked query or document that the first stage
// lacks is an error naming it and `first_stage_name` (ids that do not match the run's).
TrecRun MergeReranked(const TrecRun& first_stage,
                      const std::map<std::string, std::vector<std::string>>& reranked,
                      const std::string& first_stage_name);

struct TrecEvalOptions {
  double relevance_level = 1;  // trec_eval -l
  bool complete = false;       // trec_eval -c
};

struct TrecEvalResult {
  std::map<std::string, QueryMetrics> per_query;
  QueryMetrics mean;
  int num_queries = 0;       // queries averaged over
  int missing_from_run = 0;  // qrels queries without run lines (scored 0 only with complete)
  int without_qrels = 0;     // run queries ignored for lack of judgements
};
TrecEvalResult EvaluateRun(const Qrels& qrels, const TrecRun& run, const TrecEvalOptions& options);

}  // namespace iranker
