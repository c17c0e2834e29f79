// The benchmark frame's reference processes: same allocator policy as ours unless asked otherwise,
// their CPU time and page faults counted, failures named.
#include <gtest/gtest.h>

#include <cstdlib>

#include "base/error.h"
#include "base/malloc_policy.h"
#include "bench/bench.h"

namespace iranker::bench {
namespace {

class ReferenceProcess : public ::testing::Test {
 protected:
  void SetUp() override { ::unsetenv("GLIBC_TUNABLES"); }
  void TearDown() override { SetReferenceAllocator(true); }
};

TEST_F(ReferenceProcess, RunsUnderOurAllocatorPolicy) {
  SetReferenceAllocator(true);
  const std::string out =
      RunReferenceProcess({"/bin/sh", "-c", "printf %s \"$GLIBC_TUNABLES\""}, "hint");
  EXPECT_EQ(out, RetainTunables());
  EXPECT_NE(ReferenceAllocatorDescription().find(RetainTunables()), std::string::npos);
}

TEST_F(ReferenceProcess, KeepsTheEnvironmentsMallocTunablesAndAddsToOthers) {
  ::setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_max=0", 1);
  EXPECT_EQ(RunReferenceProcess({"/bin/sh", "-c", "printf %s \"$GLIBC_TUNABLES\""}, "hint"),
            "glibc.malloc.mmap_max=0");
  ::setenv("GLIBC_TUNABLES", "glibc.rtld.nns=2", 1);
  EXPECT_EQ(RunReferenceProcess({"/bin/sh", "-c", "printf %s \"$GLIBC_TUNABLES\""}, "hint"),
            "glibc.rtld.nns=2:" + RetainTunables());
  ::unsetenv("GLIBC_TUNABLES");
}

TEST_F(ReferenceProcess, DefaultAllocatorOnRequest) {
  SetReferenceAllocator(false);
  EXPECT_EQ(RunReferenceProcess({"/bin/sh", "-c", "printf %s \"${GLIBC_TUNABLES-unset}\""}, "h"),
            "unset");
  EXPECT_NE(ReferenceAllocatorDescription().find("NOT the same"), std::string::npos);
}

TEST_F(ReferenceProcess, CountsItsCpuTimeAndPageFaults) {
  const ProcessUsage before = ReferenceProcessesUsage();
  // Touches 64 MB and spins a little: page faults and user time in the child, not in us.
  RunReferenceProcess({"/usr/bin/python3", "-c",
                       "b = bytearray(64 << 20)\n"
                       "for i in range(0, len(b), 4096): b[i] = 1\n"
                       "s = 0\n"
                       "for i in range(2000000): s += i\n"},
                      "hint");
  const ProcessUsage d = ReferenceProcessesUsage() - before;
  EXPECT_GT(d.minor_faults, (64 << 20) / 4096 / 2);
  EXPECT_GT(d.user_s + d.sys_s, 0.01);
}

TEST_F(ReferenceProcess, FailuresNameTheCommandAndTheHint) {
  try {
    RunReferenceProcess({"/bin/sh", "-c", "exit 3"}, "is the thing installed?");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("exit 3"), std::string::npos) << what;
    EXPECT_NE(what.find("is the thing installed?"), std::string::npos) << what;
  }
  EXPECT_THROW(RunReferenceProcess({"/nonexistent/program"}, "hint"), Error);
}

}  // namespace
}  // namespace iranker::bench
