// systemd's notification protocol (Type=notify services), written out
// rather than linked from libsystemd: one datagram per message, its text
// "KEY=VALUE" lines ("READY=1", "STOPPING=1", "STATUS=..."), sent to the
// AF_UNIX datagram socket named by $NOTIFY_SOCKET. A name starting with '@'
// is in the abstract namespace (the '@' stands for the leading NUL byte);
// any other must be an absolute path. See sd_notify(3).
#pragma once

#include <string>
#include <string_view>

#include "engine/base/status.h"

namespace slipway::daemon {

class SdNotifier {
 public:
  // Takes $NOTIFY_SOCKET and removes it from the environment, so that no
  // child (slipway-monitor, git, a sandbox) can speak for slipwayd. Call it
  // before any thread starts: unsetenv is not thread-safe.
  static SdNotifier FromEnvironment();
  explicit SdNotifier(std::string socket) : socket_(std::move(socket)) {}

  // Whether a socket was given (slipwayd runs under systemd's Type=notify,
  // or something that speaks its protocol).
  bool enabled() const { return !socket_.empty(); }
  const std::string& socket() const { return socket_; }

  // Sends `message` as one datagram. Ok (nothing sent) when not enabled.
  // kInvalidArgument for a socket name that is neither absolute nor
  // abstract, or too long for sockaddr_un; the failing call and the socket
  // name otherwise.
  Status Notify(std::string_view message) const;

 private:
  std::string socket_;
};

}  // namespace slipway::daemon
