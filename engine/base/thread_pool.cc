#include "engine/base/thread_pool.h"

#include <string>
#include <system_error>
#include <utility>

namespace slipway {

ThreadPool::ThreadPool(Options options) : options_(options) {}

ThreadPool::~ThreadPool() {
  Close();
  Join();
}

Status ThreadPool::Run(std::function<void()> work) {
  std::unique_lock lock(mu_);
  if (closed_) return Status(Code::kUnavailable, "shutting down");
  Reap(lock);
  // Work already queued is promised to as many idle threads.
  if (idle_ > work_.size()) {
    work_.push_back(std::move(work));
    wake_.notify_one();
    return Status::Ok();
  }
  if (busy_ + work_.size() >= options_.max_threads) {
    return Status(Code::kResourceExhausted,
                  "too much work in progress (" + std::to_string(options_.max_threads) + " threads busy)");
  }
  const uint64_t id = next_id_++;
  ++busy_;
  try {
    threads_.emplace(id, std::thread([this, id, work = std::move(work)]() mutable {
                       work();
                       work = nullptr;  // what it holds goes now, not when the next work comes
                       Loop(id);
                     }));
  } catch (const std::system_error& e) {
    --busy_;
    return Status(Code::kResourceExhausted, std::string("cannot start a thread: ") + e.what());
  }
  return Status::Ok();
}

void ThreadPool::Loop(uint64_t id) {
  std::unique_lock lock(mu_);
  for (;;) {
    --busy_;
    ++idle_;
    wake_.wait_for(lock, options_.idle_exit, [&] { return !work_.empty() || closed_; });
    --idle_;
    if (work_.empty()) break;  // idle too long, or closed with nothing left
    std::function<void()> work = std::move(work_.front());
    work_.pop_front();
    ++busy_;
    lock.unlock();
    work();
    work = nullptr;
    lock.lock();
  }
  ended_.push_back(id);  // the last act under the lock: Reap's join returns at once
}

void ThreadPool::Reap(std::unique_lock<std::mutex>& lock) {
  for (uint64_t id : ended_) {
    auto it = threads_.find(id);
    if (it == threads_.end()) continue;
    it->second.join();
    threads_.erase(it);
  }
  ended_.clear();
}

void ThreadPool::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  wake_.notify_all();
}

void ThreadPool::Join() {
  std::map<uint64_t, std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
    ended_.clear();
  }
  for (auto& [id, thread] : threads) thread.join();
}

size_t ThreadPool::threads() const {
  std::lock_guard lock(mu_);
  return busy_ + idle_;
}

}  // namespace slipway
