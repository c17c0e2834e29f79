// trajectory/codec.h — the compact binary encoding of a TrajectoryBatch (the payload of a kBatch
// wire message, comm/wire.h).
//
// Layout (little-endian): magic "IRTB", kTrajectoryFormatVersion, the batch header (actor_id,
// actor_incarnation, batch_seq), then the step count and each step record, then the episode count
// and each episode summary. A record is its fields in Visit order (trajectory/record.h): scalars
// as themselves (bool as one byte, 0 or 1), strings and arrays as a u32 length and the raw bytes.
// Decoding is bounds-checked: every length is checked against the bytes that remain before any
// allocation, and a count of records against the smallest encoding a record can have, so a
// hostile buffer can neither crash the decoder nor make it allocate more than the buffer's own
// size; bulk arrays (token ids, log-probabilities) are copied exactly once, from the received
// buffer into their vectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "trajectory/record.h"

namespace iranker {

// Appends the encoding of `batch` to `*out` (which may already hold e.g. a wire header).
void EncodeTrajectoryBatch(const TrajectoryBatch& batch, std::string* out);
std::string EncodeTrajectoryBatch(const TrajectoryBatch& batch);

// Decodes `size` bytes into `*out`. Returns false and sets `*why` (if given) for a truncated,
// over-long, wrong-version or otherwise malformed buffer; never throws or aborts on bad input.
bool DecodeTrajectoryBatch(const void* data, size_t size, TrajectoryBatch* out,
                           std::string* why = nullptr);

// Reads only the identifying header (actor_id, incarnation, seq) without decoding the records.
bool PeekTrajectoryBatchId(const void* data, size_t size, int32_t* actor_id, uint64_t* incarnation,
                           uint64_t* seq);

}  // namespace iranker
