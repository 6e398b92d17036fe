#include "engine/containers/end_signal.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

namespace slipway {

namespace {

void Wake(int eventfd) {
  uint64_t one = 1;  // never read back: the fd stays readable
  (void)!::write(eventfd, &one, sizeof one);
}

}  // namespace

void EndSignal::Fire(const Container& c) {
  std::lock_guard lock(mu_);
  if (final_) return;
  final_ = c;
  for (int fd : watch_fds_) Wake(fd);
  cv_.notify_all();
}

bool EndSignal::fired() const {
  std::lock_guard lock(mu_);
  return final_.has_value();
}

std::optional<Container> EndSignal::final() const {
  std::lock_guard lock(mu_);
  return final_;
}

bool EndSignal::AwaitFired(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return final_.has_value(); });
}

void EndSignal::Settle() {
  std::lock_guard lock(mu_);
  settled_ = true;
  cv_.notify_all();
}

void EndSignal::AwaitSettled() const {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return settled_; });
}

bool EndSignal::AwaitSettled(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return settled_; });
}

Result<EndWatch> EndWatch::Open(std::shared_ptr<EndSignal> signal) {
  UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd) return ErrnoStatus("eventfd for a container's end");
  std::lock_guard lock(signal->mu_);
  signal->watch_fds_.push_back(fd.get());
  if (signal->final_) Wake(fd.get());
  return EndWatch(std::move(signal), std::move(fd));
}

EndWatch::~EndWatch() {
  if (!signal_) return;  // moved from
  std::lock_guard lock(signal_->mu_);
  std::erase(signal_->watch_fds_, fd_.get());
}

}  // namespace slipway
