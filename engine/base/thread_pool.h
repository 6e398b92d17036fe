// Threads for work that blocks (a request streaming a container's output,
// a watch on a running sandbox): each runs one piece of work at a time, and
// when it is done waits for the next, up to `idle_exit`, before it ends.
//
// Why not a thread per piece of work: creating a thread and touching its
// stack again (glibc hands a cached stack back with its pages dropped) cost
// 0.1 to 0.4 ms on a small VM, paid twice by every `slipway run` (its
// attach request, its container's watch). Why not a fixed set of threads:
// the work blocks for as long as a container runs, so the pool grows with
// the work in progress, up to `max_threads`, and shrinks when idle.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/base/status.h"

namespace slipway {

class ThreadPool {
 public:
  struct Options {
    size_t max_threads = 1024;  // busy at once; more work is refused
    std::chrono::milliseconds idle_exit{10000};
  };

  explicit ThreadPool(Options options);
  ~ThreadPool();  // Close(), then Join()
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Runs `work` on an idle thread, or on a new one. kResourceExhausted when
  // max_threads are busy (or no thread can be created), kUnavailable once
  // closed. `work` must not throw.
  Status Run(std::function<void()> work);
  // Refuses new work; what was accepted still runs.
  void Close();
  // Waits until every accepted piece of work has run and every thread has
  // ended. Only after Close().
  void Join();

  // Threads that exist now, busy or idle (for tests).
  size_t threads() const;

 private:
  void Loop(uint64_t id);
  void Reap(std::unique_lock<std::mutex>& lock);  // joins threads that ended

  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;              // work_ or closed_
  std::deque<std::function<void()>> work_;    // accepted, for an idle thread
  size_t idle_ = 0;                           // threads waiting for work
  size_t busy_ = 0;                           // threads running work (or about to)
  bool closed_ = false;
  uint64_t next_id_ = 0;
  std::map<uint64_t, std::thread> threads_;
  std::vector<uint64_t> ended_;
};

}  // namespace slipway
