#include "base/queue.h"

#include <gtest/gtest.h>

#include <thread>

namespace iranker {
namespace {
using namespace std::chrono_literals;

TEST(BoundedQueue, FifoAndCapacity) {
  BoundedQueue<int> q(2);
  int a = 1, b = 2, c = 3;
  EXPECT_EQ(q.Push(a, 10ms), QueueResult::kOk);
  EXPECT_EQ(q.Push(b, 10ms), QueueResult::kOk);
  EXPECT_EQ(q.Push(c, 20ms), QueueResult::kTimeout);  // full: back-pressure, not a drop
  EXPECT_EQ(c, 3);
  int out = 0;
  EXPECT_EQ(q.Pop(&out, 10ms), QueueResult::kOk);
  EXPECT_EQ(out, 1);
  EXPECT_EQ(q.Pop(&out, 10ms), QueueResult::kOk);
  EXPECT_EQ(out, 2);
  EXPECT_EQ(q.Pop(&out, 20ms), QueueResult::kTimeout);
}

TEST(BoundedQueue, CloseDrainsThenReportsClosed) {
  BoundedQueue<int> q(4);
  int a = 7;
  q.Push(a, 10ms);
  q.Close();
  int b = 8;
  EXPECT_EQ(q.Push(b, 10ms), QueueResult::kClosed);
  int out = 0;
  EXPECT_EQ(q.Pop(&out, 10ms), QueueResult::kOk);
  EXPECT_EQ(out, 7);
  EXPECT_EQ(q.Pop(&out, 10ms), QueueResult::kClosed);
}

TEST(BoundedQueue, CloseWakesBlockedProducerAndConsumer) {
  BoundedQueue<int> full(1), empty(1);
  int x = 1;
  full.Push(x, 10ms);
  QueueResult push_result = QueueResult::kOk, pop_result = QueueResult::kOk;
  std::thread producer([&] {
    int y = 2;
    push_result = full.Push(y, 10s);
  });
  std::thread consumer([&] {
    int y;
    pop_result = empty.Pop(&y, 10s);
  });
  std::this_thread::sleep_for(50ms);
  full.Close();
  empty.Close();
  producer.join();
  consumer.join();
  EXPECT_EQ(push_result, QueueResult::kClosed);
  EXPECT_EQ(pop_result, QueueResult::kClosed);
}

TEST(BoundedQueue, ManyProducersNothingLost) {
  BoundedQueue<int> q(3);
  constexpr int kPer = 500;
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; ++p)
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPer; ++i) {
        int v = p * kPer + i;
        EXPECT_EQ(q.Push(v, 5s), QueueResult::kOk);
      }
    });
  long long sum = 0;
  int count = 0;
  for (; count < 4 * kPer; ++count) {
    int v = 0;
    ASSERT_EQ(q.Pop(&v, 5s), QueueResult::kOk);
    sum += v;
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(sum, (4LL * kPer) * (4LL * kPer - 1) / 2);
}

}  // namespace
}  // namespace iranker
