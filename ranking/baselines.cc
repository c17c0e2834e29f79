#include "ranking/baselines.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <unordered_map>

#include "base/rng.h"
#include "ranking/text.h"

namespace iranker {

std::vector<int> RandomRanking(size_t n, uint64_t seed) {
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  Rng rng(seed);
  rng.Shuffle(&order);
  return order;
}

std::vector<double> Bm25Scores(const std::string& query, const std::vector<std::string>& documents,
                               const Bm25Params& p) {
  std::vector<std::unordered_map<std::string, int>> tf(documents.size());
  std::vector<double> len(documents.size());
  std::unordered_map<std::string, int> df;
  double total = 0;
  for (size_t d = 0; d < documents.size(); ++d) {
    auto toks = Tokenize(documents[d]);
    len[d] = static_cast<double>(toks.size());
    total += len[d];
    for (const auto& t : toks) ++tf[d][t];
    for (const auto& [t, c] : tf[d]) ++df[t];
  }
  const double n = static_cast<double>(documents.size());
  const double avg = documents.empty() || total == 0 ? 1.0 : total / n;
  std::vector<double> scores(documents.size(), 0.0);
  auto qtoks = Tokenize(query);
  for (const auto& q : std::set<std::string>(qtoks.begin(), qtoks.end())) {
    auto it = df.find(q);
    if (it == df.end()) continue;
    const double idf = std::log(1.0 + (n - it->second + 0.5) / (it->second + 0.5));
    for (size_t d = 0; d < documents.size(); ++d) {
      auto f = tf[d].find(q);
      if (f == tf[d].end()) continue;
      const double freq = f->second;
      scores[d] += idf * freq * (p.k1 + 1) / (freq + p.k1 * (1 - p.b + p.b * len[d] / avg));
    }
  }
  return scores;
}

std::vector<int> RankByScore(const std::vector<double>& scores) {
  std::vector<int> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return scores[a] > scores[b]; });
  return order;
}

std::vector<int> Bm25Ranking(const QueryRecord& record, const Bm25Params& params) {
  std::string query = record.query;
  if (Trim(query).empty())
    for (const auto& h : History(record)) query += " " + h;
  std::vector<std::string> docs;
  for (const auto& c : record.candidates) docs.push_back(c.text);
  return RankByScore(Bm25Scores(query, docs, params));
}

}  // namespace iranker
