// ranking/tfidf.h — TF-IDF cosine similarity over a small document set (the candidates of one
// query). Used by evaluation as the last-resort match of an answer that names no candidate.
// Weights: raw term frequency × smoothed idf = ln((1 + N) / (1 + df)) + 1, vectors L2-normalised
// (scikit-learn's TfidfVectorizer defaults); tokens from Tokenize() (ranking/text.h).
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

namespace iranker {

class TfIdfIndex {
 public:
  explicit TfIdfIndex(const std::vector<std::string>& documents);

  // Cosine similarity of `text` with each document, in document order (0 for empty vectors).
  std::vector<double> Similarities(const std::string& text) const;

 private:
  using Vec = std::unordered_map<std::string, double>;
  Vec Vectorize(const std::string& text) const;
  std::unordered_map<std::string, double> idf_;
  double unseen_idf_;
  std::vector<Vec> docs_;
};

}  // namespace iranker
