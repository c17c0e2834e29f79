#include "trajectory/record.h"

#include <type_traits>

namespace iranker {
namespace {

// operator== over the field list of a record.
template <class R>
struct Equal {
  const R& a;
  const R& b;
  bool same = true;
  template <class T>
  void Field(const char*, T R::*member, const char*, const char* = nullptr) {
    same = same && a.*member == b.*member;
  }
};

template <class R>
bool SameFields(const R& a, const R& b) {
  Equal<R> eq{a, b};
  R::Visit(eq);
  return eq.same;
}

// Bytes of the variable-length fields of one record.
template <class R>
struct Payload {
  const R& r;
  size_t bytes = 0;
  template <class T>
  void Field(const char*, T R::*member, const char*, const char* = nullptr) {
    if constexpr (!std::is_arithmetic_v<T>)
      bytes += (r.*member).size() * sizeof(typename T::value_type);
  }
};

template <class R>
size_t PayloadOf(const R& r) {
  Payload<R> p{r};
  R::Visit(p);
  return p.bytes;
}

}  // namespace

bool operator==(const StepRecord& a, const StepRecord& b) { return SameFields(a, b); }
bool operator==(const EpisodeSummary& a, const EpisodeSummary& b) { return SameFields(a, b); }

bool operator==(const TrajectoryBatch& a, const TrajectoryBatch& b) {
  return a.actor_id == b.actor_id && a.actor_incarnation == b.actor_incarnation &&
         a.batch_seq == b.batch_seq && a.steps == b.steps && a.episodes == b.episodes;
}

size_t TrajectoryPayloadBytes(const TrajectoryBatch& batch) {
  size_t n = 0;
  for (const auto& s : batch.steps) n += PayloadOf(s);
  for (const auto& e : batch.episodes) n += PayloadOf(e);
  return n;
}

}  // namespace iranker
