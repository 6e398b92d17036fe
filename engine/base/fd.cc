#include "engine/base/fd.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace slipway {

Result<Pipe> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe2");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

int PollUntil(pollfd* fds, nfds_t count, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    // Rounded up: a wait of 0.4 ms left is one of 1 ms, not a busy loop of 0s.
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    int ready = ::poll(fds, count, static_cast<int>(std::clamp<int64_t>(left.count(), 0, INT32_MAX)));
    if (ready >= 0 || errno != EINTR) return ready;
  }
}

}  // namespace slipway
