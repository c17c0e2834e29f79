#include "tokenizer/bpe.h"

#include <climits>
#include <functional>
#include <queue>

namespace iranker {

BpeModel::BpeModel(const std::array<int32_t, 256>& byte_ids, const std::vector<Merge>& merges,
                   std::unordered_map<std::string, int32_t> whole_words, bool ignore_merges)
    : byte_ids_(byte_ids), whole_words_(std::move(whole_words)), ignore_merges_(ignore_merges) {
  size_t cap = 16;
  int bits = 4;
  while (cap < merges.size() * 2) cap <<= 1, ++bits;  // load factor <= 1/2
  slots_.assign(cap, Slot{kEmpty, 0, 0});
  mask_ = cap - 1;
  shift_ = 64 - bits;
  for (size_t r = 0; r < merges.size(); ++r) {
    const Merge& m = merges[r];
    const uint64_t k = Key(m.left, m.right);
    size_t i = (k * 0x9E3779B97F4A7C15ull) >> shift_;
    while (slots_[i].key != kEmpty && slots_[i].key != k) i = (i + 1) & mask_;
    // A repeated merge keeps its last rank, as Hugging Face's and transformers.js's maps do.
    slots_[i] = Slot{k, static_cast<int32_t>(r), m.merged};
  }
}

void BpeModel::MergeSmall(std::vector<int32_t>* ids_vec) const {
  int32_t* ids = ids_vec->data();
  size_t n = ids_vec->size();
  int32_t rank[kArrayScanMax], merged[kArrayScanMax];
  auto fill = [&](size_t i) {
    const Slot* s = Find(ids[i], ids[i + 1]);
    rank[i] = s ? s->rank : INT_MAX;
    merged[i] = s ? s->merged : -1;
  };
  for (size_t i = 0; i + 1 < n; ++i) fill(i);
  while (n > 1) {
    size_t best = 0;
    int32_t best_rank = rank[0];
    for (size_t i = 1; i + 1 < n; ++i)
      if (rank[i] < best_rank) best_rank = rank[i], best = i;
    if (best_rank == INT_MAX) break;
    ids[best] = merged[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      ids[i] = ids[i + 1];
      rank[i] = rank[i + 1];
      merged[i] = merged[i + 1];
    }
    --n;
    if (best > 0) fill(best - 1);
    if (best + 1 < n) fill(best);
  }
  ids_vec->resize(n);
}

void BpeModel::MergeLarge(std::vector<int32_t>* ids_vec) const {
  std::vector<int32_t>& ids = *ids_vec;
  const int32_t n = static_cast<int32_t>(ids.size());
  std::vector<int32_t> prev(n), next(n);
  for (int32_t i = 0; i < n; ++i) prev[i] = i - 1, next[i] = i + 1 < n ? i + 1 : -1;
  // Candidate (rank, left position, left id, right id); stale when either side changed since.
  struct Cand {
    int32_t rank, pos, left, right;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int32_t i) {
    const int32_t j = next[i];
    if (j < 0) return;
    if (const Slot* s = Find(ids[i], ids[j])) heap.push({s->rank, i, ids[i], ids[j]});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  std::vector<char> dead(n, 0);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const int32_t i = c.pos, j = next[i];
    if (dead[i] || j < 0 || ids[i] != c.left || ids[j] != c.right) continue;
    const Slot* s = Find(c.left, c.right);
    ids[i] = s->merged;
    dead[j] = 1;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    if (prev[i] >= 0) push(prev[i]);
    push(i);
  }
  size_t w = 0;
  for (int32_t i = 0; i >= 0 && i < n; i = next[i]) ids[w++] = ids[i];
  ids.resize(w);
}

void BpeModel::EncodeUncached(std::string_view piece, std::vector<int32_t>* out) const {
  if (ignore_merges_) {
    auto it = whole_words_.find(std::string(piece));
    if (it != whole_words_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  thread_local std::vector<int32_t> ids;
  ids.clear();
  for (char c : piece) ids.push_back(byte_ids_[static_cast<uint8_t>(c)]);
  if (ids.size() <= kArrayScanMax)
    MergeSmall(&ids);
  else
    MergeLarge(&ids);
  out->insert(out->end(), ids.begin(), ids.end());
}

void BpeModel::Encode(std::string_view piece, std::vector<int32_t>* out) const {
  if (piece.size() == 1) {
    if (ignore_merges_) return EncodeUncached(piece, out);
    out->push_back(byte_ids_[static_cast<uint8_t>(piece[0])]);
    return;
  }
  if (piece.size() > kMaxCachedBytes) return EncodeUncached(piece, out);
  thread_local std::string key;
  key.assign(piece.data(), piece.size());
  const size_t h = std::hash<std::string>()(key);
  Shard& shard = cache_[(h >> 7) % kShards];
  {
    MutexLock lock(shard.mu);
    auto it = shard.map.find(key);
    if (it != shard.map.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t start = out->size();
  EncodeUncached(piece, out);
  std::vector<int32_t> value(out->begin() + start, out->end());
  MutexLock lock(shard.mu);
  if (shard.map.size() >= kShardCapacity) shard.map.clear();
  shard.map.emplace(key, std::move(value));
}

}  // namespace iranker
