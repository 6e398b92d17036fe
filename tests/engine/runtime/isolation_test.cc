// What a command sees from inside a sandbox: its own namespaces, Docker's
// mounts, masked and read-only kernel files, few privileges. The network
// modes are in network_test.cc.
#include <unistd.h>

#include "tests/engine/runtime/sandbox_test_util.h"

namespace slipway::testing {
namespace {

using IsolationTest = SandboxTest;

TEST_F(IsolationTest, HasItsOwnHostname) {
  SandboxSpec spec = Spec({"sh", "-c", "hostname; cat /etc/hostname"});
  spec.hostname = "step-one";
  Outcome o = Run(spec);
  EXPECT_EQ(o.out, "step-one\nstep-one\n");
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_STRNE(host, "step-one");
}

TEST_F(IsolationTest, DefaultHostnameIsTheIdPrefix) {
  Outcome o = Sh("hostname; cat /etc/hostname; grep -c \"$(hostname)\" /etc/hosts");
  ASSERT_EQ(o.result.exit_code, 0) << o.err;
  std::string name = o.out.substr(0, o.out.find('\n'));
  EXPECT_EQ(name.size(), 12u);
  EXPECT_EQ(o.out, name + "\n" + name + "\n1\n");
}

TEST_F(IsolationTest, CommandIsPidOne) {
  EXPECT_EQ(Sh("echo $$").out, "1\n");
}

TEST_F(IsolationTest, NoHostProcessIsVisible) {
  // Only ls itself, as pid 1, exists; the host has hundreds of pids.
  Outcome o = Run(Spec({"ls", "/proc"}));
  std::string pids;
  for (size_t pos = 0; pos < o.out.size();) {
    size_t end = o.out.find('\n', pos);
    std::string entry = o.out.substr(pos, end - pos);
    if (!entry.empty() && entry.find_first_not_of("0123456789") == std::string::npos) pids += entry + " ";
    pos = end + 1;
  }
  EXPECT_EQ(pids, "1 ");
}

TEST_F(IsolationTest, MountUnshareAndModulesAreRefused) {
  Outcome o =
      Sh("mount -t tmpfs none /mnt 2>&1; echo mount=$?;"
         "unshare -n true 2>&1; echo unshare=$?;"
         "echo garbage > /tmp/x.ko; insmod /tmp/x.ko 2>&1; echo insmod=$?");
  EXPECT_NE(o.out.find("mount=1"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("mount=0"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("unshare=0"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("insmod=0"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Operation not permitted"), std::string::npos) << o.out;
}

TEST_F(IsolationTest, KernelFilesAreMaskedAndProcSysIsReadOnly) {
  // /proc/kcore only exists on kernels built with it; this one may lack it.
  bool host_has_kcore = ::access("/proc/kcore", F_OK) == 0;
  Outcome masked =
      Sh("wc -c < /proc/keys; wc -c < /proc/timer_list; [ -e /proc/kcore ] && wc -c < /proc/kcore");
  EXPECT_EQ(masked.out, host_has_kcore ? "0\n0\n0\n" : "0\n0\n") << masked.err;
  Outcome o =
      Sh("ls /proc/acpi 2>/dev/null | wc -l; ls /sys/firmware | wc -l;"
         "echo x > /proc/sys/kernel/domainname 2>&1; echo sys=$?;"
         "echo x > /proc/sysrq-trigger 2>&1; echo sysrq=$?;"
         "touch /sys/kernel/x 2>&1; echo sysfs=$?");
  EXPECT_EQ(o.out.substr(0, 4), "0\n0\n") << o.out;
  EXPECT_NE(o.out.find("sys=1"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("sysrq=1"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("sysfs=1"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Read-only file system"), std::string::npos) << o.out;
}

TEST_F(IsolationTest, DevHasOnlyTheStandardDevices) {
  Outcome o = Sh("ls /dev | tr '\\n' ' '");
  EXPECT_EQ(o.out, "core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero ")
      << o.err;
}

TEST_F(IsolationTest, MknodIsHarmlessBehindTheDeviceCgroup) {
  // CAP_MKNOD is granted, so making a node for the host's first disk works;
  // the device cgroup must refuse to open it.
  Outcome o =
      Sh("mknod /tmp/disk b 8 0 && echo made; head -c1 /tmp/disk >/dev/null 2>&1; echo open=$?;"
         "mknod /tmp/mem c 1 1 && head -c1 /tmp/mem >/dev/null 2>&1; echo mem=$?");
  EXPECT_NE(o.out.find("made"), std::string::npos) << o.out << o.err;
  EXPECT_NE(o.out.find("open=1"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("mem=1"), std::string::npos) << o.out;
}

TEST_F(IsolationTest, RootHasDockersDefaultCapabilitiesOnly) {
  Outcome o =
      Sh("grep -E '^Cap(Eff|Bnd)' /proc/self/status; grep NoNewPrivs /proc/self/status; grep Seccomp: "
         "/proc/self/status");
  EXPECT_EQ(o.out, "CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nNoNewPrivs:\t1\nSeccomp:\t2\n");
}

TEST_F(IsolationTest, NonRootUserHasNoEffectiveCapabilities) {
  SandboxSpec spec = Spec({"sh", "-c", "id -u; id -g; id -G; grep CapEff /proc/self/status; echo $HOME"});
  spec.uid = 1000;
  spec.gid = 1000;
  spec.additional_gids = {10};
  Outcome o = Run(spec);
  EXPECT_EQ(o.out, "1000\n1000\n1000 10\nCapEff:\t0000000000000000\n/\n") << o.err;
}

TEST_F(IsolationTest, CgroupNamespaceHidesTheHostTree) {
  Outcome o = Sh("cat /proc/self/cgroup");
  for (size_t pos = 0; pos < o.out.size();) {
    size_t end = o.out.find('\n', pos);
    std::string line = o.out.substr(pos, end - pos);
    EXPECT_TRUE(line.ends_with(":/")) << line;
    pos = end + 1;
  }
}

TEST_F(IsolationTest, EnvironmentAndWorkdir) {
  SandboxSpec spec = Spec({"sh", "-c", "pwd; echo $GREETING; echo $PATH"});
  spec.env = {"GREETING=hello"};
  spec.workdir = "/work/space";
  Outcome o = Run(spec);
  EXPECT_EQ(o.out, "/work/space\nhello\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n")
      << o.err;
}

TEST_F(IsolationTest, StdoutAndStderrAreSeparateAndKeptInTheLog) {
  auto sb = runtime_->Start(Spec({"sh", "-c", "echo out; echo err >&2; echo out2"}));
  ASSERT_TRUE(sb.ok()) << sb.status().message();
  CollectingSink sink;
  ASSERT_TRUE((*sb)->Wait(&sink).ok());
  EXPECT_EQ(sink.out, "out\nout2\n");
  EXPECT_EQ(sink.err, "err\n");
  std::string out, err;
  auto end = ReadLog((*sb)->dir() + "/output.log", 0,
                     [&](Stream s, std::string_view d) { (s == Stream::kStdout ? out : err).append(d); });
  ASSERT_TRUE(end.ok()) << end.status().message();
  EXPECT_EQ(out, "out\nout2\n");
  EXPECT_EQ(err, "err\n");
  EXPECT_TRUE((*sb)->Remove().ok());
}

TEST_F(IsolationTest, TheCgroupV2CloneIntoCgroupPathIsolatesToo) {
  // The path pure v2 hosts take: clone3 straight into the cgroup, without
  // sharing memory with the parent.
  auto rt = Runtime::Open({state_dir_, cgroup_parent_, /*force_clone_into_cgroup=*/true});
  ASSERT_TRUE(rt.ok()) << rt.status().message();
  runtime_ = std::move(*rt);
  Outcome o = Sh("echo $$; grep -c '^0::/$' /proc/self/cgroup; grep Seccomp: /proc/self/status");
  EXPECT_EQ(o.out, "1\n1\nSeccomp:\t2\n") << o.err;
  EXPECT_EQ(Run(Spec({"no-such-command"})).result.exit_code, 127);
  SandboxSpec oom = Spec({"dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"});
  oom.limits.memory_bytes = 16 << 20;
  EXPECT_TRUE(Run(oom).result.oom_killed);
}

}  // namespace
}  // namespace slipway::testing
