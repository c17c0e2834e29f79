// learner/token_key.h — token sequences as hash-map keys by content (pointers to vectors), for
// grouping the samples that share a prompt (the learner's shared-prefix micro-batches, the
// critic's one value per distinct state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace iranker {

struct TokenSeqHash {
  size_t operator()(const std::vector<int32_t>* v) const {
    size_t h = v->size();
    for (int32_t x : *v) h = h * 1000003u ^ static_cast<uint32_t>(x);
    return h;
  }
};

struct TokenSeqEq {
  bool operator()(const std::vector<int32_t>* a, const std::vector<int32_t>* b) const {
    return *a == *b;
  }
};

}  // namespace iranker
