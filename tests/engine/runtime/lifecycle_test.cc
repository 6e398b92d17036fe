// Start, wait, tear down: nothing survives a sandbox, however it ends, and
// bad input fails before anything is created.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "engine/base/fs.h"
#include "engine/runtime/state.h"
#include "tests/engine/runtime/sandbox_test_util.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;
using LifecycleTest = SandboxTest;

TEST_F(LifecycleTest, WritesNeverTouchTheRootfsNorSurvive) {
  auto before = TreeFingerprint(BusyboxRootfs());
  Outcome o =
      Sh("echo x > /etc/newfile && rm /bin/ls && echo y >> /etc/passwd && mkdir -p /opt/d && echo done");
  EXPECT_EQ(o.out, "done\n") << o.err;
  EXPECT_EQ(TreeFingerprint(BusyboxRootfs()), before);
  Outcome again = Sh("ls /etc/newfile /opt/d 2>&1; ls /bin/ls; grep -c '^y$' /etc/passwd");
  EXPECT_NE(again.out.find("No such file"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("/bin/ls\n0\n"), std::string::npos) << again.out;
}

TEST_F(LifecycleTest, CleanExitLeavesNothing) {
  Snapshot before = Take();
  Outcome o = Sh("sleep 0.1 & echo hi");
  EXPECT_EQ(o.out, "hi\n");
  EXPECT_EQ(Take(), before);
}

TEST_F(LifecycleTest, OomKillLeavesNothing) {
  Snapshot before = Take();
  SandboxSpec spec = Spec({"dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"});
  spec.limits.memory_bytes = 16 << 20;
  EXPECT_TRUE(Run(spec).result.oom_killed);
  EXPECT_EQ(Take(), before);
}

TEST_F(LifecycleTest, KilledSandboxLeavesNothing) {
  Snapshot before = Take();
  auto sb = runtime_->Start(Spec({"sh", "-c", "sleep 100 & sleep 100"}));
  ASSERT_TRUE(sb.ok()) << sb.status().message();
  int cancel[2];
  ASSERT_EQ(::pipe(cancel), 0);
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_EQ(::write(cancel[1], "x", 1), 1);
  });
  auto r = (*sb)->Wait(nullptr, cancel[0]);
  killer.join();
  ::close(cancel[0]);
  ::close(cancel[1]);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->cancelled);
  EXPECT_FALSE(r->timed_out);  // ended by the cancel, not by the 60 s timeout
  EXPECT_EQ(r->signal, SIGKILL);
  EXPECT_TRUE((*sb)->Remove().ok());
  EXPECT_EQ(Take(), before);
}

TEST_F(LifecycleTest, DroppedSandboxIsKilledAndRemoved) {
  Snapshot before = Take();
  pid_t pid;
  {
    auto sb = runtime_->Start(Spec({"sleep", "100"}));
    ASSERT_TRUE(sb.ok()) << sb.status().message();
    pid = (*sb)->pid();
  }
  EXPECT_NE(::kill(pid, 0), 0);
  EXPECT_EQ(Take(), before);
}

TEST_F(LifecycleTest, SetUpFailureHalfWayLeavesNothing) {
  // A directory cannot be bind-mounted onto a file: the child fails after the
  // cgroup, the tmpfs and the overlay exist.
  std::string dir = MakeTempDir("slipway-vol");
  Snapshot before = Take();
  SandboxSpec spec = Spec({"true"});
  spec.binds = {{dir, "/etc/passwd", false}};
  auto sb = runtime_->Start(spec);
  ASSERT_FALSE(sb.ok());
  EXPECT_NE(sb.status().message().find("/etc/passwd"), std::string::npos) << sb.status().message();
  EXPECT_EQ(Take(), before);
  fs::remove_all(dir);
}

TEST_F(LifecycleTest, MissingCommandExits127AndNamesIt) {
  Snapshot before = Take();
  Outcome o = Run(Spec({"no-such-command", "arg"}));
  EXPECT_EQ(o.result.exit_code, 127);
  EXPECT_NE(o.err.find("no-such-command"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("not found"), std::string::npos) << o.err;
  EXPECT_EQ(Take(), before);
  EXPECT_EQ(Run(Spec({"/bin/nope"})).result.exit_code, 127);
}

TEST_F(LifecycleTest, NonExecutableCommandExits126) {
  Outcome o = Run(Spec({"/etc/passwd"}));
  EXPECT_EQ(o.result.exit_code, 126);
  EXPECT_NE(o.err.find("/etc/passwd"), std::string::npos) << o.err;
}

TEST_F(LifecycleTest, ExitCodeAndSignalAreReported) {
  EXPECT_EQ(Sh("exit 42").result.exit_code, 42);
  // As pid 1, the command ignores signals it has no handler for, as in Docker
  // without --init; one with a handler sees them.
  EXPECT_EQ(Sh("kill -TERM $$; echo alive").out, "alive\n");
  EXPECT_EQ(Sh("trap 'exit 7' TERM; kill -TERM $$; sleep 5").result.exit_code, 7);
}

TEST_F(LifecycleTest, BadInputFailsBeforeAnythingIsCreated) {
  Snapshot before = Take();
  SandboxSpec missing = Spec({"true"});
  missing.lower_dirs = {"/nonexistent/rootfs"};
  auto r1 = runtime_->Start(missing);
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.status().message().find("/nonexistent/rootfs"), std::string::npos);

  SandboxSpec swap = Spec({"true"});
  swap.limits.memory_bytes = 64 << 20;
  swap.limits.memory_swap_bytes = 32 << 20;
  EXPECT_FALSE(runtime_->Start(swap).ok());

  SandboxSpec bad_name = Spec({"true"});
  bad_name.name = "../escape";
  EXPECT_FALSE(runtime_->Start(bad_name).ok());

  SandboxSpec no_cmd = Spec({});
  EXPECT_FALSE(runtime_->Start(no_cmd).ok());

  SandboxSpec peer = Spec({"true"});
  peer.network = NetworkMode::kContainer;
  peer.network_peer = "nobody-here";
  auto r2 = runtime_->Start(peer);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.status().message().find("nobody-here"), std::string::npos);
  EXPECT_EQ(Take(), before);
}

TEST_F(LifecycleTest, NamesAreUniqueAmongLiveSandboxes) {
  SandboxSpec spec = Spec({"sleep", "10"});
  spec.name = "db";
  auto first = runtime_->Start(spec);
  ASSERT_TRUE(first.ok()) << first.status().message();
  auto second = runtime_->Start(spec);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kAlreadyExists);
  ASSERT_TRUE((*first)->Kill(SIGKILL).ok());
  ASSERT_TRUE((*first)->Wait(nullptr).ok());
  ASSERT_TRUE((*first)->Remove().ok());
  auto third = runtime_->Start(spec);
  EXPECT_TRUE(third.ok()) << third.status().message();
}

TEST_F(LifecycleTest, SandboxesShareANetworkNamespaceByName) {
  SandboxSpec server =
      Spec({"sh", "-c", "readlink /proc/self/ns/net; echo hello-from-service | nc -l -p 8080"});
  server.name = "service";
  auto svc = runtime_->Start(server);
  ASSERT_TRUE(svc.ok()) << svc.status().message();
  CollectingSink svc_out;
  std::thread waiter([&] { ASSERT_TRUE((*svc)->Wait(&svc_out).ok()); });
  // Read while the service still listens (and so holds its namespace): a
  // namespace freed later may give its inode number to the next one.
  const std::string private_ns = Sh("readlink /proc/self/ns/net").out;

  SandboxSpec client =
      Spec({"sh", "-c",
            "readlink /proc/self/ns/net;"
            "for i in $(seq 100); do nc 127.0.0.1 8080 2>/dev/null && exit 0; sleep 0.05; done; exit 1"});
  client.network = NetworkMode::kContainer;
  client.network_peer = "service";
  Outcome o = Run(client);
  waiter.join();
  EXPECT_EQ(o.result.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("hello-from-service"), std::string::npos) << o.out;
  // Same namespace: the first line (net:[inode]) of both is equal.
  EXPECT_EQ(o.out.substr(0, o.out.find('\n')), svc_out.out.substr(0, svc_out.out.find('\n')));
  EXPECT_TRUE((*svc)->Remove().ok());
  // A private namespace is a different one.
  EXPECT_NE(private_ns, svc_out.out.substr(0, svc_out.out.find('\n') + 1));
}

TEST_F(LifecycleTest, VolumesAreBoundAndReadOnlyWhenAsked) {
  std::string dir = MakeTempDir("slipway-vol");
  std::ofstream(dir + "/in.txt") << "from host\n";
  SandboxSpec spec =
      Spec({"sh", "-c", "cat /ws/in.txt; echo result > /ws/out.txt; echo ro > /ro/x 2>&1; echo ro=$?"});
  spec.binds = {{dir, "/ws", false}, {dir, "/ro", true}};
  Outcome o = Run(spec);
  EXPECT_NE(o.out.find("from host"), std::string::npos) << o.out << o.err;
  EXPECT_NE(o.out.find("ro=1"), std::string::npos) << o.out;
  std::string written;
  std::getline(std::ifstream(dir + "/out.txt"), written);
  EXPECT_EQ(written, "result");
  EXPECT_FALSE(fs::exists(dir + "/x"));
  fs::remove_all(dir);
}

TEST_F(LifecycleTest, ImageSymlinksResolveInsideTheSandboxRoot) {
  // An image layer whose /data points "up and out": resolved as if the
  // sandbox root were /, the volume lands in the sandbox's own /tmp.
  std::string host_tmp_probe = "/tmp/slipway-probe-" + std::to_string(::getpid());
  std::string layer = MakeTempDir("slipway-evil-layer");
  fs::create_symlink("/../../../../../../../../tmp", layer + "/data");
  std::string vol = MakeTempDir("slipway-vol");
  std::ofstream(vol + "/marker") << "m";
  SandboxSpec spec =
      Spec({"sh", "-c", "cat /tmp/" + fs::path(host_tmp_probe).filename().string() + "/marker"});
  spec.lower_dirs = {layer, BusyboxRootfs()};
  spec.binds = {{vol, "/data/" + fs::path(host_tmp_probe).filename().string(), true}};
  Outcome o = Run(spec);
  EXPECT_EQ(o.out, "m") << o.err;
  EXPECT_FALSE(fs::exists(host_tmp_probe)) << "a directory was created on the host";
  fs::remove_all(layer);
  fs::remove_all(vol);
}

TEST_F(LifecycleTest, DanglingSymlinksToHostPathsAreRefused) {
  // /proc and /data point at host directories that the sandbox root lacks:
  // set-up fails with the path named, and nothing is created on the host.
  std::string escape = MakeTempDir("slipway-escape");
  std::string layer = MakeTempDir("slipway-evil-layer");
  fs::create_symlink(escape + "/target", layer + "/data");
  std::string vol = MakeTempDir("slipway-vol");
  Snapshot before = Take();
  SandboxSpec spec = Spec({"true"});
  spec.lower_dirs = {layer, BusyboxRootfs()};
  spec.binds = {{vol, "/data/sub", false}};
  auto sb = runtime_->Start(spec);
  ASSERT_FALSE(sb.ok());
  EXPECT_NE(sb.status().message().find("/data/sub"), std::string::npos) << sb.status().message();
  EXPECT_TRUE(fs::is_empty(escape)) << "a directory was created on the host";
  EXPECT_EQ(Take(), before);

  fs::remove(layer + "/data");
  fs::create_symlink(escape, layer + "/proc");
  spec.binds.clear();
  auto sb2 = runtime_->Start(spec);
  ASSERT_FALSE(sb2.ok());
  EXPECT_NE(sb2.status().message().find("/proc"), std::string::npos) << sb2.status().message();
  EXPECT_TRUE(fs::is_empty(escape));
  EXPECT_EQ(Take(), before);
  fs::remove_all(escape);
  fs::remove_all(layer);
  fs::remove_all(vol);
}

TEST_F(LifecycleTest, GarbageOfADeadOwnerIsCollected) {
  Snapshot before = Take();
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  pid_t owner = ::fork();
  if (owner == 0) {
    auto sb = runtime_->Start(Spec({"sleep", "100"}));
    pid_t init = sb.ok() ? (*sb)->pid() : -1;
    (void)!::write(report[1], &init, sizeof init);
    ::_exit(0);  // dies without waiting: the sandbox is orphaned
  }
  pid_t init = -1;
  ASSERT_EQ(::read(report[0], &init, sizeof init), static_cast<ssize_t>(sizeof init));
  ::waitpid(owner, nullptr, 0);
  ::close(report[0]);
  ::close(report[1]);
  ASSERT_GT(init, 0);
  EXPECT_EQ(::kill(init, 0), 0) << "the orphan should still run before collection";
  ASSERT_TRUE(runtime_->CollectGarbage().ok());
  for (int i = 0; i < 100 && ::kill(init, 0) == 0; ++i) ::usleep(10000);
  EXPECT_NE(::kill(init, 0), 0);
  EXPECT_EQ(Take(), before);
}

}  // namespace
}  // namespace slipway::testing
