// RunControl's wait: the executor's scheduler sleeps in WaitForChange until
// a step's end notifies it (or a stop), with no timeout to fall back on. An
// end that comes between the scheduler's look at the steps and its wait
// must not be lost: with nothing else running, the run would never end.
// Every wait here either returns at once by contract or is released by the
// test itself; a broken wake hangs the test (and fails it at Bazel's
// timeout), nothing is timed.
#include "pipelines/run_control.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace slipway::pipelines {
namespace {

TEST(RunControlTest, AChangeBetweenTheLookAndTheWaitIsNotLost) {
  RunControl control(1);
  uint64_t seen;
  {
    std::lock_guard lock(control.mu());
    seen = control.changes();
  }
  control.Notify();  // a step ended after the look, before the wait
  EXPECT_EQ(control.WaitForChange(seen), seen + 1);
}

TEST(RunControlTest, AnEndWakesTheWaitingScheduler) {
  RunControl control(1);
  uint64_t seen;
  {
    std::lock_guard lock(control.mu());
    seen = control.changes();
  }
  std::atomic<bool> woke{false};
  uint64_t after = 0;
  std::thread scheduler([&] {
    after = control.WaitForChange(seen);
    woke = true;
  });
  // The waiter is released only by the Notify below: nothing else changes,
  // and WaitForChange has no timeout of its own.
  EXPECT_FALSE(woke.load());
  control.Notify();
  scheduler.join();
  EXPECT_TRUE(woke.load());
  EXPECT_EQ(after, seen + 1);
  EXPECT_EQ(control.stop(), RunControl::Stop::kNone) << "woken by the end, not by a stop";
}

TEST(RunControlTest, EveryEndIsCountedOnce) {
  RunControl control(1);
  std::vector<std::thread> ends;
  for (int i = 0; i < 8; ++i) ends.emplace_back([&] { control.Notify(); });
  for (std::thread& t : ends) t.join();
  std::lock_guard lock(control.mu());
  EXPECT_EQ(control.changes(), 8u);
}

TEST(RunControlTest, AStopWakesTheWaitAndEveryLaterOne) {
  RunControl control(1);
  std::thread scheduler([&] { (void)control.WaitForChange(0); });
  (void)control.RequestStop(RunControl::Stop::kCancel);
  scheduler.join();
  // Stopped: a wait returns at once, whatever it saw.
  EXPECT_EQ(control.WaitForChange(0), 0u);
  EXPECT_EQ(control.stop(), RunControl::Stop::kCancel);
}

}  // namespace
}  // namespace slipway::pipelines
