#include "service/daemon/sd_notify.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdlib>
#include <cstring>

#include "engine/base/fd.h"

namespace slipway::daemon {

SdNotifier SdNotifier::FromEnvironment() {
  const char* value = std::getenv("NOTIFY_SOCKET");
  std::string socket = value != nullptr ? value : "";
  ::unsetenv("NOTIFY_SOCKET");
  return SdNotifier(std::move(socket));
}

Status SdNotifier::Notify(std::string_view message) const {
  if (!enabled()) return Status::Ok();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_[0] != '/' && socket_[0] != '@')
    return InvalidArgument("NOTIFY_SOCKET " + socket_ + " is neither an absolute path nor abstract (@name)");
  // A path needs its terminating NUL inside sun_path; an abstract name does
  // not (its length is the address length), but its leading NUL takes the '@'s place.
  if (socket_.size() >= sizeof addr.sun_path + (socket_[0] == '@' ? 1 : 0))
    return InvalidArgument("NOTIFY_SOCKET " + socket_ + " is too long for a unix socket address");
  std::memcpy(addr.sun_path, socket_.data(), socket_.size());
  socklen_t len = offsetof(sockaddr_un, sun_path) + socket_.size();
  if (socket_[0] == '@') {
    addr.sun_path[0] = '\0';
  } else {
    len += 1;
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus("socket(AF_UNIX, SOCK_DGRAM) for NOTIFY_SOCKET " + socket_);
  ssize_t n;
  do {
    n = ::sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
                 len);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoStatus("sendto NOTIFY_SOCKET " + socket_);
  if (static_cast<size_t>(n) != message.size())
    return Internal("sendto NOTIFY_SOCKET " + socket_ + ": short write");
  return Status::Ok();
}

}  // namespace slipway::daemon
