// comm/trajectory.h — the trajectory records shared by actors, learners and the HDF5 log, and
// their compact binary encoding (the payload of a kBatch wire message, comm/wire.h).
//
// Encoding (version kTrajectoryEncodingVersion, little-endian, declared once in trajectory.cc):
// a batch header (actor_id, actor_incarnation, batch_seq, counts) followed by the step records and
// episode summaries field by field; strings and arrays are a u32 length followed by raw bytes.
// Decoding is bounds-checked: every length is checked against the bytes that remain before any
// allocation, so a hostile buffer can neither crash the decoder nor make it allocate more than
// the buffer's own size; bulk arrays (token ids, log-probabilities) are copied exactly once, from
// the received buffer into their vectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace iranker {

// One elimination step of one episode: the prompt the policy saw, the response it sampled with
// the behaviour log-probabilities, and the reward it earned.
struct StepRecord {
  uint64_t episode_id = 0;
  int32_t step = 0;
  int32_t pool_size = 0;
  std::string query_id, dataset;
  int32_t actor_id = 0;
  uint64_t policy_version = 0;
  uint64_t seed = 0;
  uint64_t group_id = 0;  // samples sharing query+state for GRPO
  std::vector<int32_t> prompt_ids, response_ids;
  std::vector<float> logprobs;  // behaviour, one per response token
  float reward = 0;
  float reward_answer = 0, reward_format = 0, reward_tags = 0;
  std::string answer_text;
  int32_t chosen = -1;  // candidate index removed, -1 none
  bool valid_format = false;
  bool episode_done = false;
};

// One finished episode: the final ranking and its metrics.
struct EpisodeSummary {
  uint64_t episode_id = 0;
  std::string query_id, dataset;
  int32_t actor_id = 0;
  uint64_t policy_version = 0;
  std::vector<int32_t> ranking;
  float mrr = 0, ndcg10 = 0, hit1 = 0;
  int32_t num_steps = 0, fallbacks = 0;
};

// The unit an actor streams to a learner. (actor_id, actor_incarnation, batch_seq) identifies a
// batch uniquely: the stream uses it to de-duplicate resent batches.
struct TrajectoryBatch {
  int32_t actor_id = 0;
  uint64_t actor_incarnation = 0;
  uint64_t batch_seq = 0;
  std::vector<StepRecord> steps;
  std::vector<EpisodeSummary> episodes;
};

bool operator==(const StepRecord& a, const StepRecord& b);
bool operator==(const EpisodeSummary& a, const EpisodeSummary& b);
bool operator==(const TrajectoryBatch& a, const TrajectoryBatch& b);

constexpr uint32_t kTrajectoryEncodingVersion = 1;

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

// Bytes of token ids, log-probabilities and strings the batch carries (for throughput figures).
size_t TrajectoryPayloadBytes(const TrajectoryBatch& batch);

}  // namespace iranker
