#include "ranking/csv.h"

#include "base/error.h"

namespace iranker {

CsvReader::CsvReader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
  if (!in_) Fail(ErrorCode::kNotFound, path, ": cannot open CSV file");
}

bool CsvReader::Next(std::vector<std::string>* row) {
  row->clear();
  std::string line;
  if (!std::getline(in_, line)) return false;
  row_line_ = ++line_;
  std::string field;
  bool quoted = false;
  size_t i = 0;
  while (true) {
    if (i == line.size()) {
      if (!quoted) break;
      // A newline inside a quoted field: the record continues on the next line.
      field.push_back('\n');
      if (!std::getline(in_, line))
        Fail(ErrorCode::kDataLoss, path_, ":", row_line_, ": unterminated quoted field");
      ++line_;
      i = 0;
      continue;
    }
    const char c = line[i++];
    if (quoted) {
      if (c == '"') {
        if (i < line.size() && line[i] == '"') {
          field.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row->push_back(std::move(field));
      field.clear();
    } else if (c == '\r' && i == line.size()) {
      // CRLF line end
    } else {
      field.push_back(c);
    }
  }
  row->push_back(std::move(field));
  return true;
}

}  // namespace iranker
