#include "engine/containers/log_follower.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/fs.h"

namespace slipway {

namespace {

// Closing an inotify fd waits for an SRCU grace period in the kernel
// (fsnotify_destroy_group), several milliseconds. A log follower that ends
// hands its fd here instead, so that the end of `slipway run` does not wait.
void CloseLater(UniqueFd fd) {
  struct Closer {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<UniqueFd> fds;
    Closer() {
      std::thread([this] {
        for (;;) {
          std::vector<UniqueFd> batch;
          {
            std::unique_lock lock(mu);
            cv.wait(lock, [&] { return !fds.empty(); });
            batch.swap(fds);
          }
          batch.clear();  // the slow closes, off every caller's path
        }
      }).detach();
    }
  };
  static Closer* closer = new Closer;  // lives as long as the process
  std::lock_guard lock(closer->mu);
  closer->fds.push_back(std::move(fd));
  closer->cv.notify_one();
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

Status FollowLog(const std::string& path, bool follow, const std::shared_ptr<EndSignal>& end,
                 std::chrono::milliseconds slice, const std::function<bool()>& give_up, const LogChunk& chunk) {
  bool more = true;
  auto deliver = [&](Stream s, std::string_view data) {
    if (more) more = chunk(s, data);
  };
  uint64_t offset = 0;
  auto read_new = [&]() -> Status {
    if (!PathExists(path)) return Status::Ok();
    SLIPWAY_ASSIGN_OR_RETURN(offset, ReadLog(path, offset, deliver));
    return Status::Ok();
  };
  if (!follow) return read_new();
  const std::string dir = DirOf(path);
  UniqueFd inotify(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!inotify) return ErrnoStatus("inotify_init1 for " + path);
  struct Release {
    UniqueFd& fd;
    ~Release() { CloseLater(std::move(fd)); }
  } release{inotify};
  if (::inotify_add_watch(inotify.get(), dir.c_str(), IN_MODIFY | IN_CREATE | IN_CLOSE_WRITE) < 0 &&
      errno != ENOENT) {
    return ErrnoStatus("inotify_add_watch " + dir);
  }
  SLIPWAY_ASSIGN_OR_RETURN(EndWatch ended_fd, EndWatch::Open(end));
  for (;;) {
    bool ended = end->fired();
    SLIPWAY_RETURN_IF_ERROR(read_new());
    if (ended || !more) return Status::Ok();
    pollfd fds[2] = {{inotify.get(), POLLIN, 0}, {ended_fd.fd(), POLLIN, 0}};
    int n = ::poll(fds, 2, static_cast<int>(slice.count()));
    if (n < 0 && errno != EINTR) return ErrnoStatus("poll log " + path);
    char drain[4096];
    while (::read(inotify.get(), drain, sizeof drain) > 0) {
    }
    if (give_up()) return Status(Code::kUnavailable, "shutting down: the log is no longer followed");
  }
}

}  // namespace slipway
