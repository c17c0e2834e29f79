// trajlog/trajlog.h — every trajectory the learners receive, in one HDF5 file per run.
//
// Schema: group /steps holds one row per elimination step, group /episodes one per finished
// episode, as the records' field lists make them (trajectory/record.h; trajlog/record_columns.h):
// a dataset per field, scalars one element a row, strings and arrays stored flat beside cumulative
// end offsets. docs/TRAJLOG.md lists every column. Root attributes: schema_version, config
// (YAML), model (JSON), code_version, learner_rank, start_step, start_time.
//
// Crash safety: the file is written in HDF5's single-writer/multiple-reader (SWMR) mode and flushed
// every flush_seconds; after SIGKILL of the writer the file opens and every row flushed before the
// last flush reads back. Readers may open it while training writes (TrajectoryLogReader with
// swmr=true and Refresh()). A row counts only once all of its columns hold it, so a reader never
// sees half a row.
//
// The writer runs on its own thread behind a bounded queue: Append blocks when the disk cannot keep
// up (back-pressure, never a drop) and the time spent blocked is reported. A write failure (disk
// full, I/O error) stops the writer; the data written so far stays readable and the next Append or
// Close throws the error.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "base/queue.h"
#include "trajectory/record.h"
#include "trajlog/options.h"

namespace iranker {

// The log's columns are the records' fields (trajectory/record.h): its schema_version is theirs.
constexpr int kTrajlogSchemaVersion = kTrajectoryFormatVersion;

struct TrajlogStats {
  int64_t batches = 0, steps = 0, episodes = 0, flushes = 0;
  int64_t bytes = 0;              // payload bytes handed to HDF5 (before compression)
  double blocked_seconds = 0;     // time Append waited for queue space
  int64_t sampled_out_steps = 0;  // step records left out by trajlog.sample < 1
  double write_seconds = 0;       // time the writer thread spent in HDF5 calls
};

class TrajectoryLogWriter {
 public:
  // Creates `path` (truncating an old file) with the given root string attributes. Throws
  // Error naming the path when it cannot be created (directory missing, no permission, disk full).
  TrajectoryLogWriter(const std::string& path, const TrajlogOptions& options,
                      const std::map<std::string, std::string>& attributes);
  ~TrajectoryLogWriter();  // Close() when not yet closed (errors logged, not thrown)

  // Queues a batch; blocks while the queue is full (and warns when that wait is long). With
  // options.sample < 1 only the episodes KeepEpisode() selects are queued.
  void Append(TrajectoryBatch batch);
  // Whether trajlog.sample keeps this episode: a hash of its id below the fraction.
  static bool KeepEpisode(uint64_t episode_id, double sample);
  // Drains the queue, flushes and closes the file; throws the writer's error if it had one.
  void Close();
  TrajlogStats stats() const;
  const std::string& path() const { return path_; }

 private:
  struct File;
  void Run();
  void ThrowIfFailed();

  std::string path_;
  TrajlogOptions options_;
  std::unique_ptr<File> file_;
  BoundedQueue<TrajectoryBatch> queue_;
  std::thread thread_;
  mutable Mutex mu_;
  TrajlogStats stats_ IR_GUARDED_BY(mu_);
  std::string error_ IR_GUARDED_BY(mu_);
  bool closed_ = false;
};

class TrajectoryLogReader {
 public:
  // Opens for reading; swmr=true to read while a writer appends. Throws Error naming the file when
  // it is not an iranker trajectory log or its schema version is unknown.
  explicit TrajectoryLogReader(const std::string& path, bool swmr = false);
  ~TrajectoryLogReader();

  void Refresh();  // pick up rows appended since opening (SWMR)
  int64_t num_steps() const;
  int64_t num_episodes() const;
  // Rows [begin, end) of /steps and /episodes.
  std::vector<StepRecord> ReadSteps(int64_t begin, int64_t end) const;
  std::vector<EpisodeSummary> ReadEpisodes(int64_t begin, int64_t end) const;
  std::string Attribute(const std::string& name) const;  // "" when absent
  // The policy_version column of /steps and /episodes alone (8 bytes a row), for partitioning a
  // log into training steps without reading its tokens.
  std::vector<uint64_t> StepPolicyVersions() const;
  std::vector<uint64_t> EpisodePolicyVersions() const;
  const std::string& path() const { return path_; }

 private:
  struct File;
  std::unique_ptr<File> file_;
  std::string path_;
};

}  // namespace iranker
