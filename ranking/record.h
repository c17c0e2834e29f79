// ranking/record.h — one ranking query: the unit every dataset, prompt, episode and metric in
// iranker works on. The on-disk form is one JSON object per line (docs/DATA.md):
//
//   {"id": "q1", "task": "passage-synth", "scenario": "passage", "query": "...",
//    "candidates": ["text", ...] | [{"id": "d7", "text": "..."}, ...],
//    "positive": 3 | "d7"            -- index or id of the single ground truth, or
//    "relevance": [0, 2, 1, ...],    -- a graded judgement per candidate (>= 0, one > 0)
//    ...any other fields (history, cost, quality, category, ...) are kept in `extra`}
//
// ParseRecord validates everything and throws Error(kInvalidArgument) with a reason that names the
// offending field; the JSONL reader prefixes "file:line: ".
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace iranker {

struct Candidate {
  std::string id;    // unique within the record; the index as a string when not given
  std::string text;  // non-empty
};

struct QueryRecord {
  std::string id;        // unique within a file (not checked across lines)
  std::string task;      // dataset name, e.g. "rec-synth" or "dl19"
  std::string scenario;  // "recommendation", "routing", "passage" or "" (prompt default)
  std::string query;     // may be empty (recommendation records rely on `history`)
  std::vector<Candidate> candidates;  // >= 2
  // Graded relevance per candidate, always filled: a `positive` record has 1 at the positive and 0
  // elsewhere. Relevant = relevance > 0.
  std::vector<double> relevance;
  // Index of the single ground truth when the record was given with `positive`, else -1.
  int positive = -1;
  // Every other top-level field. Validated when present: `history` (string or list of strings),
  // `cost` and `quality` (numbers, one per candidate).
  nlohmann::json extra = nlohmann::json::object();

  size_t size() const { return candidates.size(); }
};

// The scenarios the prompts and generators know.
inline const std::vector<std::string>& Scenarios() {
  static const std::vector<std::string> kAll = {"recommendation", "routing", "passage"};
  return kAll;
}

// Builds and validates a record; throws Error(kInvalidArgument) naming the field.
QueryRecord ParseRecord(const nlohmann::json& j);
// Validates a record built in memory (same rules as ParseRecord); throws on the first problem.
void ValidateRecord(const QueryRecord& r);
// The inverse of ParseRecord: writes `positive` when the record has one, else `relevance`.
nlohmann::json RecordToJson(const QueryRecord& r);

// Indices of the ground truth: the candidates whose relevance equals the record's maximum (> 0).
std::vector<int> GroundTruth(const QueryRecord& r);
// True when candidate i is ground truth (see GroundTruth).
bool IsGroundTruth(const QueryRecord& r, int i);

// The history items of a record (`extra.history`): a list as given, a string as one item; empty
// when absent.
std::vector<std::string> History(const QueryRecord& r);

}  // namespace iranker
