// ranking/synthetic.h — synthetic ranking tasks whose ground truth is computable and learnable,
// one generator per scenario; deterministic given (world_seed, seed).
//
// The "world" (item catalogue, model zoo, passage topics) depends only on world_seed, so train
// and test files made with different `seed`s share it and a policy can learn it; the records
// depend on `seed` and their index.
//
//   recommendation  items have a genre and an era (both visible in the title line); a user's
//                   history is mostly one genre and one era; exactly one candidate has both
//                   (the positive); hard negatives share one of the two. genre_skew makes some
//                   genres more popular than others (a learnable prior).
//   routing         a zoo of candidate LLMs with per-category skill and price (described in
//                   their text); a query of one category carries a preference (performance,
//                   balanced, cost: weights (1,0), (0.5,0.5), (0.2,0.8)); the positive maximises
//                   w_q * skill - w_c * price / max price. extra.quality/cost per candidate.
//   passage         a query asks one aspect (cause, location, ...) of one topic; the relevant
//                   passage answers that aspect of that topic in different words; distractors
//                   share the topic (semantic overlap) or reuse the query's words on another
//                   topic (lexical overlap), so BM25 is better than random but not perfect.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ranking/record.h"

namespace iranker {

struct SyntheticOptions {
  std::string scenario;     // recommendation | routing | passage
  int n = 100;              // records
  uint64_t seed = 1;        // record stream
  uint64_t world_seed = 7;  // catalogue / model zoo / topics
  int candidates = 0;       // per record; 0 = scenario default (20, 10, 9)
  std::string task;         // record task; "" = "<scenario>-synth" (routing: per preference)
  // recommendation: popularity bias of the users' preferred genre. 0 = every genre equally likely;
  // s > 0 = the k-th most popular genre (a world-seeded order) with weight 1/k^s, as in real
  // catalogues where a few genres dominate. Negatives stay uniform, so a ranker gains by learning
  // which genres are popular (a prior) as well as by reading the user's history.
  double genre_skew = 0;
};

// Throws Error(kInvalidArgument) for an unknown scenario or an impossible candidate count.
std::vector<QueryRecord> GenerateSynthetic(const SyntheticOptions& options);

// One record each (used by GenerateSynthetic; exposed for tests).
QueryRecord SyntheticRecommendation(const SyntheticOptions& o, int index);
QueryRecord SyntheticRouting(const SyntheticOptions& o, int index);
QueryRecord SyntheticPassage(const SyntheticOptions& o, int index);

}  // namespace iranker
