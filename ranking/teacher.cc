#include "ranking/teacher.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "base/error.h"
#include "base/rng.h"
#include "ranking/baselines.h"

namespace iranker {

Teacher::Teacher(Responses source, const std::string& run_path)
    : source_(source), run_path_(run_path) {
  IR_CHECK(source != Responses::kSampled);
  if (source == Responses::kRun) {
    if (run_path.empty())
      Fail(ErrorCode::kInvalidArgument,
           "actor.responses=run needs actor.teacher_run (a TREC run file)");
    run_ = ReadRun(run_path);
    for (auto& [qid, docs] : run_) {
      SortTrecOrder(&docs);
      // Every part after a '/' may be the plain id (ids may hold '/' themselves).
      for (size_t slash = qid.find('/'); slash != std::string::npos && slash + 1 < qid.size();
           slash = qid.find('/', slash + 1)) {
        auto [at, fresh] = by_plain_id_.emplace(qid.substr(slash + 1), qid);
        if (!fresh) at->second.clear();  // ambiguous
      }
    }
  }
}

std::vector<int> Teacher::Order(const QueryRecord& record, uint64_t seed) const {
  const int n = static_cast<int>(record.size());
  switch (source_) {
    case Responses::kLabels: {
      std::vector<int> order(n);
      std::iota(order.begin(), order.end(), 0);
      Rng rng(seed);
      rng.Shuffle(&order);
      std::stable_sort(order.begin(), order.end(),
                       [&](int a, int b) { return record.relevance[a] > record.relevance[b]; });
      return order;
    }
    case Responses::kBm25:
      return Bm25Ranking(record);
    case Responses::kRun: {
      // The query's id, or DATASET/id as `iranker rank --trec-run` writes it.
      auto it = run_.find(record.id);
      if (it == run_.end()) it = run_.find(record.task + "/" + record.id);
      if (it == run_.end()) {
        auto plain = by_plain_id_.find(record.id);
        if (plain != by_plain_id_.end() && !plain->second.empty()) it = run_.find(plain->second);
      }
      if (it == run_.end())
        Fail(ErrorCode::kInvalidArgument, run_path_,
             ": the teacher run has no documents for query ", record.id);
      std::map<std::string, int> by_id;
      for (int i = 0; i < n; ++i) by_id[record.candidates[i].id] = i;
      std::vector<int> order;
      std::vector<bool> used(n, false);
      for (const auto& e : it->second) {
        auto c = by_id.find(e.docid);
        if (c == by_id.end() || used[c->second]) continue;
        used[c->second] = true;
        order.push_back(c->second);
      }
      for (int i = 0; i < n; ++i)
        if (!used[i]) order.push_back(i);
      return order;
    }
    case Responses::kSampled:
      break;
  }
  IR_CHECK(false);
  return {};
}

std::vector<int> Teacher::RankingTarget(const QueryRecord& record, const std::vector<int>& pool,
                                        uint64_t seed) const {
  std::vector<int> rank_of(record.size(), 0);
  const auto order = Order(record, seed);
  for (size_t r = 0; r < order.size(); ++r) rank_of[order[r]] = static_cast<int>(r);
  std::vector<int> display(pool.size());
  std::iota(display.begin(), display.end(), 0);
  std::stable_sort(display.begin(), display.end(),
                   [&](int a, int b) { return rank_of[pool[a]] < rank_of[pool[b]]; });
  return display;
}

int Teacher::EliminationTarget(const QueryRecord& record, const std::vector<int>& pool,
                               uint64_t seed) const {
  IR_CHECK(!pool.empty());
  return RankingTarget(record, pool, seed).back();
}

}  // namespace iranker
