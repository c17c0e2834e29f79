// tokenizer/bpe.h — byte-level BPE merges on raw bytes (internal to tokenizer/).
//
// A piece starts as one symbol per byte (the vocabulary ids of the 256 byte symbols); the adjacent
// pair with the lowest merge rank is merged, leftmost first among equal ranks, until no pair has a
// rank — the result Hugging Face's BPE gives. Short pieces use an array scan; long ones a heap over
// a linked list (O(n log n)). Results for pieces up to kMaxCachedBytes are cached in a sharded,
// mutex-guarded map, so concurrent Encode calls are safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"

namespace iranker {

class BpeModel {
 public:
  struct Merge {
    int32_t left, right, merged;  // vocabulary ids; rank = position in the list
  };

  // byte_ids[b]: id of the symbol for byte b. whole_words: bytes -> id of every vocabulary token,
  // consulted first when ignore_merges (Llama-3 style) is set; may be empty otherwise.
  BpeModel(const std::array<int32_t, 256>& byte_ids, const std::vector<Merge>& merges,
           std::unordered_map<std::string, int32_t> whole_words, bool ignore_merges);

  // Appends the ids of one pre-tokenized piece. Thread-safe.
  void Encode(std::string_view piece, std::vector<int32_t>* out) const;

  // Merges without the cache (exposed for tests and benchmarks).
  void EncodeUncached(std::string_view piece, std::vector<int32_t>* out) const;

  static constexpr size_t kMaxCachedBytes = 64;
  static constexpr size_t kArrayScanMax = 48;  // longer pieces use the heap

 private:
  // Open-addressing map (left,right) -> (rank, merged id).
  struct Slot {
    uint64_t key;
    int32_t rank, merged;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t Key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  const Slot* Find(int32_t a, int32_t b) const {
    const uint64_t k = Key(a, b);
    size_t i = (k * 0x9E3779B97F4A7C15ull) >> shift_;
    for (;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == k) return &s;
      if (s.key == kEmpty) return nullptr;
    }
  }
  void MergeSmall(std::vector<int32_t>* ids) const;
  void MergeLarge(std::vector<int32_t>* ids) const;

  std::array<int32_t, 256> byte_ids_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  std::unordered_map<std::string, int32_t> whole_words_;
  bool ignore_merges_;

  struct Shard {
    Mutex mu;
    std::unordered_map<std::string, std::vector<int32_t>> map IR_GUARDED_BY(mu);
  };
  static constexpr size_t kShards = 16;
  static constexpr size_t kShardCapacity = 8192;  // a full shard is cleared
  mutable std::array<Shard, kShards> cache_;
};

}  // namespace iranker
