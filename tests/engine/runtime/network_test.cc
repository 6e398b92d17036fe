// The network modes: kPrivate has a namespace with only its own loopback;
// kHost stays in the host's network namespace (its interfaces, its loopback
// services, its /etc/hosts and /etc/resolv.conf) while every other namespace
// is still its own. kContainer is in lifecycle_test.cc.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "tests/engine/runtime/sandbox_test_util.h"
#include "tests/testing/child_process.h"

namespace slipway::testing {
namespace {

using NetworkTest = SandboxTest;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// What readlink(/proc/self/ns/NAME) says in this process: "net:[4026531840]".
std::string OwnNamespace(const std::string& name) {
  char buf[256];
  ssize_t n = ::readlink(("/proc/self/ns/" + name).c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n))
               : "readlink failed: " + std::string(strerror(errno));
}

// A TCP listener on the host's 127.0.0.1, on a port the kernel picks.
class LoopbackListener {
 public:
  LoopbackListener() {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(fd_) << "socket: " << strerror(errno);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
        << "bind: " << strerror(errno);
    EXPECT_EQ(::listen(fd_.get(), 4), 0) << "listen: " << strerror(errno);
    socklen_t len = sizeof addr;
    EXPECT_EQ(::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
  }

  int port() const { return port_; }

  // Whether a connection is waiting to be accepted, within `timeout`.
  bool Pending(std::chrono::milliseconds timeout) const {
    pollfd p = {fd_.get(), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
  }

  // Accepts one connection within `timeout`, reads a line from it, answers
  // `reply` and closes it. The line read; "" if nobody connected.
  std::string ServeOne(std::chrono::milliseconds timeout, const std::string& reply) const {
    if (!Pending(timeout)) return "";
    UniqueFd conn(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return "";
    std::string line;
    char c;
    pollfd p = {conn.get(), POLLIN, 0};
    while (line.find('\n') == std::string::npos && ::poll(&p, 1, 5000) == 1 && ::read(conn.get(), &c, 1) == 1)
      line += c;
    ssize_t ignored = ::write(conn.get(), reply.data(), reply.size());
    (void)ignored;
    return line;
  }

 private:
  UniqueFd fd_;
  int port_ = 0;
};

SandboxSpec OnNetwork(SandboxSpec spec, NetworkMode mode) {
  spec.network = mode;
  return spec;
}

TEST_F(NetworkTest, PrivateHasOnlyLoopbackAndItIsUp) {
  Outcome o =
      Sh("ls /sys/class/net; cat /sys/class/net/lo/operstate; ping -c1 -W1 127.0.0.1 >/dev/null && echo "
         "ping-ok");
  EXPECT_EQ(o.out, "lo\nunknown\nping-ok\n") << o.err;
}

TEST_F(NetworkTest, HostReachesAListenerOnTheHostsLoopbackPrivateDoesNot) {
  LoopbackListener listener;
  std::string nc = "echo ping-from-sandbox | nc 127.0.0.1 " + std::to_string(listener.port());

  std::string received;
  std::thread server([&] { received = listener.ServeOne(std::chrono::seconds(20), "pong-from-host\n"); });
  Outcome host = Run(OnNetwork(Spec({"sh", "-c", nc}), NetworkMode::kHost));
  server.join();
  EXPECT_EQ(host.result.exit_code, 0) << host.err;
  EXPECT_EQ(received, "ping-from-sandbox\n");
  EXPECT_EQ(host.out, "pong-from-host\n") << host.err;

  // Its own loopback has nothing on that port: refused, and the host's
  // listener never sees a connection.
  Outcome priv = Run(OnNetwork(Spec({"sh", "-c", nc + "; echo rc=$?"}), NetworkMode::kPrivate));
  EXPECT_EQ(priv.out, "rc=1\n") << priv.err;
  EXPECT_NE(priv.err.find("refused"), std::string::npos) << priv.err;
  EXPECT_FALSE(listener.Pending(std::chrono::milliseconds(0)));
}

TEST_F(NetworkTest, HostSeesTheHostsInterfaces) {
  Outcome o = Run(OnNetwork(Spec({"ls", "/sys/class/net"}), NetworkMode::kHost));
  ASSERT_EQ(o.result.exit_code, 0) << o.err;
  std::vector<std::string> host = Sorted(ListDir("/sys/class/net"));
  EXPECT_EQ(Sorted(Lines(o.out)), host);
  // /proc/net follows the reading process's namespace, /sys/class/net the
  // one sysfs was mounted in: both must be the host's.
  Outcome dev = Run(OnNetwork(Spec({"cat", "/proc/net/dev"}), NetworkMode::kHost));
  std::vector<std::string> listed;  // "  eth0: 1234 ..." after two header lines
  for (const std::string& line : Lines(dev.out)) {
    size_t start = line.find_first_not_of(' '), colon = line.find(':');
    if (start != std::string::npos && colon != std::string::npos && line.find('|') == std::string::npos)
      listed.push_back(line.substr(start, colon - start));
  }
  EXPECT_EQ(Sorted(listed), host) << dev.out;
}

// Only the network namespace is the host's; on both clone paths (clone with
// CLONE_VM, and clone3 into the cgroup as on pure cgroup v2 hosts).
TEST_F(NetworkTest, HostKeepsEveryOtherNamespaceItsOwn) {
  const std::string script =
      "echo $$; hostname; for ns in net pid mnt uts ipc cgroup; do readlink /proc/self/ns/$ns; done";
  for (bool clone_into_cgroup : {false, true}) {
    SCOPED_TRACE(clone_into_cgroup ? "clone3 into the cgroup" : "clone");
    auto rt = Runtime::Open({state_dir_, cgroup_parent_, clone_into_cgroup});
    ASSERT_TRUE(rt.ok()) << rt.status().message();
    runtime_ = std::move(*rt);

    SandboxSpec spec = OnNetwork(Spec({"sh", "-c", script}), NetworkMode::kHost);
    spec.hostname = "on-host-net";
    Outcome o = Run(spec);
    ASSERT_EQ(o.result.exit_code, 0) << o.err;
    std::vector<std::string> lines = Lines(o.out);
    ASSERT_EQ(lines.size(), 8u) << o.out;
    EXPECT_EQ(lines[0], "1") << "the command is pid 1 of its own pid namespace";
    EXPECT_EQ(lines[1], "on-host-net");
    EXPECT_EQ(lines[2], OwnNamespace("net"));
    const char* others[] = {"pid", "mnt", "uts", "ipc", "cgroup"};
    for (size_t i = 0; i < 5; ++i) EXPECT_NE(lines[3 + i], OwnNamespace(others[i])) << others[i];

    Outcome priv = Sh("readlink /proc/self/ns/net");
    EXPECT_NE(priv.out, OwnNamespace("net") + "\n") << priv.err;
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_STRNE(host, "on-host-net");
}

// The host's files, and one line more for the sandbox's own hostname.
TEST_F(NetworkTest, HostGetsTheHostsResolvConfAndHosts) {
  SandboxSpec spec = Spec({"sh", "-c",
                           "cat /etc/resolv.conf; echo ---; cat /etc/hosts; ping -c1 -W1 $(hostname) "
                           ">/dev/null && echo resolved"});
  spec.hostname = "own-name";
  Outcome o = Run(OnNetwork(spec, NetworkMode::kHost));
  ASSERT_EQ(o.result.exit_code, 0) << o.err;
  auto resolv = ReadFile("/etc/resolv.conf");
  std::string hosts = ReadFile("/etc/hosts").ok() ? *ReadFile("/etc/hosts") : "";
  if (!hosts.empty() && hosts.back() != '\n') hosts += '\n';
  EXPECT_EQ(o.out, (resolv.ok() ? *resolv : "") + "---\n" + hosts + "127.0.1.1\town-name\nresolved\n");
}

// With a host whose resolver is on loopback (systemd-resolved's 127.0.0.53):
// kHost can reach it and keeps it, kPrivate cannot and drops it. The host's
// files are replaced in a forked child's own mount namespace, which starts
// the sandboxes.
TEST_F(NetworkTest, OnlyHostKeepsLoopbackNameServers) {
  std::string dir = MakeTempDir("slipway-net-files");
  const std::string resolv =
      "# test\nnameserver 127.0.0.53\nnameserver ::1\nnameserver 192.0.2.1\noptions edns0\n";
  const std::string hosts = "127.0.0.1\tlocalhost\n192.0.2.7\tbuild-cache.internal\n";
  std::ofstream(dir + "/resolv.conf") << resolv;
  std::ofstream(dir + "/hosts") << hosts;
  SandboxSpec spec = Spec({"sh", "-c", "cat /etc/resolv.conf; echo ---; cat /etc/hosts"});
  spec.hostname = "sbx";

  ChildResult r = RunInChild([&]() -> std::string {
    if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare: ") + strerror(errno);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      return std::string("make / private: ") + strerror(errno);
    for (const char* name : {"resolv.conf", "hosts"}) {
      std::string source = dir + "/" + name, target = std::string("/etc/") + name;
      if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0)
        return "bind " + target + ": " + strerror(errno);
    }
    std::string report;
    auto run = [&](NetworkMode mode, const std::string& want) {
      auto sb = runtime_->Start(OnNetwork(spec, mode));
      if (!sb.ok()) {
        report += "start: " + sb.status().ToString() + "\n";
        return;
      }
      CollectingSink sink;
      auto result = (*sb)->Wait(&sink);
      if (!result.ok()) report += "wait: " + result.status().ToString() + "\n";
      if (sink.out != want) report += "want:\n" + want + "got:\n" + sink.out + sink.err;
      (void)(*sb)->Remove();
    };
    run(NetworkMode::kHost, resolv + "---\n" + hosts + "127.0.1.1\tsbx\n");
    run(NetworkMode::kPrivate,
        "# test\nnameserver 192.0.2.1\noptions edns0\n---\n127.0.0.1\tlocalhost sbx\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n"
        "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
    return report;
  });
  EXPECT_TRUE(r.ExitedZero()) << Describe(r);
  EXPECT_TRUE(RemoveTree(dir).ok());
}

TEST_F(NetworkTest, APeerIsOnlyForContainerMode) {
  Snapshot before = Take();
  for (NetworkMode mode : {NetworkMode::kPrivate, NetworkMode::kHost}) {
    SandboxSpec spec = OnNetwork(Spec({"true"}), mode);
    spec.network_peer = "db";
    auto sb = runtime_->Start(spec);
    ASSERT_FALSE(sb.ok());
    EXPECT_EQ(sb.status().code(), Code::kInvalidArgument);
    EXPECT_NE(sb.status().message().find("\"db\""), std::string::npos) << sb.status().message();
    EXPECT_NE(sb.status().message().find("container:NAME"), std::string::npos) << sb.status().message();
  }
  EXPECT_EQ(Take(), before);
}

}  // namespace
}  // namespace slipway::testing
