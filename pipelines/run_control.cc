#include "pipelines/run_control.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace slipway::pipelines {

RunControl::RunControl(int64_t run_id) : run_id_(run_id), stop_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

std::set<std::string> RunControl::RequestStop(Stop why, int64_t superseded_by) {
  std::set<std::string> live;
  {
    std::lock_guard lock(mu_);
    if (stop_ == Stop::kNone) {
      stop_ = why;
      superseded_by_ = why == Stop::kCancel ? superseded_by : 0;
    }
    live = containers_;
  }
  cv_.notify_all();
  if (stop_fd_) {
    uint64_t one = 1;
    // An eventfd counter cannot overflow by a handful of writes; a failed
    // write leaves the fd as readable as it was.
    (void)!::write(stop_fd_.get(), &one, sizeof one);
  }
  return live;
}

int64_t RunControl::superseded_by() const {
  std::lock_guard lock(mu_);
  return superseded_by_;
}

bool RunControl::Sleep(std::chrono::milliseconds d) const {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stop_ != Stop::kNone; });
}

bool RunControl::AddContainer(const std::string& id) {
  std::lock_guard lock(mu_);
  containers_.insert(id);
  return stop_ == Stop::kNone;
}

void RunControl::RemoveContainer(const std::string& id) {
  std::lock_guard lock(mu_);
  containers_.erase(id);
}

std::shared_ptr<EndSignal> RunControl::LogEnd(const std::string& name) {
  std::lock_guard lock(mu_);
  auto& signal = log_ends_[name];
  if (!signal) signal = std::make_shared<EndSignal>();
  return signal;
}

void RunControl::EndAllLogs() {
  std::map<std::string, std::shared_ptr<EndSignal>> ends;
  {
    std::lock_guard lock(mu_);
    ends = log_ends_;
  }
  for (auto& [name, signal] : ends) signal->Fire(Container{});
}

void RunControl::Notify() {
  {
    std::lock_guard lock(mu_);
    ++changes_;
  }
  cv_.notify_all();
}

uint64_t RunControl::WaitForChange(uint64_t seen) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return stop_ != Stop::kNone || changes_ != seen; });
  return changes_;
}

}  // namespace slipway::pipelines
