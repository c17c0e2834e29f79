// trainer/tfevents.h — TensorBoard event files (`events.out.tfevents.*`): every scalar of
// metrics.jsonl, so `tensorboard --logdir RUN_DIR` shows the run.
//
// The file is a sequence of TFRecords:
//   uint64 length (little-endian) | uint32 masked_crc32c(length bytes) | data |
//   uint32 masked_crc32c(data)
// with masked(c) = ((c >> 15) | (c << 17)) + 0xa282ead8 over CRC-32C (Castagnoli). Each record's
// data is an Event protobuf (tensorflow/core/util/event.proto), encoded here field by field:
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
// The first record carries file_version "brain.Event:2". Records are flushed after each step, so a
// crash loses at most the step being written.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace iranker {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), continuing from `crc`.
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);
// TFRecord's masked CRC-32C.
uint32_t MaskedCrc32c(const void* data, size_t n);

class TfEventsWriter {
 public:
  // Creates <dir>/events.out.tfevents.<unix seconds>.<host> and writes the file-version record.
  // Throws Error naming the path when it cannot be created.
  explicit TfEventsWriter(const std::string& dir);
  ~TfEventsWriter();
  TfEventsWriter(const TfEventsWriter&) = delete;
  TfEventsWriter& operator=(const TfEventsWriter&) = delete;

  // One Event with a Summary of simple values at `step`; flushed.
  void AddScalars(int64_t step, const std::vector<std::pair<std::string, double>>& scalars,
                  double wall_time);
  const std::string& path() const { return path_; }

 private:
  void WriteRecord(const std::string& data);
  std::FILE* f_ = nullptr;
  std::string path_;
};

}  // namespace iranker
