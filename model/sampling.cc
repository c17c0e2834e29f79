#include "model/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "base/error.h"

namespace iranker {

TokenTrie::TokenTrie(const std::vector<std::vector<int32_t>>& sequences) {
  nodes_.emplace_back();
  for (const auto& seq : sequences) {
    int32_t node = kRoot;
    for (int32_t t : seq) {
      auto it = nodes_[node].children.find(t);
      if (it == nodes_[node].children.end()) {
        nodes_.emplace_back();
        int32_t child = static_cast<int32_t>(nodes_.size() - 1);
        nodes_[node].children[t] = child;
        node = child;
      } else {
        node = it->second;
      }
    }
    nodes_[node].terminal = true;
  }
}

int32_t TokenTrie::Next(int32_t node, int32_t token) const {
  auto it = nodes_[node].children.find(token);
  return it == nodes_[node].children.end() ? -1 : it->second;
}

double SampleUniform(uint64_t seed, uint64_t index) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
}

SampledToken SampleToken(const float* logits, int64_t vocab, const SamplingParams& p,
                         uint64_t index, const std::vector<int32_t>* allowed) {
  IR_CHECK(p.greedy || p.temperature > 0);
  const double inv_t = p.greedy ? 1.0 : 1.0 / p.temperature;
  // Full log-softmax normaliser at this temperature (what the learner recomputes).
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < vocab; ++i) mx = std::max(mx, logits[i] * inv_t);
  double z = 0;
  for (int64_t i = 0; i < vocab; ++i) z += std::exp(logits[i] * inv_t - mx);
  const double log_z = mx + std::log(z);

  SampledToken out;
  // Candidate set: allowed tokens, or the whole vocabulary.
  std::vector<int32_t> cand;
  if (allowed) {
    cand = *allowed;
    IR_CHECK(!cand.empty());
  }
  auto logit = [&](int32_t t) { return logits[t] * inv_t; };
  if (p.greedy) {
    int32_t best = -1;
    double bv = -std::numeric_limits<double>::infinity();
    if (allowed) {
      for (int32_t t : cand)
        if (logit(t) > bv || best < 0) bv = logit(t), best = t;
    } else {
      for (int64_t t = 0; t < vocab; ++t)
        if (logit(t) > bv || best < 0) bv = logit(t), best = static_cast<int32_t>(t);
    }
    out.token = best;
    out.logprob = static_cast<float>(logit(best) - log_z);
    out.sampling_logprob = 0.0f;
    return out;
  }
  if (!allowed) {
    cand.resize(vocab);
    std::iota(cand.begin(), cand.end(), 0);
  }
  // Order candidates by logit, descending, only as far as top-k / top-p need.
  auto by_logit = [&](int32_t a, int32_t b) {
    return logit(a) > logit(b) || (logit(a) == logit(b) && a < b);
  };
  size_t keep = cand.size();
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < keep) {
    std::partial_sort(cand.begin(), cand.begin() + p.top_k, cand.end(), by_logit);
    keep = p.top_k;
    cand.resize(keep);
  }
  // Probabilities within the candidate set.
  double cmx = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < keep; ++i) cmx = std::max(cmx, logit(cand[i]));
  double cz = 0;
  for (size_t i = 0; i < keep; ++i) cz += std::exp(logit(cand[i]) - cmx);
  if (p.top_p < 1.0f) {
    // Grow a sorted prefix until it holds top_p of the mass.
    size_t sorted = 0, want = std::min<size_t>(keep, 64);
    double mass = 0;
    size_t cut = keep;
    while (true) {
      if (want > sorted)
        std::partial_sort(cand.begin() + sorted, cand.begin() + want, cand.begin() + keep,
                          by_logit);
      for (; sorted < want; ++sorted) {
        mass += std::exp(logit(cand[sorted]) - cmx) / cz;
        if (mass >= p.top_p) {
          cut = sorted + 1;
          break;
        }
      }
      if (cut < keep || want == keep) break;
      want = std::min(keep, want * 4);
    }
    keep = cut;
    cand.resize(keep);
    cz = 0;
    for (size_t i = 0; i < keep; ++i) cz += std::exp(logit(cand[i]) - cmx);
  }
  // Inverse CDF with the sequence's uniform for this token.
  const double u = SampleUniform(p.seed, index) * cz;
  double acc = 0;
  int32_t chosen = cand[keep - 1];
  for (size_t i = 0; i < keep; ++i) {
    acc += std::exp(logit(cand[i]) - cmx);
    if (u < acc) {
      chosen = cand[i];
      break;
    }
  }
  out.token = chosen;
  out.logprob = static_cast<float>(logit(chosen) - log_z);
  out.sampling_logprob = static_cast<float>(logit(chosen) - cmx - std::log(cz));
  return out;
}

}  // namespace iranker
