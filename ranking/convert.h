// ranking/convert.h — converters from public formats users already have into ranking records
// (docs/DATA.md has the field-by-field mapping). Each returns the records and fills `stats`
// (records made, inputs skipped and why); malformed input throws Error(kInvalidArgument) naming
// file and line, a missing file Error(kNotFound).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
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
//
// protocol "paper" (interaction files only) builds the IRanker paper's recommendation sets
// instead: users with at least history + 1 interactions, a seeded random sample of max_users of
// them (all when fewer qualify), the first `history` items in time order as the history, the
// next one as the positive, and candidates - 1 negatives drawn from the items outside those
// history + 1 (as the reference code: items the user met later may be drawn).
struct RecboleOptions {
  std::string inter, item, candidates_file;
  std::string task = "recbole";
  std::string protocol = "last";  // "last" (the latest item is the target) or "paper"
  std::string item_noun;  // written as extra.item_noun ({{items}} in prompts), e.g. "movies"
  int candidates = 20;
  int history = 10;       // most recent history items kept ("paper": the first ones)
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

// A BEIR dataset directory (corpus.jsonl {"_id", "title", "text"}, queries.jsonl {"_id", "text"},
// qrels/<split>.tsv "query-id<TAB>corpus-id<TAB>score" with a header) re-ranked from a
// first-stage TREC run over its corpus (BEIR ships none): the split's queries, the first `depth`
// documents of the run as candidates, text = title + " " + text (as Pyserini's BEIR indexes),
// relevance = the qrels score as ConvertTrec does; a run entry whose document id is the query's
// is dropped (BEIR's evaluation does so: ArguAna and Quora queries are corpus documents). Only the
// run's documents are kept in memory.
struct BeirConvertOptions {
  std::string dir, run;
  std::string split = "test";
  std::string task = "beir";
  int depth = 20;
  double relevance_level = 1;
};
std::vector<QueryRecord> ConvertBeir(const BeirConvertOptions& o, ConvertStats* stats);

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

// {"model": "description"}: candidate texts "model: description" for the routing converters.
std::map<std::string, std::string> ReadModelDescriptions(const std::string& path);

// GraphRouter's router_data.csv: one row per (query, model), columns task_id, query, llm, effect,
// cost (and others, ignored); the models in one fixed order per query; effect and cost used as
// given. Consecutive rows of one (task_id, query) make one record: candidates = every model of
// the file in order of first appearance, utility = w_e × effect -
// w_c × cost with the preference's weights (performance 1/0, balance 0.5/0.5, cost 0.2/0.8), the
// single positive = the first model of maximal utility (numpy argmax). Tasks in drop_tasks are
// left out (the reference drops multi_news). Queries whose rows do not list every model once, or
// have an empty effect or cost, are skipped and counted; none left is an error. A cell that is
// not a finite number is an error naming file, line and column. Records carry quality (= effect),
// cost, utility, weights, preference and source_task.
struct GraphRouterOptions {
  std::string csv, models_json;
  std::string preference = "performance";
  std::string task;  // "" = Router-Performance / Router-Balance / Router-Cost
  std::vector<std::string> drop_tasks = {"multi_news"};
};
std::vector<QueryRecord> ConvertGraphRouter(const GraphRouterOptions& o, ConvertStats* stats);
// "performance", "balance", "cost" (the paper's three routing datasets).
const std::vector<std::string>& RoutingPreferences();
// (effect weight, cost weight) of a preference; throws Error(kInvalidArgument) for others.
std::pair<double, double> RoutingPreferenceWeights(const std::string& preference);
// The paper's dataset name of a preference: Router-Performance, Router-Balance, Router-Cost.
std::string GraphRouterTaskName(const std::string& preference);

// MS MARCO v1.1 (the JSON release: one object per line, or one array of objects, each with query,
// query_id and passages [{is_selected, url, passage_text}]; Hugging Face's export with parallel
// lists {is_selected: [...], passage_text: [...]} is read too). As the paper: queries with exactly
// one selected passage, exactly `candidates` passages and at most max_chars characters (code
// points) of passage text in all; then a seeded sample of max_queries of them (-1 = the paper's
// 10000 / (candidates - 1)) in file order. Candidates keep MS MARCO's passage order, ids "0"..;
// record id and extra.query_id = query_id (else the line or element number). Queries with an
// empty passage are skipped and counted too (a candidate needs text).
struct MsMarcoOptions {
  std::string input;
  std::string task;  // "" = Passage-<candidates>
  int candidates = 5;
  int64_t max_chars = 2600;
  int64_t max_queries = -1;
  uint64_t seed = 42;
};
std::vector<QueryRecord> ConvertMsMarco(const MsMarcoOptions& o, ConvertStats* stats);

}  // namespace iranker
