// comm/collective_util.h — shared by the all-reduce back-ends (internal to the room).
#pragma once

#include <cstdint>
#include <string>

namespace iranker::comm {

class Collective;

// "rank R of N (host H, pid P)": the identity printed in every collective error.
std::string DescribeRank(int rank, int size);
// Throws Error(kDeadlineExceeded) naming the stuck collective and this rank; `note` (may be
// empty) is appended to the message.
[[noreturn]] void CollectiveTimedOut(const std::string& backend, const std::string& what,
                                     int timeout_ms, int rank, int size, const std::string& note = "");

// The time-out of one pending collective. Expired() stays false within timeout_ms of the start,
// or of the last time the collective's peer-progress probe (Collective::PeerProgress, asked each
// time the deadline passes) reported a peer busy on its own and progressing; the first such
// report is logged. Then it turns true, and Note() says how long the wait lasted in all.
class CollectiveClock {
 public:
  CollectiveClock(const Collective& c, int timeout_ms);
  bool Expired(const std::string& what);
  std::string Note() const;

 private:
  const Collective& c_;
  int timeout_ms_;
  int64_t start_ms_, deadline_start_ms_;
  int extensions_ = 0;
};

}  // namespace iranker::comm
