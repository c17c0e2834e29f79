#include "ranking/tfidf.h"

#include <cmath>
#include <set>

#include "ranking/text.h"

namespace iranker {

TfIdfIndex::TfIdfIndex(const std::vector<std::string>& documents) {
  std::unordered_map<std::string, int> df;
  for (const auto& d : documents) {
    auto toks = Tokenize(d);
    for (const auto& t : std::set<std::string>(toks.begin(), toks.end())) ++df[t];
  }
  const double n = static_cast<double>(documents.size());
  for (const auto& [t, f] : df) idf_[t] = std::log((1.0 + n) / (1.0 + f)) + 1.0;
  unseen_idf_ = std::log(1.0 + n) + 1.0;
  for (const auto& d : documents) docs_.push_back(Vectorize(d));
}

TfIdfIndex::Vec TfIdfIndex::Vectorize(const std::string& text) const {
  Vec v;
  for (const auto& t : Tokenize(text)) v[t] += 1.0;
  double norm = 0;
  for (auto& [t, w] : v) {
    auto it = idf_.find(t);
    w *= it == idf_.end() ? unseen_idf_ : it->second;
    norm += w * w;
  }
  if (norm > 0)
    for (auto& [t, w] : v) w /= std::sqrt(norm);
  return v;
}

std::vector<double> TfIdfIndex::Similarities(const std::string& text) const {
  const Vec q = Vectorize(text);
  std::vector<double> out;
  for (const auto& d : docs_) {
    double dot = 0;
    for (const auto& [t, w] : q) {
      auto it = d.find(t);
      if (it != d.end()) dot += w * it->second;
    }
    out.push_back(dot);
  }
  return out;
}

}  // namespace iranker
