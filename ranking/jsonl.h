// ranking/jsonl.h — streaming reader and writer of QueryRecord JSONL files (docs/DATA.md).
//
// The reader holds one line in memory at a time, validates every record (ParseRecord) and reports
// a bad line as "file:line: reason". With BadLinePolicy::kStop the first bad line throws
// Error(kInvalidArgument); with kSkip bad lines are counted, the first few messages kept, and
// reading goes on — until more than `max_bad_lines` were skipped, which throws. Blank lines are
// ignored. A missing file throws Error(kNotFound).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "base/fields.h"
#include "ranking/record.h"

namespace iranker {

// What reading does with a malformed line (data.bad_lines).
enum class BadLinePolicy { kStop, kSkip };
inline const EnumNames<BadLinePolicy>& NamesOf(BadLinePolicy) {
  static const EnumNames<BadLinePolicy> names = {{BadLinePolicy::kStop, "stop"},
                                                 {BadLinePolicy::kSkip, "skip"}};
  return names;
}

// `data:` section: the datasets of a run and how strictly they are read.
struct DataOptions {
  // JSONL files to train on (docs/DATA.md). Relative paths are relative to the working directory.
  std::vector<std::string> train = {"data/recommendation/train.jsonl", "data/routing/train.jsonl",
                                    "data/passage/train.jsonl"};
  // JSONL files to evaluate on; each file is reported as its own dataset.
  std::vector<std::string> test = {"data/recommendation/test.jsonl", "data/routing/test.jsonl",
                                   "data/passage/test.jsonl"};
  // "stop": the first malformed line is an error. "skip": malformed lines are logged and counted.
  BadLinePolicy bad_lines = BadLinePolicy::kStop;
  // With bad_lines=skip: more skipped lines than this in one file is an error (-1 = no limit).
  int64_t max_bad_lines = 100;
  // An HDF5 trajectory log (docs/TRAJLOG.md) to train from instead of actors: `iranker train`
  // replays its logged steps as off-policy data (docs/TRAJLOG.md, "Replay"). "" = roll out.
  std::string replay;
  // With replay: logged steps whose reward is below this are left out. With learner.algorithm=sft
  // this is rejection sampling: supervised fine-tuning on the logged responses that earned at
  // least this reward. The default keeps every row.
  double replay_min_reward = -1e9;

  template <class V>
  void Visit(V& v) {
    v.Field("train", train, "JSONL files to train on (docs/DATA.md).");
    v.Field("test", test, "JSONL files to evaluate on; each file is one dataset in reports.");
    v.Field("bad_lines", bad_lines, "Malformed lines: 'stop' (error) or 'skip' (log and count).");
    v.Field(
        "max_bad_lines", max_bad_lines,
        "With bad_lines=skip: more skipped lines per file than this is an error; -1 = no limit.",
        AtLeast(-1));
    v.Field("replay", replay,
            "HDF5 trajectory log to train from instead of rolling out (off-policy replay); '' = "
            "actors.");
    v.Field("replay_min_reward", replay_min_reward,
            "With replay: leave out logged steps whose reward is below this (with sft: rejection "
            "sampling).");
  }
};

class JsonlReader {
 public:
  JsonlReader(const std::string& path, BadLinePolicy policy, int64_t max_bad_lines = -1);

  // Reads the next valid record into *out; false at the end of the file.
  bool Next(QueryRecord* out);

  const std::string& path() const { return path_; }
  int64_t line_number() const { return line_; }  // last line read (1-based)
  int64_t records() const { return records_; }   // valid records returned so far
  int64_t bad_lines() const { return bad_; }     // lines skipped so far
  // "file:line: reason" of the first 20 skipped lines.
  const std::vector<std::string>& bad_line_messages() const { return messages_; }

 private:
  std::string path_;
  std::ifstream in_;
  BadLinePolicy policy_;
  int64_t max_bad_;
  int64_t line_ = 0, records_ = 0, bad_ = 0;
  std::vector<std::string> messages_;
};

struct ReadStats {
  int64_t records = 0;
  int64_t bad_lines = 0;
  std::vector<std::string> bad_line_messages;
};

// Reads a whole file (see JsonlReader); `stats` may be null.
std::vector<QueryRecord> ReadJsonl(const std::string& path, BadLinePolicy policy,
                                   int64_t max_bad_lines = -1, ReadStats* stats = nullptr);

// Every record of data.train, file after file. Throws Error(kInvalidArgument) when there is none
// (no files, empty files, or every line skipped as bad); bad lines as ReadJsonl.
std::vector<QueryRecord> LoadTrainRecords(const DataOptions& data);

// Writes records, one compact JSON object per line, atomically (WriteFileAtomic).
void WriteJsonl(const std::string& path, const std::vector<QueryRecord>& records);

}  // namespace iranker
