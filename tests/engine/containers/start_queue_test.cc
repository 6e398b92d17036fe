// The start queue on its own: order, the running limit, the queue limit,
// adopted slots, immediate starts, removal and closing, and the counts it
// reports.
#include "engine/containers/start_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

namespace slipway {
namespace {

using namespace std::chrono_literals;

TEST(StartQueueTest, StartsOldestFirst) {
  StartQueue q(/*max_running=*/8, /*max_queued=*/8);
  ASSERT_TRUE(q.Push("a").ok());
  ASSERT_TRUE(q.Push("b").ok());
  ASSERT_TRUE(q.Push("c").ok());
  EXPECT_EQ(q.Next(), "a");
  EXPECT_EQ(q.Next(), "b");
  EXPECT_EQ(q.Next(), "c");
  EXPECT_EQ(q.running(), 3);
  EXPECT_EQ(q.queued(), 0);
}

TEST(StartQueueTest, NoMoreThanMaxRunningAtOnce) {
  StartQueue q(/*max_running=*/2, /*max_queued=*/8);
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(q.Push(id).ok());
  EXPECT_EQ(q.Next(), "a");
  EXPECT_EQ(q.Next(), "b");
  auto third = std::async(std::launch::async, [&] { return q.Next(); });
  EXPECT_EQ(third.wait_for(200ms), std::future_status::timeout) << "a third started with two slots taken";
  q.ReleaseSlot();
  ASSERT_EQ(third.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(third.get(), "c");
  EXPECT_EQ(q.running(), 2);
}

TEST(StartQueueTest, AdoptedSandboxesTakeSlots) {
  StartQueue q(/*max_running=*/1, /*max_queued=*/8);
  q.TakeSlot();  // one adopted after a restart
  ASSERT_TRUE(q.Push("a").ok());
  auto next = std::async(std::launch::async, [&] { return q.Next(); });
  EXPECT_EQ(next.wait_for(200ms), std::future_status::timeout);
  q.ReleaseSlot();
  ASSERT_EQ(next.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(next.get(), "a");
}

TEST(StartQueueTest, AnImmediateStartTakesAFreeSlotButNeverOvertakes) {
  StartQueue q(/*max_running=*/2, /*max_queued=*/8);
  EXPECT_TRUE(q.TryTakeSlot());
  EXPECT_EQ(q.running(), 1);
  ASSERT_TRUE(q.Push("a").ok());
  EXPECT_FALSE(q.TryTakeSlot()) << "overtook a queued container";
  EXPECT_EQ(q.Next(), "a");
  EXPECT_FALSE(q.TryTakeSlot()) << "took a slot over the limit";
  q.ReleaseSlot();
  EXPECT_TRUE(q.TryTakeSlot());
  q.Close();
  q.ReleaseSlot();
  EXPECT_FALSE(q.TryTakeSlot()) << "took a slot once closed";
}

TEST(StartQueueTest, AFullQueueRefusesWithResourceExhausted) {
  StartQueue q(/*max_running=*/1, /*max_queued=*/2);
  ASSERT_TRUE(q.Push("a").ok());
  ASSERT_TRUE(q.Push("b").ok());
  Status full = q.Push("c");
  EXPECT_EQ(full.code(), Code::kResourceExhausted);
  EXPECT_NE(full.message().find("2 containers"), std::string::npos) << full.message();
  q.Restore("c");  // queued before a restart: never refused
  EXPECT_EQ(q.queued(), 3);
}

TEST(StartQueueTest, RemovedIdsNeverStart) {
  StartQueue q(/*max_running=*/4, /*max_queued=*/4);
  ASSERT_TRUE(q.Push("a").ok());
  ASSERT_TRUE(q.Push("b").ok());
  EXPECT_TRUE(q.Remove("a"));
  EXPECT_FALSE(q.Remove("a"));
  EXPECT_FALSE(q.Remove("never"));
  EXPECT_EQ(q.Next(), "b");
}

TEST(StartQueueTest, CloseWakesTheSchedulerAndKeepsWaitingIds) {
  StartQueue q(/*max_running=*/1, /*max_queued=*/4);
  q.TakeSlot();
  ASSERT_TRUE(q.Push("a").ok());
  auto next = std::async(std::launch::async, [&] { return q.Next(); });
  q.Close();
  ASSERT_EQ(next.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(next.get(), std::nullopt);
  EXPECT_EQ(q.queued(), 1);
  EXPECT_EQ(q.Push("b").code(), Code::kUnavailable);
}

TEST(StartQueueTest, ReportsEveryChangeOfTheCounts) {
  std::vector<std::pair<int, int>> seen;
  StartQueue q(2, 4, [&](int running, int queued) { seen.emplace_back(running, queued); });
  ASSERT_TRUE(q.Push("a").ok());
  ASSERT_EQ(q.Next(), "a");
  q.ReleaseSlot();
  EXPECT_EQ(seen, (std::vector<std::pair<int, int>>{{0, 1}, {1, 0}, {0, 0}}));
}

TEST(StartQueueTest, ManyProducersAndConsumersNeverExceedTheLimit) {
  constexpr int kMax = 3, kIds = 300;
  StartQueue q(kMax, kIds);
  std::atomic<int> now{0}, peak{0}, started{0};
  std::vector<std::thread> workers;
  std::thread scheduler([&] {
    while (auto id = q.Next()) {
      int n = ++now;
      int p = peak.load();
      while (n > p && !peak.compare_exchange_weak(p, n)) {
      }
      workers.emplace_back([&] {
        std::this_thread::sleep_for(1ms);
        --now;
        ++started;
        q.ReleaseSlot();
      });
    }
  });
  for (int i = 0; i < kIds; ++i) ASSERT_TRUE(q.Push("id" + std::to_string(i)).ok());
  while (started.load() < kIds) std::this_thread::sleep_for(1ms);
  q.Close();
  scheduler.join();
  for (auto& w : workers) w.join();
  EXPECT_LE(peak.load(), kMax);
  EXPECT_EQ(q.running(), 0);
}

}  // namespace
}  // namespace slipway
