#include "trajectory/codec.h"

#include <type_traits>

#include "base/bytes.h"

namespace iranker {
namespace {

constexpr uint32_t kBatchMagic = 0x42545249;  // "IRTB"

template <class T>
constexpr size_t kEncodedScalarBytes = std::is_same_v<T, bool> ? 1 : sizeof(T);

// Writes a record's fields in Visit order.
template <class R>
struct Writer {
  const R& r;
  ByteWriter& w;
  template <class T>
  void Field(const char*, T R::*member, const char*, const char* = nullptr) {
    const T& value = r.*member;
    if constexpr (std::is_same_v<T, bool>) {
      w.PutBool(value);
    } else if constexpr (std::is_arithmetic_v<T>) {
      w.Put(value);
    } else if constexpr (std::is_same_v<T, std::string>) {
      w.PutString(value);
    } else {
      w.PutArray(value);
    }
  }
};

// Reads a record's fields in Visit order; `ok` turns false at the first malformed field.
template <class R>
struct Reader {
  R& r;
  ByteReader& in;
  bool ok = true;
  template <class T>
  void Field(const char*, T R::*member, const char*, const char* = nullptr) {
    if (!ok) return;
    T& value = r.*member;
    if constexpr (std::is_same_v<T, bool>) {
      ok = in.GetBool(&value);
    } else if constexpr (std::is_arithmetic_v<T>) {
      ok = in.Get(&value);
    } else if constexpr (std::is_same_v<T, std::string>) {
      ok = in.GetString(&value);
    } else {
      ok = in.GetArray(&value);
    }
  }
};

// The smallest encoding of a record (every variable-length field empty): counts of records that
// could not fit in what remains are rejected before anything is allocated.
template <class R>
struct MinBytes {
  size_t bytes = 0;
  template <class T>
  void Field(const char*, T R::*, const char*, const char* = nullptr) {
    if constexpr (std::is_arithmetic_v<T>) {
      bytes += kEncodedScalarBytes<T>;
    } else {
      bytes += sizeof(uint32_t);
    }
  }
};

template <class R>
size_t MinEncodedBytes() {
  MinBytes<R> m;
  R::Visit(m);
  return m.bytes;
}

template <class R>
void Put(ByteWriter& w, const R& r) {
  Writer<R> writer{r, w};
  R::Visit(writer);
}

template <class R>
bool Get(ByteReader& in, R* r) {
  Reader<R> reader{*r, in};
  R::Visit(reader);
  return reader.ok;
}

bool Bad(std::string* why, const char* what) {
  if (why) *why = what;
  return false;
}

// Reads a count and that many records; `what` names them in the failure reasons.
template <class R>
bool GetAll(ByteReader& in, std::vector<R>* out, const char* count_bad, const char* record_bad,
            std::string* why) {
  uint32_t n = 0;
  if (!in.GetCount(&n, MinEncodedBytes<R>())) return Bad(why, count_bad);
  out->resize(n);
  for (auto& r : *out)
    if (!Get(in, &r)) return Bad(why, record_bad);
  return true;
}

}  // namespace

void EncodeTrajectoryBatch(const TrajectoryBatch& batch, std::string* out) {
  out->reserve(out->size() + 64 + TrajectoryPayloadBytes(batch) +
               batch.steps.size() * MinEncodedBytes<StepRecord>() +
               batch.episodes.size() * MinEncodedBytes<EpisodeSummary>());
  ByteWriter w(out);
  w.Put(kBatchMagic);
  w.Put(kTrajectoryFormatVersion);
  w.Put(batch.actor_id);
  w.Put(batch.actor_incarnation);
  w.Put(batch.batch_seq);
  w.Put(static_cast<uint32_t>(batch.steps.size()));
  for (const auto& s : batch.steps) Put(w, s);
  w.Put(static_cast<uint32_t>(batch.episodes.size()));
  for (const auto& e : batch.episodes) Put(w, e);
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
         version == kTrajectoryFormatVersion && r.Get(actor_id) && r.Get(incarnation) && r.Get(seq);
}

bool DecodeTrajectoryBatch(const void* data, size_t size, TrajectoryBatch* out, std::string* why) {
  ByteReader r(data, size);
  uint32_t magic = 0, version = 0;
  if (!r.Get(&magic) || magic != kBatchMagic) return Bad(why, "not a trajectory batch (magic)");
  if (!r.Get(&version) || version != kTrajectoryFormatVersion)
    return Bad(why, "unknown trajectory encoding version");
  TrajectoryBatch b;
  if (!r.Get(&b.actor_id) || !r.Get(&b.actor_incarnation) || !r.Get(&b.batch_seq))
    return Bad(why, "truncated batch header");
  if (!GetAll(r, &b.steps, "step count exceeds the buffer", "truncated or malformed step record",
              why) ||
      !GetAll(r, &b.episodes, "episode count exceeds the buffer",
              "truncated or malformed episode summary", why))
    return false;
  if (!r.done()) return Bad(why, "trailing bytes after the batch");
  *out = std::move(b);
  return true;
}

}  // namespace iranker
