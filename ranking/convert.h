// ranking/convert.h — converters from public formats users already have into ranking records
// (docs/DATA.md has the field-by-field mapping). Each returns the records and fills `stats`
// (records made, inputs skipped and why); malformed input throws Error(kInvalidArgument) naming
// file and line, a missing file Error(kNotFound).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ranking/record.h"

namespace iranker {

struct ConvertStats {
  int64_t records = 0;
  int64_t skipped = 0;
  std::vector<std::string> notes;  // one line per kind of skip, with counts
};

// RecBole atomic files. `.item`: a typed TSV header ("item_id:token  movie_title:token_seq ...");
// the text is the first field whose name contains "title" (else "name"), followed by
// " (<release_year>)" when that field exists; HTML entities are decoded. `.inter` either lists
// interactions ("user_id:token item_id:token ... timestamp:float": per user, sorted by time, the
// last item is the target and the earlier ones the history) or sequences ("user_id:token
// item_id_list:token_seq item_id:token", as LLMRank's Games-6k). Candidates: the target plus
// negatives drawn uniformly from items the user has not interacted with, or, with
// candidates_file ("user_id<TAB>space-separated item ids", LLMRank's .random/.bm25), the first
// candidates-1 of those ids other than the target. Candidate order is shuffled (seeded).
struct RecboleOptions {
  std::string inter, item, candidates_file;
  std::string task = "recbole";
  int candidates = 20;
  int history = 10;       // most recent history items kept
  int min_history = 1;    // users with fewer history items are skipped
  int64_t max_users = 0;  // 0 = all
  uint64_t seed = 1;
};
std::vector<QueryRecord> ConvertRecbole(const RecboleOptions& o, ConvertStats* stats);

// TREC: either topics ("qid<TAB>query") + a run + a passage collection ("docid<TAB>text", only the
// run's documents are kept in memory), or a rank_llm retrieve-results JSON
// ([{"query", "hits": [{"content", "qid", "docid"}, ...]}]); plus qrels for the grades. The
// first `depth` documents in run order become the candidates, relevance = the qrels grade
// (unjudged = 0; grades below relevance_level become 0). Queries with no relevant candidate are
// skipped.
struct TrecConvertOptions {
  std::string topics, qrels, run, passages, rankllm_json;
  std::string task = "trec";
  int depth = 20;
  double relevance_level = 1;
};
std::vector<QueryRecord> ConvertTrec(const TrecConvertOptions& o, ConvertStats* stats);

// A routing table (CSV, one query per row): a query column and, per model M, a score column "M"
// and a cost column "M|total_cost" (RouterBench's layout; models are found by those pairs).
// quality = score, cost = total_cost; utility = quality_weight × quality - cost_weight × cost /
// (the row's largest cost); the ground truth is every model of maximal utility. Rows where all
// utilities are equal carry no ranking signal and are skipped, as are rows with an empty score or
// cost cell. Candidate text = the model name,
// or its description from models_json ({"model": "description"}). A query column holding a
// Python list literal "['...']" is unwrapped.
struct RoutingCsvOptions {
  std::string csv, models_json;
  std::string query_column = "prompt";
  std::string id_column = "sample_id";  // "" or absent: the row number
  std::string task = "routing";
  double quality_weight = 1;
  double cost_weight = 0;
};
std::vector<QueryRecord> ConvertRoutingCsv(const RoutingCsvOptions& o, ConvertStats* stats);

}  // namespace iranker
