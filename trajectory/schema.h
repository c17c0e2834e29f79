// trajectory/schema.h — the records' field lists as the HDF5 log's columns, for documentation and
// for tools that read the log without iranker.
//
// docs/TRAJLOG.md holds TrajectorySchemaMarkdown() and tools/trajlog_to_numpy.py holds
// TrajectorySchemaPython() between marker lines; `iranker inspect --schema markdown|python` prints
// them, and a test fails when either file is out of date.
#pragma once

#include <string>
#include <vector>

namespace iranker {

// One field of a record, as the HDF5 log stores it.
struct SchemaColumn {
  std::string group;  // "steps" (StepRecord) or "episodes" (EpisodeSummary)
  std::string name;   // the field and its dataset
  std::string type;   // element type: "u64", "i32", "f32" or "u8" (bool, and UTF-8 for strings)
  std::string ends;   // variable-length: its u64 end-offset dataset; "" for one element a row
  bool owns_ends = false;  // the first field naming `ends` (later ones share its offsets)
  std::string doc;
};

// Steps first, then episodes, each in Visit order.
std::vector<SchemaColumn> TrajectorySchema();
std::string TrajectorySchemaMarkdown();
std::string TrajectorySchemaPython();
// A digest of every field's group, name, type and end-offset column: tests pin it, so a change
// of the records is noticed and comes with a bump of kTrajectoryFormatVersion.
std::string TrajectorySchemaFingerprint();

}  // namespace iranker
