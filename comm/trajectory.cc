#include "comm/trajectory.h"

#include "comm/bytes.h"

namespace iranker {

using comm::ByteReader;
using comm::ByteWriter;

namespace {

constexpr uint32_t kBatchMagic = 0x42545249;  // "IRTB"
// Smallest possible encodings; counts that could not fit in what remains are rejected up front.
constexpr size_t kMinStepBytes = 90;
constexpr size_t kMinEpisodeBytes = 52;

void PutStep(ByteWriter& w, const StepRecord& s) {
  w.Put(s.episode_id);
  w.Put(s.step);
  w.Put(s.pool_size);
  w.PutString(s.query_id);
  w.PutString(s.dataset);
  w.Put(s.actor_id);
  w.Put(s.policy_version);
  w.Put(s.seed);
  w.Put(s.group_id);
  w.PutArray(s.prompt_ids);
  w.PutArray(s.response_ids);
  w.PutArray(s.logprobs);
  w.Put(s.reward);
  w.Put(s.reward_answer);
  w.Put(s.reward_format);
  w.Put(s.reward_tags);
  w.PutString(s.answer_text);
  w.Put(s.chosen);
  w.PutBool(s.valid_format);
  w.PutBool(s.episode_done);
}

bool GetStep(ByteReader& r, StepRecord* s) {
  return r.Get(&s->episode_id) && r.Get(&s->step) && r.Get(&s->pool_size) &&
         r.GetString(&s->query_id) && r.GetString(&s->dataset) && r.Get(&s->actor_id) &&
         r.Get(&s->policy_version) && r.Get(&s->seed) && r.Get(&s->group_id) &&
         r.GetArray(&s->prompt_ids) && r.GetArray(&s->response_ids) && r.GetArray(&s->logprobs) &&
         r.Get(&s->reward) && r.Get(&s->reward_answer) && r.Get(&s->reward_format) &&
         r.Get(&s->reward_tags) && r.GetString(&s->answer_text) && r.Get(&s->chosen) &&
         r.GetBool(&s->valid_format) && r.GetBool(&s->episode_done);
}

void PutEpisode(ByteWriter& w, const EpisodeSummary& e) {
  w.Put(e.episode_id);
  w.PutString(e.query_id);
  w.PutString(e.dataset);
  w.Put(e.actor_id);
  w.Put(e.policy_version);
  w.PutArray(e.ranking);
  w.Put(e.mrr);
  w.Put(e.ndcg10);
  w.Put(e.hit1);
  w.Put(e.num_steps);
  w.Put(e.fallbacks);
}

bool GetEpisode(ByteReader& r, EpisodeSummary* e) {
  return r.Get(&e->episode_id) && r.GetString(&e->query_id) && r.GetString(&e->dataset) &&
         r.Get(&e->actor_id) && r.Get(&e->policy_version) && r.GetArray(&e->ranking) &&
         r.Get(&e->mrr) && r.Get(&e->ndcg10) && r.Get(&e->hit1) && r.Get(&e->num_steps) &&
         r.Get(&e->fallbacks);
}

bool Bad(std::string* why, const char* what) {
  if (why) *why = what;
  return false;
}

}  // namespace

bool operator==(const StepRecord& a, const StepRecord& b) {
  return a.episode_id == b.episode_id && a.step == b.step && a.pool_size == b.pool_size &&
         a.query_id == b.query_id && a.dataset == b.dataset && a.actor_id == b.actor_id &&
         a.policy_version == b.policy_version && a.seed == b.seed && a.group_id == b.group_id &&
         a.prompt_ids == b.prompt_ids && a.response_ids == b.response_ids &&
         a.logprobs == b.logprobs && a.reward == b.reward && a.reward_answer == b.reward_answer &&
         a.reward_format == b.reward_format && a.reward_tags == b.reward_tags &&
         a.answer_text == b.answer_text && a.chosen == b.chosen &&
         a.valid_format == b.valid_format && a.episode_done == b.episode_done;
}

bool operator==(const EpisodeSummary& a, const EpisodeSummary& b) {
  return a.episode_id == b.episode_id && a.query_id == b.query_id && a.dataset == b.dataset &&
         a.actor_id == b.actor_id && a.policy_version == b.policy_version &&
         a.ranking == b.ranking && a.mrr == b.mrr && a.ndcg10 == b.ndcg10 && a.hit1 == b.hit1 &&
         a.num_steps == b.num_steps && a.fallbacks == b.fallbacks;
}

bool operator==(const TrajectoryBatch& a, const TrajectoryBatch& b) {
  return a.actor_id == b.actor_id && a.actor_incarnation == b.actor_incarnation &&
         a.batch_seq == b.batch_seq && a.steps == b.steps && a.episodes == b.episodes;
}

void EncodeTrajectoryBatch(const TrajectoryBatch& batch, std::string* out) {
  out->reserve(out->size() + 64 + TrajectoryPayloadBytes(batch) +
               batch.steps.size() * kMinStepBytes + batch.episodes.size() * kMinEpisodeBytes);
  ByteWriter w(out);
  w.Put(kBatchMagic);
  w.Put(kTrajectoryEncodingVersion);
  w.Put(batch.actor_id);
  w.Put(batch.actor_incarnation);
  w.Put(batch.batch_seq);
  w.Put(static_cast<uint32_t>(batch.steps.size()));
  for (const auto& s : batch.steps) PutStep(w, s);
  w.Put(static_cast<uint32_t>(batch.episodes.size()));
  for (const auto& e : batch.episodes) PutEpisode(w, e);
}

std::string EncodeTrajectoryBatch(const TrajectoryBatch& batch) {
  std::string out;
  EncodeTrajectoryBatch(batch, &out);
  return out;
}

bool PeekTrajectoryBatchId(const void* data, size_t size, int32_t* actor_id, uint64_t* incarnation,
                           uint64_t* seq) {
  ByteReader r(data, size);
  uint32_t magic = 0, version = 0;
  return r.Get(&magic) && magic == kBatchMagic && r.Get(&version) &&
         version == kTrajectoryEncodingVersion && r.Get(actor_id) && r.Get(incarnation) &&
         r.Get(seq);
}

bool DecodeTrajectoryBatch(const void* data, size_t size, TrajectoryBatch* out, std::string* why) {
  ByteReader r(data, size);
  uint32_t magic = 0, version = 0;
  if (!r.Get(&magic) || magic != kBatchMagic) return Bad(why, "not a trajectory batch (magic)");
  if (!r.Get(&version) || version != kTrajectoryEncodingVersion)
    return Bad(why, "unknown trajectory encoding version");
  TrajectoryBatch b;
  if (!r.Get(&b.actor_id) || !r.Get(&b.actor_incarnation) || !r.Get(&b.batch_seq))
    return Bad(why, "truncated batch header");
  uint32_t n = 0;
  if (!r.GetCount(&n, kMinStepBytes)) return Bad(why, "step count exceeds the buffer");
  b.steps.resize(n);
  for (auto& s : b.steps)
    if (!GetStep(r, &s)) return Bad(why, "truncated or malformed step record");
  if (!r.GetCount(&n, kMinEpisodeBytes)) return Bad(why, "episode count exceeds the buffer");
  b.episodes.resize(n);
  for (auto& e : b.episodes)
    if (!GetEpisode(r, &e)) return Bad(why, "truncated or malformed episode summary");
  if (!r.done()) return Bad(why, "trailing bytes after the batch");
  *out = std::move(b);
  return true;
}

size_t TrajectoryPayloadBytes(const TrajectoryBatch& batch) {
  size_t n = 0;
  for (const auto& s : batch.steps)
    n += 4 * (s.prompt_ids.size() + s.response_ids.size() + s.logprobs.size()) + s.query_id.size() +
         s.dataset.size() + s.answer_text.size();
  for (const auto& e : batch.episodes)
    n += 4 * e.ranking.size() + e.query_id.size() + e.dataset.size();
  return n;
}

}  // namespace iranker
