// ProgressLease / ProgressWatch (cluster/progress_lease.h): what a waiting rank learns from a busy
// one. The MPI side (a collective that waits on while a peer progresses, and times out once it
// stops) is in tests/comm/allreduce_mpi_test.cc.
#include "cluster/progress_lease.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace iranker {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string FreshDir(const std::string& name) {
  const std::string dir = fs::temp_directory_path().string() + "/iranker-lease-" + name + "-" +
                          std::to_string(::getpid());
  fs::remove_all(dir);
  return dir;
}

TEST(ProgressLease, AWatchSeesProgressOnlyWhileAPhaseIsOpenAndMoving) {
  const std::string dir = FreshDir("phase");
  ProgressLease lease(dir, 0);
  ProgressWatch watch(dir, 1);
  EXPECT_EQ(watch.Progress(), "");  // idle
  lease.Begin("evaluation at step 4");
  const std::string first = watch.Progress();
  EXPECT_NE(first.find("rank 0"), std::string::npos) << first;
  EXPECT_NE(first.find("'evaluation at step 4'"), std::string::npos) << first;
  EXPECT_EQ(watch.Progress(), "");  // nothing moved since the last look: a hang looks like this
  std::this_thread::sleep_for(std::chrono::milliseconds(ProgressLease::kMinWriteMs + 20));
  lease.Beat();
  EXPECT_NE(watch.Progress(), "");
  EXPECT_EQ(watch.Progress(), "");
  lease.End();
  // Busy at the last look and moved since: it has just finished and is on its way.
  EXPECT_NE(watch.Progress().find("rank 0 has just finished 'evaluation at step 4'"),
            std::string::npos);
  EXPECT_EQ(watch.Progress(), "");  // idle, and idle at the last look: no excuse
  lease.Begin("checkpoint");
  lease.End();
  ProgressWatch late(dir, 1);  // a first look at an idle rank: no excuse either
  EXPECT_EQ(late.Progress(), "");
  fs::remove_all(dir);
}

TEST(ProgressLease, BeatsAreCountedAlwaysAndWrittenAtMostEveryMinWriteMs) {
  const std::string dir = FreshDir("rate");
  ProgressLease lease(dir, 3);
  lease.Beat();  // outside a phase: ignored
  EXPECT_EQ(lease.count(), 0u);
  const auto t0 = std::chrono::steady_clock::now();
  lease.Begin("checkpoint of step 2");
  for (int i = 0; i < 50; ++i) lease.Beat();
  const bool quick =
      std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(ProgressLease::kMinWriteMs);
  EXPECT_EQ(lease.count(), 51u);
  LeaseRecord r;
  ASSERT_TRUE(ReadProgressLease(lease.path(), &r));
  EXPECT_TRUE(r.busy);
  EXPECT_EQ(r.what, "checkpoint of step 2");
  if (quick) {
    EXPECT_EQ(r.count, 1u);  // the beats right after Begin were counted, not written
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(ProgressLease::kMinWriteMs + 20));
  lease.Beat();
  ASSERT_TRUE(ReadProgressLease(lease.path(), &r));
  EXPECT_EQ(r.count, 52u);
  lease.End();
  ASSERT_TRUE(ReadProgressLease(lease.path(), &r));
  EXPECT_FALSE(r.busy);
  EXPECT_EQ(r.count, 53u);
  EXPECT_EQ(fs::file_size(lease.path()), 128u);  // one fixed-size record, rewritten in place
  fs::remove_all(dir);
}

TEST(ProgressLease, PhasesNestAndTheRankIsBusyUntilTheOutermostEnds) {
  const std::string dir = FreshDir("nest");
  ProgressLease lease(dir, 0);
  ProgressWatch watch(dir, 1);
  {
    ProgressLease::Phase outer(&lease, "starting the run");
    EXPECT_NE(watch.Progress().find("'starting the run'"), std::string::npos);
    {
      ProgressLease::Phase inner(&lease, "evaluation of the initial policy");
      EXPECT_NE(watch.Progress().find("'evaluation of the initial policy'"), std::string::npos);
    }
    const std::string back = watch.Progress();  // the inner phase ended: still busy, count moved
    EXPECT_NE(back.find("'starting the run'"), std::string::npos) << back;
  }
  LeaseRecord r;
  ASSERT_TRUE(ReadProgressLease(lease.path(), &r));
  EXPECT_FALSE(r.busy);
  EXPECT_EQ(r.count, 4u);
  ProgressLease::Phase none(nullptr, "a null lease does nothing");
  fs::remove_all(dir);
}

TEST(ProgressLease, NothingIsWrittenBeforeAPhaseButAStaleRecordIsReset) {
  const std::string dir = FreshDir("lazy");
  {
    ProgressLease lease(dir, 0);
    EXPECT_FALSE(fs::exists(dir));  // a run that fails its input checks leaves no trace
    lease.Begin("evaluation");      // ... and the process dies mid-phase
  }
  LeaseRecord r;
  ASSERT_TRUE(ReadProgressLease(dir + "/rank-0", &r));
  EXPECT_TRUE(r.busy);
  ProgressLease restarted(dir, 0);  // the next run's rank 0
  ASSERT_TRUE(ReadProgressLease(dir + "/rank-0", &r));
  EXPECT_FALSE(r.busy);
  EXPECT_EQ(ProgressWatch(dir, 1).Progress(), "");
  fs::remove_all(dir);
}

TEST(ProgressLease, TheWatchIgnoresItsOwnRankAndAnythingThatIsNotALease) {
  const std::string dir = FreshDir("noise");
  ProgressLease mine(dir, 2);
  mine.Begin("my own work");
  ProgressWatch watch(dir, 2);
  EXPECT_EQ(watch.Progress(), "");
  std::ofstream(dir + "/rank-7") << "not a lease\n";
  std::ofstream(dir + "/rank-x") << "iranker-progress-lease 1 count=1 busy=1 what=x\n";
  std::ofstream(dir + "/notes.txt") << "hello\n";
  EXPECT_EQ(watch.Progress(), "");
  // A record cut short (a torn read of a partial copy) is not a lease either.
  ProgressLease other(dir, 5);
  other.Begin("work");
  std::string full;
  {
    std::ifstream in(other.path(), std::ios::binary);
    full.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(dir + "/rank-6", std::ios::binary) << full.substr(0, 60);
  LeaseRecord r;
  EXPECT_FALSE(ReadProgressLease(dir + "/rank-6", &r));
  const std::string p = watch.Progress();
  EXPECT_NE(p.find("rank 5"), std::string::npos) << p;
  EXPECT_EQ(ProgressWatch(dir + "/missing", 0).Progress(), "");
  fs::remove_all(dir);
}

TEST(ProgressLease, AnUnwritableDirectoryIsAWarningNotAFailure) {
  const std::string file = FreshDir("blocked");
  std::ofstream(file) << "a file where the lease directory would go\n";
  ProgressLease lease(file + "/progress", 0);  // cannot be created: logged, no throw
  lease.Begin("evaluation");
  lease.Beat();
  lease.End();
  EXPECT_EQ(lease.count(), 3u);
  EXPECT_EQ(ProgressWatch(file + "/progress", 1).Progress(), "");
  fs::remove(file);
}

TEST(ProgressLease, AWaitOutlastsItsTimeOutWhileABusyPeerProgressesAndNoLonger) {
  const std::string dir = FreshDir("wait");
  const auto timeout = 500ms;
  ProgressLease lease(dir, 0);
  ProgressWatch watch(dir, -1);  // an actor: every learner rank is a peer
  std::atomic<bool> done{false};
  auto poll = [&] {
    std::this_thread::sleep_for(10ms);
    return done.load();
  };
  // 1. Rank 0 works for three time-outs, beating, then delivers: the wait outlasts them.
  lease.Begin("evaluation at step 3");
  std::thread worker([&] {
    const auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < 3 * timeout) {
      std::this_thread::sleep_for(10ms);
      lease.Beat();
    }
    lease.End();
    done = true;
  });
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitWhileProgressing(poll, timeout, &watch, "test waiter"));
  EXPECT_GE(std::chrono::steady_clock::now() - t1, 2 * timeout);
  worker.join();
  // 2. A phase that stops beating (a hung rank): the wait ends after one to two time-outs.
  done = false;
  lease.Begin("checkpoint of step 4");
  const auto t2 = std::chrono::steady_clock::now();
  EXPECT_FALSE(WaitWhileProgressing(poll, timeout, &watch, "test waiter"));
  const auto waited = std::chrono::steady_clock::now() - t2;
  EXPECT_GE(waited, timeout);
  EXPECT_LT(waited, 4 * timeout);
  lease.End();
  // 3. No watch, or an idle lease: the time-out is final.
  const auto t3 = std::chrono::steady_clock::now();
  EXPECT_FALSE(WaitWhileProgressing(poll, 200ms, nullptr, "test waiter"));
  EXPECT_FALSE(WaitWhileProgressing(poll, 200ms, &watch, "test waiter"));
  EXPECT_LT(std::chrono::steady_clock::now() - t3, 4 * timeout);
  // 4. What `ready` throws reaches the caller.
  EXPECT_THROW(WaitWhileProgressing([]() -> bool { throw std::runtime_error("cancelled"); },
                                    timeout, &watch, "w"),
               std::runtime_error);
  fs::remove_all(dir);
}

TEST(ProgressLease, AStoppedProcessStopsBeating) {
  // The busy rank is another process; SIGSTOP freezes it mid-phase (a hung rank).
  const std::string dir = FreshDir("stopped");
  fs::create_directories(dir);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ProgressLease lease(dir, 0);
    lease.Begin("evaluation of the initial policy");
    for (int i = 0; i < 1000; ++i) {
      std::this_thread::sleep_for(10ms);
      lease.Beat();
    }
    ::_exit(0);
  }
  ProgressWatch watch(dir, 1);
  std::string seen;
  for (int i = 0; i < 100 && seen.empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    seen = watch.Progress();
  }
  EXPECT_NE(seen.find("evaluation of the initial policy"), std::string::npos) << seen;
  std::this_thread::sleep_for(500ms);
  EXPECT_NE(watch.Progress(), "");  // still beating
  ::kill(child, SIGSTOP);
  std::this_thread::sleep_for(250ms);
  watch.Progress();  // may still see the last beat before the stop
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(watch.Progress(), "");
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace iranker
