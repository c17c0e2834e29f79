// trajlog/options.h — the HDF5 trajectory log's configuration (`log:` section).
#pragma once

#include <string>

#include "base/fields.h"

namespace iranker {

struct TrajlogOptions {
  bool enabled = true;
  // File name inside the run directory.
  std::string file = "trajectories.h5";
  // Seconds between flushes: after a crash every record flushed before the last flush is readable.
  double flush_seconds = 5.0;
  // Batches queued for the writer thread before Append blocks (back-pressure, never a drop).
  int queue_batches = 64;
  // Fraction of episodes written, 1 = all. Below 1 the log keeps whole episodes chosen by a hash
  // of their id (the same ones on every run), instead of applying back-pressure to training when
  // the disk cannot keep up; the rest are counted as sampled out.
  double sample = 1.0;
  // deflate level 0-9 (0 = uncompressed).
  int deflate = 4;
  // Chunk sizes in elements: per-record columns and flat token arrays (docs/TRAJLOG.md).
  int chunk_rows = 4096;
  int chunk_tokens = 65536;

  template <class V>
  void Visit(V& v) {
    v.Field("enabled", enabled, "Write every trajectory the learners receive to HDF5.");
    v.Field("file", file, "File name inside the run directory.");
    v.Field("flush_seconds", flush_seconds, "Seconds between flushes (crash-safety horizon).",
            Range(0.0, 3600.0));
    v.Field("queue_batches", queue_batches, "Writer queue bound in batches (then back-pressure).",
            AtLeast(1));
    v.Field("sample", sample, "Fraction of episodes logged (whole episodes, by id hash); 1 = all.",
            Range(0.0, 1.0));
    v.Field("deflate", deflate, "Deflate level; 0 = off.", Range(0, 9));
    v.Field("chunk_rows", chunk_rows, "Chunk size of per-record columns.", AtLeast(1));
    v.Field("chunk_tokens", chunk_tokens, "Chunk size of flat token arrays.", AtLeast(1));
  }
};

}  // namespace iranker
