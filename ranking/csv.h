// ranking/csv.h — a small RFC 4180 CSV reader (quoted fields with commas, doubled quotes and
// newlines), enough for the routing score tables converters read. Streams one row at a time.
#pragma once

#include <fstream>
#include <string>
#include <vector>

namespace iranker {

class CsvReader {
 public:
  // Throws Error(kNotFound) when the file cannot be opened.
  explicit CsvReader(const std::string& path);
  // Reads the next row; false at end of file. Throws Error(kDataLoss) "file:line: unterminated
  // quoted field" when the file ends inside quotes.
  bool Next(std::vector<std::string>* row);
  // Line where the last row returned started (1-based).
  int64_t line() const { return row_line_; }

 private:
  std::string path_;
  std::ifstream in_;
  int64_t line_ = 0, row_line_ = 0;
};

}  // namespace iranker
