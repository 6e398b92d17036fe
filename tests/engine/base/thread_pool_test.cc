// ThreadPool (engine/base/thread_pool.h): a thread is used again for the
// next piece of work, the pool grows with the work in progress up to its
// limit and refuses beyond it, idle threads end, and Close()/Join() run
// what was accepted and nothing after.
#include "engine/base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace slipway {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A gate work waits at until Open().
class Gate {
 public:
  void Wait() {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Until `n` pieces of work wait here (false after 20 s).
  bool AwaitWaiting(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, seconds(20), [&] { return waiting_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool open_ = false;
};

// Polls `done` for up to 20 s.
template <typename F>
bool Eventually(F done) {
  for (auto until = std::chrono::steady_clock::now() + seconds(20); std::chrono::steady_clock::now() < until;) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return done();
}

TEST(ThreadPoolTest, TheNextWorkRunsOnTheSameThread) {
  ThreadPool pool({.max_threads = 4, .idle_exit = seconds(30)});
  std::mutex mu;
  std::vector<std::thread::id> ran_on;
  std::atomic<int> done = 0;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(pool.Run([&] {
                      std::lock_guard lock(mu);
                      ran_on.push_back(std::this_thread::get_id());
                      ++done;
                    })
                    .ok());
    ASSERT_TRUE(Eventually([&] { return done == i + 1 && pool.threads() == 1; }));
  }
  std::set<std::thread::id> distinct(ran_on.begin(), ran_on.end());
  EXPECT_EQ(distinct.size(), 1u);
  EXPECT_NE(*distinct.begin(), std::this_thread::get_id());
}

TEST(ThreadPoolTest, GrowsWithBlockedWorkAndRefusesPastItsLimit) {
  ThreadPool pool({.max_threads = 3, .idle_exit = seconds(30)});
  Gate gate;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.Run([&] { gate.Wait(); }).ok());
  ASSERT_TRUE(gate.AwaitWaiting(3)) << "three pieces of blocking work did not run at once";
  EXPECT_EQ(pool.threads(), 3u);
  Status refused = pool.Run([] {});
  EXPECT_EQ(refused.code(), Code::kResourceExhausted) << refused.ToString();
  gate.Open();
  // Once they are idle again, work is taken, by the threads there are.
  ASSERT_TRUE(Eventually([&] { return pool.Run([] {}).ok(); }));
  EXPECT_LE(pool.threads(), 3u);
}

TEST(ThreadPoolTest, IdleThreadsEnd) {
  ThreadPool pool({.max_threads = 4, .idle_exit = milliseconds(50)});
  Gate gate;
  ASSERT_TRUE(pool.Run([&] { gate.Wait(); }).ok());
  ASSERT_TRUE(pool.Run([&] { gate.Wait(); }).ok());
  ASSERT_TRUE(gate.AwaitWaiting(2));
  EXPECT_EQ(pool.threads(), 2u);
  gate.Open();
  EXPECT_TRUE(Eventually([&] { return pool.threads() == 0; })) << pool.threads() << " threads left";
  std::atomic<bool> ran = false;
  ASSERT_TRUE(pool.Run([&] { ran = true; }).ok());  // a new thread, as at first
  EXPECT_TRUE(Eventually([&] { return ran.load(); }));
}

TEST(ThreadPoolTest, CloseRefusesNewWorkAndJoinRunsWhatWasAccepted) {
  ThreadPool pool({.max_threads = 8, .idle_exit = seconds(30)});
  Gate gate;
  std::atomic<int> ran = 0;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(pool.Run([&] {
                      gate.Wait();
                      ++ran;
                    })
                    .ok());
  }
  ASSERT_TRUE(gate.AwaitWaiting(4));
  pool.Close();
  EXPECT_EQ(pool.Run([&] { ++ran; }).code(), Code::kUnavailable);
  std::thread opener([&] {
    std::this_thread::sleep_for(milliseconds(50));
    gate.Open();
  });
  pool.Join();  // waits for the four, and idle threads end at once once closed
  opener.join();
  EXPECT_EQ(ran, 4);
  EXPECT_EQ(pool.threads(), 0u);
}

}  // namespace
}  // namespace slipway
