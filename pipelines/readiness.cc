#include "pipelines/readiness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "engine/base/fd.h"

namespace slipway::pipelines {

namespace {

// Runs on its own thread, which it moves into the namespace: the thread ends
// with the probe, so nothing else ever runs in the service's namespace.
Result<bool> ConnectInNamespace(int netns_fd, int port, std::chrono::milliseconds connect_timeout) {
  if (::setns(netns_fd, CLONE_NEWNET) != 0) return ErrnoStatus("setns into the run's network namespace");
  UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!sock) return ErrnoStatus("socket for a readiness check");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
  if (errno == ECONNREFUSED) return false;
  if (errno != EINPROGRESS) return ErrnoStatus("connect 127.0.0.1:" + std::to_string(port));
  pollfd p{sock.get(), POLLOUT, 0};
  int n = ::poll(&p, 1, static_cast<int>(connect_timeout.count()));
  if (n < 0) return ErrnoStatus("poll connect 127.0.0.1:" + std::to_string(port));
  if (n == 0) return false;
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
    return ErrnoStatus("getsockopt SO_ERROR 127.0.0.1:" + std::to_string(port));
  }
  return err == 0;
}

}  // namespace

Result<bool> TcpAcceptsIn(pid_t pid, int port, std::chrono::milliseconds connect_timeout) {
  std::string ns = "/proc/" + std::to_string(pid) + "/ns/net";
  UniqueFd netns(::open(ns.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns) return ErrnoStatus("open " + ns);
  Result<bool> result = false;
  std::thread probe([&] { result = ConnectInNamespace(netns.get(), port, connect_timeout); });
  probe.join();
  return result;
}

Status RetryUntilReady(const std::function<Result<bool>()>& probe, std::chrono::milliseconds timeout,
                       const std::function<bool(std::chrono::milliseconds)>& wait) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  std::chrono::milliseconds pause{10};
  for (;;) {
    SLIPWAY_ASSIGN_OR_RETURN(bool ready, probe());
    if (ready) return Status::Ok();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Status(Code::kDeadlineExceeded, "not ready");
    if (!wait(std::min(pause, left))) return FailedPrecondition("cancelled");
    pause = std::min(pause * 2, std::chrono::milliseconds{250});
  }
}

}  // namespace slipway::pipelines
