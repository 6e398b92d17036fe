// UniqueFd: owns one file descriptor and closes it exactly once. Pipe: both
// ends of a pipe, owned the same way.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <utility>

#include "engine/base/status.h"

namespace slipway {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  UniqueFd read, write;
};

// pipe2(O_CLOEXEC): neither end leaks into a program we exec. A child that
// needs one end as its stdio gets it by dup2, which clears the flag on the
// copy.
Result<Pipe> MakePipe();

// poll(2) until `deadline`, an interrupted wait resumed with the time left.
// Returns how many of `fds` are ready, 0 once the deadline has passed, or
// -1 with errno set.
int PollUntil(pollfd* fds, nfds_t count, std::chrono::steady_clock::time_point deadline);

}  // namespace slipway
