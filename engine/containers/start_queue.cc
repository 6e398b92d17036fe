#include "engine/containers/start_queue.h"

#include <algorithm>

namespace slipway {

StartQueue::StartQueue(int max_running, int max_queued, CountsChanged on_change)
    : max_running_(max_running), max_queued_(max_queued), on_change_(std::move(on_change)) {}

Status StartQueue::Push(const std::string& id) {
  std::lock_guard lock(mu_);
  if (closed_) return Status(Code::kUnavailable, "the start queue is closed");
  if (static_cast<int>(waiting_.size()) >= max_queued_) {
    return Status(Code::kResourceExhausted,
                  "the start queue is full (" + std::to_string(max_queued_) + " containers)");
  }
  waiting_.push_back(id);
  ChangedLocked();
  cv_.notify_all();
  return Status::Ok();
}

void StartQueue::Restore(const std::string& id) {
  std::lock_guard lock(mu_);
  waiting_.push_back(id);
  ChangedLocked();
  cv_.notify_all();
}

bool StartQueue::Remove(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = std::find(waiting_.begin(), waiting_.end(), id);
  if (it == waiting_.end()) return false;
  waiting_.erase(it);
  ChangedLocked();
  return true;
}

std::optional<std::string> StartQueue::Next() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return closed_ || (!waiting_.empty() && running_ < max_running_); });
  if (closed_) return std::nullopt;
  std::string id = std::move(waiting_.front());
  waiting_.pop_front();
  ++running_;
  ChangedLocked();
  return id;
}

void StartQueue::TakeSlot() {
  std::lock_guard lock(mu_);
  ++running_;
  ChangedLocked();
}

bool StartQueue::TryTakeSlot() {
  std::lock_guard lock(mu_);
  if (closed_ || !waiting_.empty() || running_ >= max_running_) return false;
  ++running_;
  ChangedLocked();
  return true;
}

void StartQueue::ReleaseSlot() {
  std::lock_guard lock(mu_);
  --running_;
  ChangedLocked();
  cv_.notify_all();
}

void StartQueue::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

int StartQueue::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

int StartQueue::queued() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(waiting_.size());
}

void StartQueue::ChangedLocked() {
  if (on_change_) on_change_(running_, static_cast<int>(waiting_.size()));
}

}  // namespace slipway
