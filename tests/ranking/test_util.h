// Helpers shared by the ranking tests.
#pragma once

#include <string>
#include <vector>

#include "ranking/record.h"

namespace iranker {

// A record with texts "c0".."c{n-1}" and candidate `positive` as the single ground truth.
inline QueryRecord MakeRecord(int n, int positive, const std::string& id = "q") {
  QueryRecord r;
  r.id = id;
  r.task = "test";
  r.query = "query";
  for (int i = 0; i < n; ++i) r.candidates.push_back({std::to_string(i), "c" + std::to_string(i)});
  r.relevance.assign(n, 0.0);
  r.relevance[positive] = 1.0;
  r.positive = positive;
  return r;
}

inline std::string TestData(const std::string& name) {
  return std::string(IRANKER_SOURCE_DIR) + "/tests/ranking/testdata/" + name;
}

}  // namespace iranker
