// ranking/baselines.h — rankers that need no model, reported beside the policy in eval tables.
//
//   RandomRanking  a uniformly random order of the candidates (seeded; ranking/rng.h).
//   Bm25Ranking    Okapi BM25 of the query against each candidate text, with the collection
//                  statistics (document frequency, average length) taken from the candidates of
//                  that one query; k1 = 0.9, b = 0.4 (Anserini's defaults for MS MARCO);
//                  idf = ln(1 + (N - df + 0.5) / (df + 0.5)) (Lucene's non-negative form);
//                  tokens from Tokenize() (lower-cased alphanumeric runs, no stemming, no
//                  stopwords). Ties keep candidate order. For recommendation records with an
//                  empty query the history items are the query.
// Rankings are candidate indices, best first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ranking/record.h"

namespace iranker {

std::vector<int> RandomRanking(size_t num_candidates, uint64_t seed);

struct Bm25Params {
  double k1 = 0.9;
  double b = 0.4;
};
// BM25 score of `query` against each document, the statistics taken from `documents`.
std::vector<double> Bm25Scores(const std::string& query, const std::vector<std::string>& documents,
                               const Bm25Params& params = {});
std::vector<int> Bm25Ranking(const QueryRecord& record, const Bm25Params& params = {});

// Candidate indices sorted by score descending, ties by index ascending.
std::vector<int> RankByScore(const std::vector<double>& scores);

}  // namespace iranker
