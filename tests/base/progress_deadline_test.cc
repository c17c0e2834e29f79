#include "base/progress_deadline.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace iranker {
namespace {

using namespace std::chrono_literals;

TEST(ProgressDeadline, ExpiresAfterItsTimeOutWithoutAProbe) {
  ProgressDeadline d(200ms, nullptr);
  EXPECT_FALSE(d.Expired());
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(d.Expired());
  EXPECT_EQ(d.Note(), "");
}

TEST(ProgressDeadline, NewsRestartsTheTimeOutAndIsReportedOnce) {
  int asked = 0;
  bool busy = true;
  ProgressDeadline d(200ms, [&] {
    ++asked;
    return busy ? std::string("rank 0 is busy") : std::string();
  });
  std::string first;
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(d.Expired(&first));
  EXPECT_EQ(first, "rank 0 is busy");
  EXPECT_FALSE(d.Expired(&first));  // restarted: within the time-out again, the probe not asked
  EXPECT_EQ(asked, 1);
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(d.Expired(&first));
  EXPECT_EQ(first, "");  // later news restarts it too, but only the first is handed out
  EXPECT_EQ(asked, 2);
  busy = false;
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(d.Expired(&first));
  EXPECT_EQ(asked, 3);
  const std::string note = d.Note();
  EXPECT_NE(note.find("; waited "), std::string::npos) << note;
  EXPECT_NE(note.find("reported progress on its own work until"), std::string::npos) << note;
}

}  // namespace
}  // namespace iranker
