// ranking/teacher.h — target answers for supervised fine-tuning (learner.algorithm: sft).
//
// A teacher orders a query's candidates, best first; the targets follow from that order:
//   IRanker  the candidate of the current pool that the teacher ranks last (eliminate it);
//   DRanker  the pool in the teacher's order (the whole ranking in one answer).
// Teachers (actor.responses):
//   labels  relevance, descending; candidates of equal relevance in an order drawn from the
//           state's seed, so the eliminations spread over the equally bad candidates instead of
//           always naming the same one;
//   bm25    Bm25Ranking (ranking/baselines.h): the query (or history) against the candidates;
//   run     a TREC run file (e.g. another checkpoint's `iranker rank --run-out`, or a first-stage
//           retriever's): the query's documents by score as trec_eval orders them, matched to the
//           candidates by id; candidates the run does not list follow in candidate order. A query
//           is found by its id, or as DATASET/id (what `iranker rank --trec-run` writes); one the
//           run does not list at all is an error naming the file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/fields.h"
#include "ranking/record.h"
#include "ranking/trec.h"

namespace iranker {

// Where the actors' responses come from (actor.responses).
enum class Responses { kSampled, kLabels, kBm25, kRun };
inline const EnumNames<Responses>& NamesOf(Responses) {
  static const EnumNames<Responses> names = {{Responses::kSampled, "sampled"},
                                             {Responses::kLabels, "labels"},
                                             {Responses::kBm25, "bm25"},
                                             {Responses::kRun, "run"}};
  return names;
}

class Teacher {
 public:
  // `run_path` is read when source is kRun (and must then be non-empty).
  Teacher(Responses source, const std::string& run_path);

  // All candidate indices of `record`, best first. `seed` breaks ties of the labels teacher.
  std::vector<int> Order(const QueryRecord& record, uint64_t seed) const;

  // Display index (into `pool`) of the pool's candidate ranked last by Order.
  int EliminationTarget(const QueryRecord& record, const std::vector<int>& pool,
                        uint64_t seed) const;
  // Display indices of `pool` in Order's order.
  std::vector<int> RankingTarget(const QueryRecord& record, const std::vector<int>& pool,
                                 uint64_t seed) const;

 private:
  Responses source_;
  std::string run_path_;
  TrecRun run_;
  // A run query id PREFIX/id by its plain id (any part after a '/'); "" when several share it.
  std::map<std::string, std::string> by_plain_id_;
};

}  // namespace iranker
