#include "engine/runtime/monitor_pool.h"

#include <poll.h>

#include <vector>

namespace slipway {

namespace {

// After a failed refill: a host that cannot prepare a sandbox now (no
// memory, a broken cgroup) is not asked again at once.
constexpr std::chrono::milliseconds kRetryPause{1000};

// Refilling right after a hand-over competes for the CPU with the start the
// hand-over made possible: on a 2-core host a monitor's launch and a
// sandbox's preparation cost about as much as the start itself. So while an
// idle monitor is left, the refill waits this long after the latest Take();
// an empty pool (a burst of starts) is refilled at once.
constexpr std::chrono::milliseconds kSettle{50};

// A pooled monitor writes nothing after "pooled <id>" until it has a spec:
// its socket readable (EOF or an error line) means it has gone.
bool StillWaiting(const PooledMonitor& m) {
  pollfd p = {m.channel.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

}  // namespace

MonitorPool::MonitorPool(int size, Launch launch) : size_(size), launch_(std::move(launch)) {
  refill_ = std::thread([this] { RefillLoop(); });
}

MonitorPool::~MonitorPool() {
  Close(std::chrono::milliseconds(0));
}

void MonitorPool::RefillLoop() {
  std::unique_lock lock(mu_);
  while (!closed_) {
    if (static_cast<int>(idle_.size()) >= size_) {
      cv_.wait(lock, [&] { return closed_ || static_cast<int>(idle_.size()) < size_; });
      continue;
    }
    const auto settled = last_take_ + kSettle;
    if (!idle_.empty() && std::chrono::steady_clock::now() < settled) {
      cv_.wait_until(lock, settled, [&] { return closed_ || idle_.empty(); });
      continue;
    }
    lock.unlock();
    Result<PooledMonitor> made = launch_();
    lock.lock();
    if (made.ok()) {
      // Closed meanwhile: dropped here, its socket closes and it goes.
      if (!closed_) idle_.push_back(std::move(*made));
      last_error_ = Status::Ok();
      cv_.notify_all();
    } else {
      last_error_ = made.status();
      cv_.wait_for(lock, kRetryPause, [&] { return closed_; });
    }
  }
}

std::optional<PooledMonitor> MonitorPool::Take() {
  std::lock_guard lock(mu_);
  last_take_ = std::chrono::steady_clock::now();
  while (!idle_.empty()) {
    PooledMonitor m = std::move(idle_.front());
    idle_.pop_front();
    cv_.notify_all();
    if (StillWaiting(m)) return m;
  }
  return std::nullopt;
}

bool MonitorPool::AwaitFull(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return closed_ || static_cast<int>(idle_.size()) >= size_; }) &&
         !closed_;
}

void MonitorPool::Close(std::chrono::milliseconds wait) {
  std::deque<PooledMonitor> idle;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    idle.swap(idle_);
  }
  cv_.notify_all();
  if (refill_.joinable()) refill_.join();
  // Open pidfds first: once a socket closes, its monitor may exit at once.
  std::vector<UniqueFd> pidfds;
  for (PooledMonitor& m : idle) {
    auto pidfd = m.monitor.OpenIfAlive();
    if (pidfd.ok() && *pidfd) pidfds.push_back(std::move(*pidfd));
    m.channel.reset();
  }
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (UniqueFd& pidfd : pidfds) {
    pollfd p = {pidfd.get(), POLLIN, 0};
    (void)PollUntil(&p, 1, deadline);  // best effort: a monitor that lingers is let go
  }
}

int MonitorPool::idle() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(idle_.size());
}

Status MonitorPool::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

}  // namespace slipway
