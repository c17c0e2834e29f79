#include "ranking/jsonl.h"

#include <sstream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/log.h"
#include "ranking/text.h"

namespace iranker {

JsonlReader::JsonlReader(const std::string& path, BadLinePolicy policy, int64_t max_bad_lines)
    : path_(path), in_(path), policy_(policy), max_bad_(max_bad_lines) {
  if (!in_) Fail(ErrorCode::kNotFound, path, ": cannot open JSONL file");
}

bool JsonlReader::Next(QueryRecord* out) {
  std::string line;
  while (std::getline(in_, line)) {
    ++line_;
    if (Trim(line).empty()) continue;
    std::string why;
    try {
      *out = ParseRecord(nlohmann::json::parse(line));
      ++records_;
      return true;
    } catch (const nlohmann::json::exception& e) {
      // nlohmann's message starts with "[json.exception.parse_error.101] "; keep the useful part.
      std::string msg = e.what();
      auto p = msg.find("] ");
      why = "not valid JSON: " + (p == std::string::npos ? msg : msg.substr(p + 2));
    } catch (const Error& e) {
      why = e.what();
    }
    const std::string where = path_ + ":" + std::to_string(line_) + ": " + why;
    if (policy_ == BadLinePolicy::kStop) Fail(ErrorCode::kInvalidArgument, where);
    ++bad_;
    if (messages_.size() < 20) messages_.push_back(where);
    IR_LOG_WARN("skipping bad record: {}", where);
    if (max_bad_ >= 0 && bad_ > max_bad_)
      Fail(ErrorCode::kInvalidArgument, path_, ": more than ", max_bad_,
           " bad lines (data.max_bad_lines); first: ", messages_.front());
  }
  if (in_.bad()) Fail(ErrorCode::kDataLoss, path_, ":", line_, ": read error");
  return false;
}

std::vector<QueryRecord> ReadJsonl(const std::string& path, BadLinePolicy policy,
                                   int64_t max_bad_lines, ReadStats* stats) {
  JsonlReader reader(path, policy, max_bad_lines);
  std::vector<QueryRecord> out;
  QueryRecord r;
  while (reader.Next(&r)) out.push_back(std::move(r));
  if (stats) {
    stats->records = reader.records();
    stats->bad_lines = reader.bad_lines();
    stats->bad_line_messages = reader.bad_line_messages();
  }
  return out;
}

void WriteJsonl(const std::string& path, const std::vector<QueryRecord>& records) {
  std::string text;
  for (const auto& r : records) {
    text += RecordToJson(r).dump(-1, ' ', /*ensure_ascii=*/false,
                                 nlohmann::json::error_handler_t::replace);
    text += '\n';
  }
  WriteFileAtomic(path, text);
}

std::vector<QueryRecord> LoadTrainRecords(const DataOptions& data) {
  std::vector<QueryRecord> all;
  for (const auto& path : data.train) {
    auto recs = ReadJsonl(path, data.bad_lines, data.max_bad_lines);
    for (auto& r : recs) all.push_back(std::move(r));
  }
  if (all.empty()) {
    std::string files;
    for (const auto& path : data.train) files += (files.empty() ? "" : ", ") + path;
    Fail(ErrorCode::kInvalidArgument, "data.train: no training records in ",
         files.empty() ? "(no files)" : files, " (empty, or every line skipped as bad)");
  }
  return all;
}

}  // namespace iranker
