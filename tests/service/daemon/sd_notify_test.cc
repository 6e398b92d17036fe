// systemd's notification protocol through a real unix datagram socket: a
// real slipwayd, started with NOTIFY_SOCKET as systemd starts a Type=notify
// unit, says READY=1 only once its API answers, and STOPPING=1 on SIGTERM.
// The socket is bound by the test, as systemd binds its own: by path and in
// the abstract namespace ('@'). SdNotifier's refusals are tested directly.
#include "service/daemon/sd_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

// The listening side of NOTIFY_SOCKET: `name` is a path or "@abstract".
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    socklen_t len = offsetof(sockaddr_un, sun_path) + name.size();
    if (name[0] == '@') {
      addr.sun_path[0] = '\0';
    } else {
      len += 1;
    }
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool bound() const { return bound_; }

  // The next datagram, or "" if none came within `ms` (a failure guard,
  // not a timed assertion).
  std::string Receive(int ms = 60'000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) != 1) return "";
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, n) : "";
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

// What the socket heard first, and whether the API answered right then.
struct FirstMessage {
  std::string text;
  HttpReply healthz;
};

void ExpectReadyOnlyOnceTheApiAnswers(const std::string& socket_name, NotifySocket& socket) {
  ASSERT_EQ(::setenv("NOTIFY_SOCKET", socket_name.c_str(), 1), 0);
  DaemonUnderTest daemon;
  const int port = daemon.ChoosePort();
  FirstMessage first;
  // Asks the API the moment the first datagram arrives: had slipwayd said
  // READY=1 before its API answered, this request would find no listener
  // (the fixture's own probe retries; this one does not).
  std::thread receiver([&] {
    first.text = socket.Receive();
    first.healthz = ApiClient(port, "").Get("/healthz");
  });
  auto started = daemon.Start();
  ::unsetenv("NOTIFY_SOCKET");
  receiver.join();
  ASSERT_TRUE(started);
  EXPECT_EQ(first.text, "READY=1\nMAINPID=" + std::to_string(daemon.pid())) << daemon.Log();
  EXPECT_EQ(first.healthz.status, 200) << first.healthz;

  EXPECT_EQ(daemon.Terminate(), 0) << daemon.Log();
  EXPECT_EQ(socket.Receive(), "STOPPING=1");
  EXPECT_EQ(socket.Receive(0), "") << "only READY=1 and STOPPING=1 are sent";
}

TEST(SdNotifyTest, ReadyOnAPathSocketOnlyOnceTheApiAnswers) {
  // sockaddr_un holds 108 bytes: $TEST_TMPDIR may be deeper than that.
  char dir[] = "/tmp/slipway-notify-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/notify";
  {
    NotifySocket socket(path);
    ASSERT_TRUE(socket.bound()) << std::strerror(errno);
    ExpectReadyOnlyOnceTheApiAnswers(path, socket);
  }
  std::filesystem::remove_all(dir);
}

TEST(SdNotifyTest, ReadyOnAnAbstractSocketOnlyOnceTheApiAnswers) {
  std::string name = "@slipway-notify-test-" + std::to_string(::getpid());
  NotifySocket socket(name);
  ASSERT_TRUE(socket.bound()) << std::strerror(errno);
  ExpectReadyOnlyOnceTheApiAnswers(name, socket);
}

TEST(SdNotifyTest, ABadSocketNameIsLoggedAndSlipwaydServesAnyway) {
  ASSERT_EQ(::setenv("NOTIFY_SOCKET", "relative/notify", 1), 0);
  DaemonUnderTest daemon;
  auto started = daemon.Start();
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(started);
  // Start() returns once /healthz answers; the failure is logged just after.
  for (int i = 0; i < 200 && daemon.Log().find("sd_notify.failed") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_NE(daemon.Log().find("neither an absolute path nor abstract"), std::string::npos) << daemon.Log();
  EXPECT_EQ(daemon.Api().Get("/api/v1/info").status, 200);
}

TEST(SdNotifierTest, TakesTheSocketOutOfTheEnvironment) {
  ASSERT_EQ(::setenv("NOTIFY_SOCKET", "@x", 1), 0);
  daemon::SdNotifier notifier = daemon::SdNotifier::FromEnvironment();
  EXPECT_EQ(notifier.socket(), "@x");
  EXPECT_EQ(::getenv("NOTIFY_SOCKET"), nullptr) << "children must not inherit it";
  EXPECT_FALSE(daemon::SdNotifier::FromEnvironment().enabled());
  EXPECT_TRUE(daemon::SdNotifier("").Notify("READY=1").ok()) << "not under systemd: nothing to do";
}

TEST(SdNotifierTest, RefusesNamesAnAttackerMightSet) {
  EXPECT_EQ(daemon::SdNotifier("notify").Notify("READY=1").code(), Code::kInvalidArgument);
  EXPECT_EQ(daemon::SdNotifier("/" + std::string(200, 'a')).Notify("READY=1").code(), Code::kInvalidArgument);
  EXPECT_EQ(daemon::SdNotifier("@" + std::string(200, 'a')).Notify("READY=1").code(), Code::kInvalidArgument);
  // The longest abstract name fits: 107 bytes after the NUL that replaces '@'.
  std::string longest = "@" + std::string(107, 'n');
  NotifySocket socket(longest);
  ASSERT_TRUE(socket.bound()) << std::strerror(errno);
  ASSERT_TRUE(daemon::SdNotifier(longest).Notify("READY=1").ok());
  EXPECT_EQ(socket.Receive(), "READY=1");
  // Nobody listening: the call and the socket are named.
  Status none = daemon::SdNotifier("/nonexistent/notify").Notify("READY=1");
  EXPECT_FALSE(none.ok());
  EXPECT_NE(none.message().find("sendto NOTIFY_SOCKET /nonexistent/notify"), std::string::npos)
      << none.message();
}

}  // namespace
}  // namespace slipway::testing
