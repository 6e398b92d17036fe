#include "pipelines/readiness.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "engine/base/fd.h"
#include "tests/testing/fixtures.h"

namespace slipway::pipelines {
namespace {

using std::chrono::milliseconds;

// A process in a network namespace of its own, listening on 127.0.0.1:port
// there (and only there) until it is killed.
class NamespacedListener {
 public:
  explicit NamespacedListener(int port) {
    int ready[2];
    if (::pipe(ready) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      if (::unshare(CLONE_NEWNET) != 0) ::_exit(10);
      int s = ::socket(AF_INET, SOCK_DGRAM, 0);
      ifreq ifr{};
      std::strcpy(ifr.ifr_name, "lo");
      if (::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) ::_exit(11);
      ifr.ifr_flags |= IFF_UP;
      if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) ::_exit(12);
      int l = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 8) != 0) ::_exit(13);
      (void)!::write(ready[1], "x", 1);
      for (;;) ::pause();
    }
    ::close(ready[1]);
    char c;
    bool ok = ::read(ready[0], &c, 1) == 1;
    ::close(ready[0]);
    if (!ok) throw std::runtime_error("the listener did not start");
  }
  ~NamespacedListener() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

TEST(TcpAcceptsInTest, ConnectsInsideTheProcessNamespaceNotTheHosts) {
  int port = testing::FreeLoopbackPort();
  NamespacedListener listener(port);
  auto inside = TcpAcceptsIn(listener.pid(), port, milliseconds(1000));
  ASSERT_TRUE(inside.ok()) << inside.status().ToString();
  EXPECT_TRUE(*inside);
  // The same port on the host's loopback has nobody listening: the probe
  // really ran in the listener's namespace.
  auto host = TcpAcceptsIn(::getpid(), port, milliseconds(1000));
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  EXPECT_FALSE(*host);
  // And the calling thread is still in the host's namespace afterwards.
  EXPECT_FALSE(*TcpAcceptsIn(::getpid(), port, milliseconds(1000)));
}

TEST(TcpAcceptsInTest, APortNobodyListensOnIsNotReady) {
  int port = testing::FreeLoopbackPort();
  NamespacedListener listener(port);
  auto other = TcpAcceptsIn(listener.pid(), port == 65535 ? port - 1 : port + 1, milliseconds(1000));
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_FALSE(*other);
}

TEST(TcpAcceptsInTest, AGoneProcessIsAnErrorNamingItsNamespace) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  auto r = TcpAcceptsIn(pid, 80, milliseconds(100));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/proc/" + std::to_string(pid) + "/ns/net"), std::string::npos);
}

TEST(RetryUntilReadyTest, RetriesUntilTheProbePasses) {
  int tries = 0;
  Status st = RetryUntilReady([&]() -> Result<bool> { return ++tries == 3; }, milliseconds(60'000),
                              [](milliseconds) { return true; });
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(tries, 3);
}

TEST(RetryUntilReadyTest, AProbeErrorEndsTheWait) {
  Status st = RetryUntilReady([]() -> Result<bool> { return FailedPrecondition("service db ended"); },
                              milliseconds(60'000), [](milliseconds) { return true; });
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_EQ(st.message(), "service db ended");
}

TEST(RetryUntilReadyTest, GivesUpAtTheTimeoutWithoutWaitingPastIt) {
  milliseconds waited{0};
  Status st = RetryUntilReady([]() -> Result<bool> { return false; }, milliseconds(300),
                              [&](milliseconds d) {
                                waited += d;
                                ::usleep(static_cast<useconds_t>(d.count() * 1000));
                                return true;
                              });
  EXPECT_EQ(st.code(), Code::kDeadlineExceeded);
  EXPECT_LE(waited.count(), 300) << "the waits never add up to more than the timeout";
}

TEST(RetryUntilReadyTest, ACancelledWaitStopsAtOnce) {
  int tries = 0;
  Status st = RetryUntilReady([&]() -> Result<bool> { ++tries; return false; }, milliseconds(60'000),
                              [](milliseconds) { return false; });
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_EQ(st.message(), "cancelled");
  EXPECT_EQ(tries, 1);
}

}  // namespace
}  // namespace slipway::pipelines
