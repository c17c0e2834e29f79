// comm/collective_util.h — shared by the all-reduce back-ends (internal to the room).
#pragma once

#include <cstdint>
#include <string>

namespace iranker::comm {

// "rank R of N (host H, pid P)": the identity printed in every collective error.
std::string DescribeRank(int rank, int size);
// Throws Error(kDeadlineExceeded) naming the stuck collective and this rank.
[[noreturn]] void CollectiveTimedOut(const std::string& backend, const std::string& what,
                                     int timeout_ms, int rank, int size);

}  // namespace iranker::comm
