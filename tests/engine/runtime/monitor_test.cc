// slipway-monitor: a monitored sandbox records its output and result whatever
// happens to its starter; a killed monitor leaves a lost sandbox that
// CleanUpLost() removes without a trace; failures to start leave nothing.
#include "engine/runtime/monitor.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "engine/base/fs.h"
#include "engine/runtime/log.h"
#include "engine/runtime/state.h"
#include "tests/engine/runtime/sandbox_test_util.h"
#include "tests/testing/monitor_test_main.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kEndTimeout = seconds(20);

bool IsZombie(pid_t pid) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return true;  // gone
  size_t close = stat->rfind(')');
  return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] == 'Z';
}

void SendSignal(pid_t pid, int sig) {
  ASSERT_EQ(::kill(pid, sig), 0) << "kill " << pid << ": " << std::strerror(errno);
}

// Runs slipway-monitor as a starter would, with `ready_fd` as its fd 3 and
// `spec_fd` (if >= 0) as its fd 4; returns the wait status of the process
// started (the launcher, which exits once the monitor has forked off).
int RunMonitorBinary(std::vector<std::string> args, int ready_fd, int spec_fd = -1) {
  args.insert(args.begin(), g_monitor);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    // Both sources above 4 first, so that neither dup2 overwrites the other.
    ready_fd = ::fcntl(ready_fd, F_DUPFD, 10);
    if (spec_fd >= 0) spec_fd = ::fcntl(spec_fd, F_DUPFD, 10);
    if (ready_fd < 0 || ::dup2(ready_fd, 3) < 0) ::_exit(126);
    if (spec_fd >= 0 && ::dup2(spec_fd, 4) < 0) ::_exit(126);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = -1;
  ::waitpid(pid, &status, 0);
  return status;
}

class MonitorTest : public SandboxTest {
 protected:
  void TearDown() override {
    // A failed test may leave monitors running: they would hold the cgroups
    // and the state directory the base fixture removes.
    for (pid_t pid : LiveMonitors()) ::kill(pid, SIGKILL);
    WaitUntil([&] { return LiveMonitors().empty(); });
    if (auto all = Monitors().Survey(); all.ok()) {
      for (const auto& s : *all) (void)runtime_->Remove(s.id, /*force=*/true);
    }
    SandboxTest::TearDown();
  }

  MonitorClient Monitors(milliseconds ready_timeout = milliseconds(30000)) const {
    return MonitorClient(*runtime_, g_monitor, ready_timeout);
  }

  StartedSandbox MustStart(const SandboxSpec& spec) {
    auto started = Monitors().Start(spec);
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    return started.ok() ? std::move(*started) : StartedSandbox{};
  }

  SandboxStatus MustEnd(const std::string& id) {
    auto status = Monitors().Wait(id, kEndTimeout);
    EXPECT_TRUE(status.ok()) << status.status().ToString();
    return status.ok() ? *status : SandboxStatus{};
  }

  // The sandbox's output.log, both streams in order.
  std::string Output(const std::string& id) const { return SandboxLog(*runtime_, id); }

  bool CgroupsGone(const std::string& id) const {
    for (const std::string& dir : runtime_->cgroups().PathsFor(id)) {
      if (PathExists(dir)) return false;
    }
    return true;
  }

  // slipway-monitor processes (not zombies) working in this test's state dir.
  std::vector<pid_t> LiveMonitors() const {
    std::vector<pid_t> out;
    for (const std::string& name : ListDir("/proc")) {
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      pid_t pid = std::atoi(name.c_str());
      auto cmdline = ReadFile("/proc/" + name + "/cmdline");
      if (!cmdline.ok() || cmdline->find("slipway-monitor") == std::string::npos) continue;
      if (cmdline->find(state_dir_) == std::string::npos || IsZombie(pid)) continue;
      out.push_back(pid);
    }
    return out;
  }
};

// ---------------------------------------------------------------------------
// The spec and the ready line

TEST(MonitorSpecJson, EveryFieldRoundTrips) {
  SandboxSpec in;
  in.name = "db";
  in.lower_dirs = {"/layers/a", "/layers/b"};
  in.argv = {"sh", "-c", "echo \"quoted\" \\ and\nnewline"};
  in.env = {"A=1", "B=two words"};
  in.workdir = "/work";
  in.uid = 1000;
  in.gid = 1001;
  in.additional_gids = {10, 4294967294u};
  in.hostname = "host-1";
  in.limits = {64 << 20, -1, 1500, 50000, 77, false};
  in.storage_bytes = int64_t{5} << 30;
  in.upper_dir = "/var/lib/slipway/build/step-1";
  in.timeout = milliseconds(90061);
  in.network = NetworkMode::kContainer;
  in.network_peer = "service";
  in.binds = {{"/src", "/ws", false}, {"/etc/hosts", "/h", true}};
  in.capabilities = (CapabilityMask{1} << 63) | 5;
  in.masked_values = {"tok\n", "s3cret"};
  in.interactive = true;
  in.kill_on_parent_death = true;

  auto out = SpecFromJson(SpecToJson(in));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->name, in.name);
  EXPECT_EQ(out->lower_dirs, in.lower_dirs);
  EXPECT_EQ(out->argv, in.argv);
  EXPECT_EQ(out->env, in.env);
  EXPECT_EQ(out->workdir, in.workdir);
  EXPECT_EQ(out->uid, in.uid);
  EXPECT_EQ(out->gid, in.gid);
  EXPECT_EQ(out->additional_gids, in.additional_gids);
  EXPECT_EQ(out->hostname, in.hostname);
  EXPECT_EQ(out->limits.memory_bytes, in.limits.memory_bytes);
  EXPECT_EQ(out->limits.memory_swap_bytes, in.limits.memory_swap_bytes);
  EXPECT_EQ(out->limits.cpu_millis, in.limits.cpu_millis);
  EXPECT_EQ(out->limits.cpu_period_us, in.limits.cpu_period_us);
  EXPECT_EQ(out->limits.pids_max, in.limits.pids_max);
  EXPECT_EQ(out->limits.restrict_devices, in.limits.restrict_devices);
  EXPECT_EQ(out->storage_bytes, in.storage_bytes);
  EXPECT_EQ(out->upper_dir, in.upper_dir);
  EXPECT_EQ(out->timeout, in.timeout);
  EXPECT_EQ(out->network, in.network);
  EXPECT_EQ(out->network_peer, in.network_peer);
  ASSERT_EQ(out->binds.size(), 2u);
  EXPECT_EQ(out->binds[1].source, "/etc/hosts");
  EXPECT_EQ(out->binds[1].target, "/h");
  EXPECT_TRUE(out->binds[1].read_only);
  EXPECT_FALSE(out->binds[0].read_only);
  EXPECT_EQ(out->capabilities, in.capabilities);
  EXPECT_EQ(out->masked_values, in.masked_values);
  EXPECT_EQ(out->interactive, in.interactive);
  EXPECT_EQ(out->kill_on_parent_death, in.kill_on_parent_death);
  // And nothing is written that the decoder does not read back the same.
  EXPECT_EQ(SpecToJson(*out), SpecToJson(in));
}

// The spec names the mode: a mode the monitor read back as another
// would run the sandbox on the wrong network (kHost as kPrivate, or worse).
TEST(MonitorSpecJson, EveryNetworkModeRoundTripsByName) {
  for (auto [mode, name] :
       {std::pair{NetworkMode::kPrivate, "private"}, std::pair{NetworkMode::kContainer, "container"},
        std::pair{NetworkMode::kHost, "host"}}) {
    SandboxSpec in;
    in.argv = {"true"};
    in.network = mode;
    if (mode == NetworkMode::kContainer) in.network_peer = "db";
    std::string text = SpecToJson(in);
    EXPECT_EQ(nlohmann::json::parse(text)["network"], name) << text;
    auto out = SpecFromJson(text);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(out->network, mode) << name;
    EXPECT_EQ(out->network_peer, in.network_peer) << name;
  }
}

TEST(MonitorSpecJson, MissingKeysKeepDefaults) {
  auto spec = SpecFromJson(R"({"argv": ["true"]})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  SandboxSpec defaults;
  EXPECT_EQ(SpecToJson(*spec), [&] {
    defaults.argv = {"true"};
    return SpecToJson(defaults);
  }());
}

TEST(MonitorSpecJson, DecodingIsStrict) {
  for (const char* bad : {
           R"({"argv": ["true"], "memory_bytes": 1})",  // a limit outside "limits"
           R"({"limits": {"memory": 1}})",              // misspelt limit
           R"({"uid": -1})",                            // out of range
           R"({"uid": 1.5})",                           // not an integer
           R"({"timeout_ms": "10s"})",                  // wrong type
           R"({"interactive": 1})",                     // not a boolean
           R"({"network": "bridge"})",                  // unknown mode
           R"({"network": "Host"})",                    // modes are lowercase
           R"({"binds": [{"source": "/a", "target": "/b", "ro": true}]})",
           R"({"additional_gids": [-5]})",
           R"({"capabilities": -1})",
           R"({"upper_dir": 5})",
           R"({"upperdir": "/x"})",
           R"(["not", "an", "object"])",
           R"({"argv": ["tr)",
       }) {
    auto spec = SpecFromJson(bad);
    EXPECT_FALSE(spec.ok()) << bad;
    if (!spec.ok()) {
      EXPECT_EQ(spec.status().code(), Code::kInvalidArgument) << bad;
    }
  }
}

TEST(MonitorReadyLine, RoundTrips) {
  std::string id(64, 'a');
  auto ok = ParseReadyLine(ReadyLine(ReadyReport{id, 4242}));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->id, id);
  EXPECT_EQ(ok->init_pid, 4242);

  auto err = ParseReadyLine(ReadyLine(Status(Code::kFailedPrecondition, "sandbox x\nis not running")));
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(err.status().message(), "sandbox x is not running");

  for (const char* bad : {"", "ok", "ok ../../etc 12\n", "ok abc 0\n", "ok abc 12x\n", "error nonsense msg\n",
                          "error ok msg\n", "hello world\n"}) {
    auto r = ParseReadyLine(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInternal) << bad;
  }
}

// ---------------------------------------------------------------------------
// Monitored sandboxes

TEST_F(MonitorTest, RecordsOutputAndExitCode) {
  Snapshot before = Take();
  StartedSandbox sb = MustStart(Spec({"sh", "-c", "echo hi; exit 3"}));
  SandboxStatus s = MustEnd(sb.id);
  EXPECT_EQ(s.phase, SandboxPhase::kEnded);
  ASSERT_TRUE(s.result.has_value());
  EXPECT_EQ(s.result->exit_code, 3);
  EXPECT_FALSE(s.result->cancelled);
  EXPECT_EQ(Output(sb.id), "hi\n");
  EXPECT_TRUE(CgroupsGone(sb.id));
  ASSERT_TRUE(runtime_->Remove(sb.id, false).ok());
  EXPECT_EQ(Take(), before);
}

// The end fd reaches EOF once the result is recorded, which may be before
// the monitor has torn the sandbox down; a removal then waits for the
// monitor to finish, and nothing is left.
TEST_F(MonitorTest, TheEndFdEndsWithTheResultAndRemoveAwaitsTheTearDown) {
  Snapshot before = Take();
  StartedSandbox sb = MustStart(Spec({"sh", "-c", "echo hi; exit 3"}));
  ASSERT_TRUE(sb.end) << "no end fd";
  auto s = Monitors().Wait(sb.id, kEndTimeout, sb.end.get());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->phase, SandboxPhase::kEnded);
  ASSERT_TRUE(s->result.has_value());
  EXPECT_EQ(s->result->exit_code, 3);
  char byte;
  EXPECT_EQ(::read(sb.end.get(), &byte, 1), 0) << "the monitor wrote past its ready line";
  ASSERT_TRUE(runtime_->Remove(sb.id, false).ok());
  EXPECT_TRUE(LiveMonitors().empty()) << "removed while its monitor still ran";
  EXPECT_TRUE(CgroupsGone(sb.id));
  EXPECT_EQ(Take(), before);
}

TEST_F(MonitorTest, UpperDirCrossesToTheMonitor) {
  std::string upper = MakeTempDir("slipway-upper");
  Snapshot before = Take();
  SandboxSpec spec = Spec({"sh", "-c", "echo hi > /new && rm /bin/ls"});
  spec.upper_dir = upper;
  StartedSandbox sb = MustStart(spec);
  SandboxStatus s = MustEnd(sb.id);
  ASSERT_TRUE(s.result.has_value());
  EXPECT_EQ(s.result->exit_code, 0) << Output(sb.id);
  ASSERT_TRUE(runtime_->Remove(sb.id, false).ok());
  EXPECT_EQ(Take(), before);
  EXPECT_EQ(ListDir(upper), std::vector<std::string>{"upper"}) << "the monitor removes work/";
  auto text = ReadFile(upper + "/upper/new");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "hi\n");
  struct stat st;
  ASSERT_EQ(::lstat((upper + "/upper/bin/ls").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == 0) << "a whiteout";
  ASSERT_TRUE(RemoveTree(upper).ok());
}

TEST_F(MonitorTest, HostNetworkCrossesToTheMonitor) {
  char own_netns[256] = {};
  ASSERT_GT(::readlink("/proc/self/ns/net", own_netns, sizeof own_netns - 1), 0);
  SandboxSpec spec = Spec({"sh", "-c", "readlink /proc/self/ns/net; echo $$"});
  spec.network = NetworkMode::kHost;
  StartedSandbox sb = MustStart(spec);
  SandboxStatus s = MustEnd(sb.id);
  ASSERT_TRUE(s.result.has_value());
  EXPECT_EQ(s.result->exit_code, 0) << Output(sb.id);
  EXPECT_EQ(Output(sb.id), std::string(own_netns) + "\n1\n");
  ASSERT_TRUE(runtime_->Remove(sb.id, false).ok());
}

TEST_F(MonitorTest, MonitorIsItsOwnSessionAndNotOurChild) {
  StartedSandbox sb = MustStart(Spec({"sleep", "10"}));
  ASSERT_GT(sb.monitor_pid, 0);
  EXPECT_EQ(::getsid(sb.monitor_pid), sb.monitor_pid);
  EXPECT_EQ(::getpgid(sb.monitor_pid), sb.monitor_pid);
  EXPECT_NE(::getsid(sb.monitor_pid), ::getsid(0));
  // The launcher was reaped and the monitor reparented: nothing for us to reap.
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  // The monitor is the recorded owner, and the init its child.
  auto state = runtime_->state_dir().ReadState(sb.id);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->owner.pid, sb.monitor_pid);
  EXPECT_EQ(state->init.pid, sb.init_pid);
  auto stat = ReadFile("/proc/" + std::to_string(sb.init_pid) + "/stat");
  ASSERT_TRUE(stat.ok());
  std::string after_name = stat->substr(stat->rfind(')') + 2);  // "S <ppid> ..."
  EXPECT_EQ(std::atoi(after_name.c_str() + 2), sb.monitor_pid);
  // The monitor writes nothing to the fds it was given but the ready pipe.
  for (int fd : {0, 1, 2}) {
    char target[PATH_MAX] = {};
    std::string link = "/proc/" + std::to_string(sb.monitor_pid) + "/fd/" + std::to_string(fd);
    ASSERT_GT(::readlink(link.c_str(), target, sizeof target - 1), 0) << link;
    EXPECT_STREQ(target, "/dev/null") << link;
  }
  ASSERT_TRUE(Monitors().Stop(sb.id).ok());
  MustEnd(sb.id);
}

TEST_F(MonitorTest, SandboxOutlivesItsStarter) {
  Snapshot before = Take();
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  pid_t starter = ::fork();
  ASSERT_GE(starter, 0);
  if (starter == 0) {
    auto sb = Monitors().Start(Spec({"sh", "-c", "sleep 1; echo done; exit 7"}));
    std::string id = sb.ok() ? sb->id : "";
    (void)!::write(report[1], id.c_str(), id.size());
    ::close(report[1]);
    ::pause();  // killed by the test
    ::_exit(0);
  }
  ::close(report[1]);
  char buf[256] = {};
  ssize_t n = ::read(report[0], buf, sizeof buf - 1);
  ::close(report[0]);
  ASSERT_EQ(::kill(starter, SIGKILL), 0);  // right after Start() returned
  int status = 0;
  ASSERT_EQ(::waitpid(starter, &status, 0), starter);
  EXPECT_TRUE(WIFSIGNALED(status));
  ASSERT_GT(n, 0) << "the starter failed to start the sandbox";
  std::string id(buf, static_cast<size_t>(n));

  auto running = Monitors().SurveyOne(id);
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->phase, SandboxPhase::kRunning);
  SandboxStatus s = MustEnd(id);
  EXPECT_EQ(s.phase, SandboxPhase::kEnded);
  ASSERT_TRUE(s.result.has_value());
  EXPECT_EQ(s.result->exit_code, 7);
  EXPECT_GE(s.result->wall_ms, 1000);
  EXPECT_EQ(Output(id), "done\n");
  EXPECT_TRUE(CgroupsGone(id));
  ASSERT_TRUE(runtime_->Remove(id, false).ok());
  EXPECT_EQ(Take(), before);
}

TEST_F(MonitorTest, HangupAndBrokenPipeDoNotEndTheMonitor) {
  StartedSandbox sb = MustStart(Spec({"sh", "-c", "sleep 0.5; echo still here"}));
  SendSignal(sb.monitor_pid, SIGHUP);
  SendSignal(sb.monitor_pid, SIGPIPE);
  SandboxStatus s = MustEnd(sb.id);
  ASSERT_EQ(s.phase, SandboxPhase::kEnded);
  EXPECT_EQ(s.result->exit_code, 0);
  EXPECT_FALSE(s.result->cancelled);
  EXPECT_EQ(Output(sb.id), "still here\n");
}

TEST_F(MonitorTest, SigtermKillsTheSandboxAndRecordsCancelled) {
  Snapshot before = Take();
  StartedSandbox sb = MustStart(Spec({"sh", "-c", "sleep 100 & sleep 100"}));
  auto init = ProcessRef::Of(sb.init_pid);
  ASSERT_TRUE(init.ok());
  ASSERT_TRUE(Monitors().Stop(sb.id).ok());
  SandboxStatus s = MustEnd(sb.id);
  ASSERT_EQ(s.phase, SandboxPhase::kEnded);
  EXPECT_TRUE(s.result->cancelled);
  EXPECT_EQ(s.result->signal, SIGKILL);
  EXPECT_FALSE(s.result->timed_out);
  EXPECT_FALSE(init->Alive());
  EXPECT_TRUE(CgroupsGone(sb.id));
  // A monitor that is gone cannot be stopped again.
  EXPECT_EQ(Monitors().Stop(sb.id).code(), Code::kFailedPrecondition);
  ASSERT_TRUE(runtime_->Remove(sb.id, false).ok());
  EXPECT_EQ(Take(), before);
}

// SIGKILL of the monitor: nothing records the end. The init has a
// parent-death SIGKILL, root or not; CleanUpLost removes the rest.
class LostMonitorTest : public MonitorTest, public ::testing::WithParamInterface<uid_t> {};

TEST_P(LostMonitorTest, KilledMonitorLeavesALostSandboxThatCleansUp) {
  Snapshot before = Take();
  SandboxSpec spec = Spec({"sh", "-c", "sleep 100 & sleep 100"});
  spec.name = "victim";
  spec.uid = GetParam();
  spec.gid = GetParam();
  StartedSandbox sb = MustStart(spec);
  auto init = ProcessRef::Of(sb.init_pid);
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(Monitors().CleanUpLost(sb.id).code(), Code::kFailedPrecondition) << "it is still running";

  SendSignal(sb.monitor_pid, SIGKILL);
  SandboxStatus s = MustEnd(sb.id);
  EXPECT_EQ(s.phase, SandboxPhase::kLost);
  EXPECT_FALSE(s.result.has_value());
  EXPECT_EQ(s.name, "victim");
  EXPECT_TRUE(WaitUntil([&] { return !init->Alive(); })) << "the init outlived its monitor";

  ASSERT_TRUE(Monitors().CleanUpLost(sb.id).ok());
  EXPECT_FALSE(init->Alive());
  EXPECT_TRUE(CgroupsGone(sb.id));
  EXPECT_FALSE(PathExists(runtime_->state_dir().NameLink("victim")));
  EXPECT_EQ(Take(), before);
  EXPECT_EQ(Monitors().SurveyOne(sb.id).status().code(), Code::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(RootAndNot, LostMonitorTest, ::testing::Values(uid_t{0}, uid_t{1000}));

TEST_F(MonitorTest, CleanUpLostKillsAnInitThatOutlivedItsOwner) {
  // An owner that died without taking its init along (here: one that started
  // the sandbox itself, without a parent-death signal; under a monitor, one
  // that died before the child armed it). The init runs on, reparented.
  Snapshot before = Take();
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  pid_t owner = ::fork();
  ASSERT_GE(owner, 0);
  if (owner == 0) {
    auto sb = runtime_->Start(Spec({"sh", "-c", "sleep 100 & sleep 100"}));
    std::string line = sb.ok() ? (*sb)->id() + " " + std::to_string((*sb)->pid()) : "";
    (void)!::write(report[1], line.c_str(), line.size());
    ::_exit(0);  // without waiting: the sandbox is orphaned
  }
  ::close(report[1]);
  char buf[256] = {};
  ssize_t n = ::read(report[0], buf, sizeof buf - 1);
  ::close(report[0]);
  ::waitpid(owner, nullptr, 0);
  ASSERT_GT(n, 0) << "the owner failed to start the sandbox";
  std::string id(buf, std::strchr(buf, ' '));
  auto init = ProcessRef::Of(std::atoi(std::strchr(buf, ' ') + 1));
  ASSERT_TRUE(init.ok());
  ASSERT_TRUE(init->Alive());

  auto lost = Monitors().SurveyOne(id);
  ASSERT_TRUE(lost.ok()) << lost.status().ToString();
  EXPECT_EQ(lost->phase, SandboxPhase::kLost);
  ASSERT_TRUE(Monitors().CleanUpLost(id).ok());
  EXPECT_TRUE(WaitUntil([&] { return !init->Alive(); }));
  EXPECT_TRUE(CgroupsGone(id));
  EXPECT_EQ(Take(), before);
}

TEST_F(MonitorTest, SurveyReportsEachPhase) {
  StartedSandbox ended = MustStart(Spec({"true"}));
  MustEnd(ended.id);
  StartedSandbox lost = MustStart(Spec({"sleep", "100"}));
  SendSignal(lost.monitor_pid, SIGKILL);
  MustEnd(lost.id);
  StartedSandbox running = MustStart(Spec({"sleep", "100"}));

  auto all = Monitors().Survey();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 3u);
  // Newest first.
  EXPECT_EQ((*all)[0].id, running.id);
  EXPECT_EQ((*all)[0].phase, SandboxPhase::kRunning);
  EXPECT_EQ((*all)[0].monitor.pid, running.monitor_pid);
  EXPECT_EQ((*all)[1].id, lost.id);
  EXPECT_EQ((*all)[1].phase, SandboxPhase::kLost);
  EXPECT_EQ((*all)[2].id, ended.id);
  EXPECT_EQ((*all)[2].phase, SandboxPhase::kEnded);
  EXPECT_EQ(Monitors().CleanUpLost(ended.id).code(), Code::kFailedPrecondition);
  ASSERT_TRUE(Monitors().Stop(running.id).ok());
  MustEnd(running.id);
}

TEST_F(MonitorTest, FailedStartReturnsTheErrorAndLeavesNothing) {
  std::string vol = MakeTempDir("slipway-vol");
  Snapshot before = Take();

  SandboxSpec missing = Spec({"true"});
  missing.lower_dirs = {"/nonexistent/rootfs"};
  auto r1 = Monitors().Start(missing);
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.status().code(), Code::kNotFound) << r1.status().ToString();
  EXPECT_NE(r1.status().message().find("/nonexistent/rootfs"), std::string::npos) << r1.status().message();

  // Fails in the child, after the cgroups, the tmpfs and the overlay exist.
  SandboxSpec bad_bind = Spec({"true"});
  bad_bind.binds = {{vol, "/etc/passwd", false}};
  auto r2 = Monitors().Start(bad_bind);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.status().message().find("/etc/passwd"), std::string::npos) << r2.status().message();

  SandboxSpec interactive = Spec({"cat"});
  interactive.interactive = true;
  auto r3 = Monitors().Start(interactive);
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.status().code(), Code::kInvalidArgument);

  EXPECT_TRUE(WaitUntil([&] { return LiveMonitors().empty(); }));
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "a launcher was left unreaped";
  EXPECT_EQ(Take(), before);
  fs::remove_all(vol);
}

TEST_F(MonitorTest, MissingMonitorBinaryIsNamed) {
  Snapshot before = Take();
  auto r = MonitorClient(*runtime_, "/nonexistent/slipway-monitor").Start(Spec({"true"}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/slipway-monitor"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(Take(), before);
}

TEST_F(MonitorTest, AStarterThatGivesUpLeavesNothing) {
  // The starter stops waiting before the monitor can report: it kills the
  // launcher (usually before it has forked the monitor; a monitor that got
  // further finds the ready pipe closed, as in the test below).
  Snapshot before = Take();
  auto r = Monitors(milliseconds(1)).Start(Spec({"sleep", "100"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded) << r.status().ToString();
  EXPECT_TRUE(WaitUntil([&] { return LiveMonitors().empty(); }));
  EXPECT_TRUE(WaitUntil([&] { return Take() == before; }));
}

// The spec as a starter hands it over: in a memfd, read from its start.
int SpecFd(const SandboxSpec& spec) {
  int fd = ::memfd_create("test-spec", 0);
  std::string text = SpecToJson(spec);
  if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::lseek(fd, 0, SEEK_SET) != 0) {
    ADD_FAILURE() << "memfd: " << std::strerror(errno);
  }
  return fd;
}

TEST_F(MonitorTest, AMonitorNobodyListensToRemovesItsSandbox) {
  // The starter died before reading the ready line: nobody will ever learn
  // the sandbox's id, so the monitor must not leave it running.
  int spec = SpecFd(Spec({"sleep", "100"}));
  Snapshot before = Take();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  ::close(ready[0]);
  int status = RunMonitorBinary(
      {"--state-dir", state_dir_, "--cgroup-parent", cgroup_parent_, "--spec-fd", "4", "--ready-fd", "3"},
      ready[1], spec);
  ::close(ready[1]);
  ::close(spec);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "launcher wait status " << status;
  EXPECT_TRUE(WaitUntil([&] { return LiveMonitors().empty(); }));
  EXPECT_TRUE(WaitUntil([&] { return Take() == before; }));
}

// A spec fd that cannot be read is an error on the ready line, naming it;
// nothing is started.
TEST_F(MonitorTest, AnUnreadableSpecFdIsReported) {
  Snapshot before = Take();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  int status = RunMonitorBinary(
      {"--state-dir", state_dir_, "--cgroup-parent", cgroup_parent_, "--spec-fd", "9", "--ready-fd", "3"},
      ready[1]);
  ::close(ready[1]);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "launcher wait status " << status;
  std::string line;
  char buf[512];
  for (ssize_t n; (n = ::read(ready[0], buf, sizeof buf)) > 0;) line.append(buf, static_cast<size_t>(n));
  ::close(ready[0]);
  auto parsed = ParseReadyLine(line);
  ASSERT_FALSE(parsed.ok()) << line;
  EXPECT_NE(parsed.status().message().find("spec fd 9"), std::string::npos) << line;
  EXPECT_TRUE(WaitUntil([&] { return LiveMonitors().empty(); }));
  EXPECT_EQ(Take(), before);
}

TEST_F(MonitorTest, BadArgumentsExit2) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const std::vector<std::string> dirs = {"--state-dir", state_dir_, "--cgroup-parent", cgroup_parent_};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.begin(), dirs.begin(), dirs.end());
    return more;
  };
  for (const std::vector<std::string>& args : {
           std::vector<std::string>{"--state-dir", state_dir_, "--spec-fd"},
           std::vector<std::string>{"--state-dir", state_dir_, "--bogus", "x"},
           // A spec file is no longer taken: a spec may carry secrets.
           with({"--spec", "/tmp/x", "--ready-fd", "3"}),
           with({"--spec-fd", "3", "--ready-fd", "3"}),
           with({"--spec-fd", "-1", "--ready-fd", "3"}),
       }) {
    int status = RunMonitorBinary(args, ready[1]);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2)
        << "wait status " << status << " for " << ::testing::PrintToString(args);
  }
  ::close(ready[0]);
  ::close(ready[1]);
}

// Secrets a sandbox gets (its env) and prints: the log file has "****" for
// every occurrence, also one split across two writes, in each stream on its
// own; a held-back prefix that never became a secret is passed on at the
// end; and no file of the state directory ever holds the value (the spec
// went in a memfd), while it runs and after.
TEST_F(MonitorTest, MaskedValuesNeverReachTheStateDir) {
  const std::string secret = "s3cr3t" + RandomHex(8);
  const std::string half1 = secret.substr(0, 9), half2 = secret.substr(9);
  std::string script = "test \"$TOKEN\" = \"$EXPECTED\" && echo env-ok; printf %s \"$TOKEN\"; echo;";
  script += "printf %s " + half1 + "; printf %s " + half2 + "; echo; echo \"x${TOKEN}y\" >&2;";
  script += "echo ready; printf %s " + half1 + "; sleep 100";
  SandboxSpec spec = Spec({"sh", "-c", script});
  // Only the halves are in argv; the value is in env alone.
  spec.env = {"TOKEN=" + secret, "EXPECTED=" + half1 + half2};
  spec.masked_values = {secret, ""};  // an empty value masks nothing
  StartedSandbox sb = MustStart(spec);
  ASSERT_FALSE(sb.id.empty());
  std::string out, err;
  auto read = [&] {
    out.clear();
    err.clear();
    // The monitor creates the log once it has reported the start.
    if (!PathExists(runtime_->state_dir().LogFile(sb.id))) return;
    auto done = ReadLog(runtime_->state_dir().LogFile(sb.id), 0,
                        [&](Stream s, std::string_view d) { (s == Stream::kStdout ? out : err).append(d); });
    EXPECT_TRUE(done.ok()) << done.status().ToString();
  };
  ASSERT_TRUE(WaitUntil(
      [&] {
        read();
        return out.ends_with("ready\n") && err.ends_with("y\n");
      },
      kEndTimeout))
      << out << err;
  // The half printed last may be the start of the secret: it is held back.
  EXPECT_EQ(out, "env-ok\n****\n****\nready\n");
  EXPECT_EQ(err, "x****y\n");
  EXPECT_EQ(FilesContaining(state_dir_, secret), std::vector<std::string>{});
  EXPECT_FALSE(FilesContaining(state_dir_, "env-ok").empty()) << "the scan reads the log";
  ASSERT_TRUE(Monitors().Stop(sb.id).ok());
  SandboxStatus end = MustEnd(sb.id);
  EXPECT_EQ(end.phase, SandboxPhase::kEnded);
  // At the end of the stream it is final: passed on as it was.
  read();
  EXPECT_EQ(out, "env-ok\n****\n****\nready\n" + half1);
  EXPECT_EQ(err, "x****y\n");
  EXPECT_EQ(FilesContaining(state_dir_, secret), std::vector<std::string>{});
}

TEST_F(MonitorTest, FiftyBackToBack) {
  Snapshot before = Take();
  constexpr int kCount = 50;
  std::vector<std::string> ids;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCount; ++i) {
    auto sb = Monitors().Start(Spec({"true"}));
    ASSERT_TRUE(sb.ok()) << i << ": " << sb.status().ToString();
    ids.push_back(sb->id);
  }
  auto started = std::chrono::steady_clock::now();
  for (const std::string& id : ids) {
    SandboxStatus s = MustEnd(id);
    ASSERT_EQ(s.phase, SandboxPhase::kEnded) << id;
    EXPECT_EQ(s.result->exit_code, 0) << id;
  }
  auto ended = std::chrono::steady_clock::now();
  auto ms = [](auto d) { return std::chrono::duration_cast<milliseconds>(d).count(); };
  std::cout << kCount << " monitored starts: " << ms(started - start) << " ms ("
            << ms(started - start) / kCount << " ms each), all ended " << ms(ended - started)
            << " ms later\n";
  for (const std::string& id : ids) ASSERT_TRUE(runtime_->Remove(id, false).ok()) << id;
  EXPECT_TRUE(WaitUntil([&] { return LiveMonitors().empty(); }));
  EXPECT_EQ(Take(), before);
}

}  // namespace
}  // namespace slipway::testing
