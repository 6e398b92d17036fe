// End-to-end tests of `slipway run`: the real CLI, run as a user runs it,
// against a real slipwayd (one for the whole suite, with its own data and
// state directories, cgroup parent and port). Each test checks what a user
// sees (exit code, stdout, stderr) and, where a sandbox ends abnormally or
// never starts, that nothing is left behind: no container, no sandbox state,
// no cgroup, no mount.
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <gtest/gtest.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <list>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/ascii.h"
#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/subprocess.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string ReadLink(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// Every process whose pid namespace is `ns` (as /proc/<pid>/ns/pid reads).
std::vector<pid_t> ProcessesInPidNamespace(const std::string& ns) {
  std::vector<pid_t> pids;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    if (ReadLink(e.path().string() + "/ns/pid") == ns) pids.push_back(std::stoi(name));
  }
  return pids;
}

class RunCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { daemon_ = StartDaemon().release(); }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(daemon_, nullptr) << "slipwayd did not start";
    rootfs_ = BusyboxRootfs();
  }

  void TearDown() override {
    if (daemon_ == nullptr) return;
    for (Child& c : background_) {
      if (c.pid < 0) continue;
      ::kill(c.pid, SIGKILL);
      Finish(c);
    }
    daemon_->RemoveAll();
    EXPECT_EQ(daemon_->LeftoversAfter(), "") << "left behind after every container was force-removed";
    for (const std::string& path : scratch_) {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  }

  // `slipway ARGS...` against the daemon, waited for.
  Outcome Slipway(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    return daemon_->Cli(args, env);
  }

  // `slipway run --rm --rootfs BUSYBOX ARGS...` (flags, then the command).
  Outcome Run(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    return Slipway(RunArgs(args), env);
  }

  // Like Run(), but in the background; Finish() it, or TearDown() kills it.
  Child& StartRun(const std::vector<std::string>& args) {
    background_.push_back(daemon_->SpawnCli(RunArgs(args)));
    return background_.back();
  }

  std::vector<std::string> RunArgs(const std::vector<std::string>& args) const {
    std::vector<std::string> full = {"run", "--rm", "--rootfs", rootfs_};
    full.insert(full.end(), args.begin(), args.end());
    return full;
  }

  // Waits until a container (the one called `name`, or else any) runs; the
  // container object, with its init's pid.
  json WaitUntilRunning(const std::string& name = "", seconds deadline = seconds(20)) const {
    auto until = Clock::now() + deadline;
    while (Clock::now() < until) {
      std::vector<json> candidates;
      if (name.empty()) {
        candidates = daemon_->List(false);
      } else if (HttpReply r = daemon_->Api().Get("/api/v1/containers/" + name); r.status == 200) {
        candidates = {r.Json()};
      }
      for (const json& c : candidates) {
        if (c.value("state", "") == "running" && c.value("pid", 0) > 0) return c;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    ADD_FAILURE() << "no container " << name << " ran within " << deadline.count() << " s";
    return json::object();
  }

  // A scratch directory, removed in TearDown().
  std::string ScratchDir(const std::string& prefix) {
    scratch_.push_back(MakeTempDir(prefix));
    return scratch_.back();
  }

  // Success if no container exists (within a few seconds), and nothing was
  // left on the machine.
  ::testing::AssertionResult LeftNothing() const {
    std::vector<json> containers = daemon_->List(true);
    for (auto until = Clock::now() + seconds(5); !containers.empty() && Clock::now() < until;) {
      std::this_thread::sleep_for(milliseconds(50));
      containers = daemon_->List(true);
    }
    std::string left = daemon_->LeftoversAfter();
    if (containers.empty() && left.empty()) return ::testing::AssertionSuccess();
    auto failure = ::testing::AssertionFailure();
    for (const json& c : containers) failure << "container " << c.dump() << "\n";
    return failure << left;
  }

  static DaemonUnderTest* daemon_;
  std::string rootfs_;
  std::list<Child> background_;  // stable references for StartRun()
  std::vector<std::string> scratch_;
};

DaemonUnderTest* RunCliTest::daemon_ = nullptr;

// --- Output and exit codes ----------------------------------------------------

TEST_F(RunCliTest, PrintsTheCommandsOutputAndExitsZero) {
  Outcome o = Run({"echo", "hello"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "hello\n") << o;
  EXPECT_EQ(o.err, "") << o;
  EXPECT_TRUE(LeftNothing()) << "--rm keeps nothing";
}

// create and attach go on one connection (the CLI keeps it; slipwayd
// keeps it only when asked): counted by slipwayd's accept counter, around
// the run, with the second read of /metrics as the one other connection.
TEST_F(RunCliTest, CreateAndAttachShareOneConnection) {
  auto accepted = [&]() -> int64_t {
    std::string text = daemon_->Api().Get("/metrics").body;
    const std::string name = "\nslipway_api_connections_accepted_total ";
    size_t at = text.find(name);
    return at == std::string::npos ? -1 : std::stoll(text.substr(at + name.size()));
  };
  int64_t before = accepted();
  ASSERT_GE(before, 0) << "no accept counter";
  Outcome o = Run({"true"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(accepted() - before, 2) << "the run's connections, plus this read of /metrics";
}

TEST_F(RunCliTest, ExitsWithTheCommandsExitCode) {
  Outcome o = Run({"sh", "-c", "exit 3"});
  EXPECT_EQ(o.code, 3) << o;
}

TEST_F(RunCliTest, KeepsStdoutAndStderrApart) {
  Outcome o = Run({"sh", "-c", "echo to-out; echo to-err >&2; echo more-out"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "to-out\nmore-out\n") << o;
  EXPECT_EQ(o.err, "to-err\n") << o;
}

TEST_F(RunCliTest, LargeOutputArrivesWhole) {
  Outcome o = Run({"sh", "-c", "seq 1 100000"});
  EXPECT_EQ(o.code, 0) << o.code << "\n" << o.err;
  std::string want;
  for (int i = 1; i <= 100000; ++i) want += std::to_string(i) + "\n";
  EXPECT_TRUE(o.out == want) << "got " << o.out.size() << " bytes, want " << want.size();
}

TEST_F(RunCliTest, FlagsAfterTheCommandBelongToTheCommand) {
  Outcome o = Run({"sh", "-c", "echo $0 $1", "a", "-e"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "a -e\n") << o;
  Outcome flags = Run({"echo", "--rm", "--memory", "x", "-v", "y"});
  EXPECT_EQ(flags.code, 0) << flags;
  EXPECT_EQ(flags.out, "--rm --memory x -v y\n") << flags;
}

TEST_F(RunCliTest, DoubleDashEndsSlipwaysFlags) {
  Outcome o = Slipway({"run", "--rm", "--rootfs", rootfs_, "--", "sh", "-c", "echo $0", "--memory"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "--memory\n") << o;
}

TEST_F(RunCliTest, CommandNotFoundExits127AndNamesIt) {
  Outcome o = Run({"no-such-command-xyz", "arg"});
  EXPECT_EQ(o.code, 127) << o;
  EXPECT_TRUE(Contains(o.err, "no-such-command-xyz")) << o;
  EXPECT_EQ(o.out, "") << o;
  EXPECT_TRUE(LeftNothing());
}

TEST_F(RunCliTest, NonExecutableFileExits126AndNamesIt) {
  Outcome o = Run({"/etc/passwd"});  // mode 0644 in the rootfs
  EXPECT_EQ(o.code, 126) << o;
  EXPECT_TRUE(Contains(o.err, "/etc/passwd")) << o;
  EXPECT_TRUE(LeftNothing());
}

// --- Slipway's own errors -------------------------------------------------------

struct BadRun {
  std::string name;
  std::vector<std::string> args;  // after "run --rm"; "ROOTFS" stands for the busybox rootfs
  std::vector<std::string> want;  // what stderr must say
};

void PrintTo(const BadRun& bad, std::ostream* os) {
  *os << bad.name << ": run --rm";
  for (const std::string& a : bad.args) *os << " " << a;
}

class OwnErrorTest : public RunCliTest, public ::testing::WithParamInterface<BadRun> {};

TEST_P(OwnErrorTest, Exits125WithAMessageAndCreatesNothing) {
  std::vector<std::string> args = {"run", "--rm"};
  for (const std::string& a : GetParam().args) args.push_back(a == "ROOTFS" ? rootfs_ : a);
  Outcome o = Slipway(args);
  EXPECT_EQ(o.code, 125) << o;
  EXPECT_TRUE(o.err.starts_with("slipway: ")) << o;
  for (const std::string& want : GetParam().want)
    EXPECT_TRUE(Contains(o.err, want)) << "want: " << want << "\n" << o;
  EXPECT_EQ(o.out, "") << o;
  EXPECT_TRUE(LeftNothing());
}

INSTANTIATE_TEST_SUITE_P(
    RunCli, OwnErrorTest,
    ::testing::Values(
        BadRun{"MissingRootfs",
               {"--rootfs", "/nonexistent-slipway-rootfs", "true"},
               {"/nonexistent-slipway-rootfs"}},
        BadRun{
            "MemoryUnknownUnit", {"--rootfs", "ROOTFS", "--memory", "12q", "true"}, {"invalid size \"12q\""}},
        BadRun{"MemoryNegative", {"--rootfs", "ROOTFS", "--memory", "-5", "true"}, {"invalid size \"-5\""}},
        BadRun{"CpusNotANumber", {"--rootfs", "ROOTFS", "--cpus", "abc", "true"}, {"--cpus \"abc\""}},
        BadRun{"CpusZero", {"--rootfs", "ROOTFS", "--cpus", "0", "true"}, {"--cpus \"0\""}},
        BadRun{"TimeoutUnknownUnit",
               {"--rootfs", "ROOTFS", "--timeout", "5parsecs", "true"},
               {"invalid duration \"5parsecs\""}},
        BadRun{"NetworkBridge",
               {"--rootfs", "ROOTFS", "--network", "bridge", "true"},
               {"bridge", "use none, host or container:NAME"}},
        BadRun{"NetworkHostWithAName", {"--rootfs", "ROOTFS", "--network", "host:x", "true"}, {"host:x"}},
        BadRun{"NetworkContainerWithoutName",
               {"--rootfs", "ROOTFS", "--network", "container:", "true"},
               {"container:"}},
        BadRun{"NetworkContainerNotRunning",
               {"--rootfs", "ROOTFS", "--network", "container:nope", "true"},
               {"nope"}},
        // A relative host path is taken from the caller's directory.
        BadRun{"VolumeRelativeHostPath",
               {"--rootfs", "ROOTFS", "-v", "relative-slipway-volume:/x", "true"},
               {"/relative-slipway-volume", "No such file or directory"}},
        BadRun{"VolumeRelativeContainerPath",
               {"--rootfs", "ROOTFS", "-v", "/tmp:relative", "true"},
               {"/tmp:relative", "absolute"}},
        BadRun{"VolumeMissingSource",
               {"--rootfs", "ROOTFS", "-v", "/nonexistent-slipway-volume:/x", "true"},
               {"/nonexistent-slipway-volume"}},
        BadRun{"UnknownFlagBeforeRootfs",
               {"--frobnicate", "--rootfs", "ROOTFS", "echo", "hi"},
               {"--frobnicate"}},
        BadRun{"UnknownFlagBeforeCommand",
               {"--rootfs", "ROOTFS", "--frobnicate", "echo", "hi"},
               {"--frobnicate"}},
        BadRun{"UnknownUser", {"--rootfs", "ROOTFS", "-u", "nosuchuser", "true"}, {"nosuchuser"}},
        BadRun{"NoCommand", {"--rootfs", "ROOTFS"}, {"command"}},
        // Nothing listens on port 1: the pull fails fast, and nothing is kept.
        BadRun{"ImageThatCannotBePulled", {"127.0.0.1:1/nothing:1", "echo", "hi"}, {"127.0.0.1:1"}},
        BadRun{"NameWithSlash", {"--rootfs", "ROOTFS", "--name", "bad/name", "true"}, {"bad/name"}}),
    [](const ::testing::TestParamInfo<BadRun>& info) { return info.param.name; });

// --- Limits -------------------------------------------------------------------

TEST_F(RunCliTest, TimeoutKillsTheSandboxAndExits124) {
  auto start = Clock::now();
  Outcome o = Run({"--timeout", "300ms", "sleep", "10"});
  auto took = Clock::now() - start;
  EXPECT_EQ(o.code, 124) << o;
  EXPECT_TRUE(Contains(o.err, "timed out")) << o;
  EXPECT_LT(took, seconds(5)) << "the timeout did not end the sandbox";
  EXPECT_GE(took, milliseconds(300)) << "ended before the timeout";
  EXPECT_TRUE(LeftNothing());
}

TEST_F(RunCliTest, OutOfMemoryExits137AndSaysSo) {
  Outcome o = Run({"--memory", "32m", "dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"});
  EXPECT_EQ(o.code, 137) << o;
  EXPECT_TRUE(Contains(o.err, "out of memory")) << o;
  EXPECT_TRUE(LeftNothing());
}

TEST_F(RunCliTest, PidsLimitStopsAForkBomb) {
  Outcome o = Run({"--pids-limit", "8", "sh", "-c", "for i in $(seq 20); do sleep 5 & done; wait"});
  EXPECT_TRUE(Contains(o.err, "can't fork") || Contains(o.err, "Resource temporarily unavailable")) << o;
  EXPECT_TRUE(LeftNothing());
}

// --- Environment, directories, identity -----------------------------------------

TEST_F(RunCliTest, EnvSetsAndCopiesVariables) {
  Outcome o = Run({"-e", "K=V", "-e", "SLIPWAY_CLI_COPIED", "sh", "-c",
                   "echo \"K=$K copied=$SLIPWAY_CLI_COPIED other=$SLIPWAY_CLI_OTHER\""},
                  {"SLIPWAY_CLI_COPIED=from-caller", "SLIPWAY_CLI_OTHER=not-passed"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "K=V copied=from-caller other=\n") << o;
}

TEST_F(RunCliTest, WorkdirIsCreatedAndUsed) {
  Outcome o = Run({"-w", "/some/dir", "sh", "-c", "pwd; test -d /some/dir && echo is-dir"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "/some/dir\nis-dir\n") << o;
}

TEST_F(RunCliTest, HostnameFlagSetsTheHostname) {
  Outcome o = Run({"-h", "myhost", "hostname"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "myhost\n") << o;
}

TEST_F(RunCliTest, UserNameIsResolvedInTheRootfs) {
  Outcome o = Run({"-u", "tester", "sh", "-c", "id -u; id -g; echo $HOME"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "1000\n1000\n/home/tester\n") << o;
}

TEST_F(RunCliTest, NumericUserAndGroup) {
  Outcome o = Run({"-u", "1234:1234", "sh", "-c", "id -u; id -g"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "1234\n1234\n") << o;
}

// --- Volumes ------------------------------------------------------------------

TEST_F(RunCliTest, VolumeIsSharedWithTheHost) {
  std::string host = ScratchDir("slipway-cli-volume");
  std::ofstream(host + "/data") << "from-host\n";
  Outcome o = Run({"-v", host + ":/ctr", "sh", "-c", "cat /ctr/data && echo from-sandbox > /ctr/written"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "from-host\n") << o;
  std::ifstream written(host + "/written");
  std::string line;
  EXPECT_TRUE(std::getline(written, line) && line == "from-sandbox") << "the host does not see the write";
}

TEST_F(RunCliTest, ReadOnlyVolumeCannotBeWritten) {
  std::string host = ScratchDir("slipway-cli-volume");
  std::ofstream(host + "/data") << "from-host\n";
  Outcome o = Run({"-v", host + ":/ctr:ro", "sh", "-c", "cat /ctr/data && echo x > /ctr/written"});
  EXPECT_NE(o.code, 0) << o;
  EXPECT_EQ(o.out, "from-host\n") << o;
  EXPECT_TRUE(Contains(o.err, "Read-only file system")) << o;
  EXPECT_FALSE(fs::exists(host + "/written"));
}

// --- Names and networks ---------------------------------------------------------

TEST_F(RunCliTest, NetworkContainerReachesANamedSandboxOverLoopback) {
  Child& svc = StartRun({"--name", "svc", "sh", "-c", "echo hi | nc -l -p 9000"});
  ASSERT_GT(WaitUntilRunning("svc").value("pid", 0), 0);
  // The listener may not be up yet: retry for up to ~10 s.
  Outcome client = Run({"--network", "container:svc", "sh", "-c",
                        "for i in $(seq 100); do nc 127.0.0.1 9000 && exit 0; sleep 0.1; done; exit 1"});
  EXPECT_EQ(client.code, 0) << client;
  EXPECT_EQ(client.out, "hi\n") << client;
  Outcome server = Finish(svc, seconds(20));
  EXPECT_EQ(server.code, 0) << server;
}

// --network host: the sandbox is in the host's (and so slipwayd's) network
// namespace and sees its interfaces, but still has its own pid namespace.
TEST_F(RunCliTest, NetworkHostSeesTheHostsInterfaces) {
  Outcome o =
      Run({"--network", "host", "sh", "-c", "readlink /proc/self/ns/net; echo $$; ls /sys/class/net"});
  ASSERT_EQ(o.code, 0) << o;
  std::vector<std::string> host;
  for (const auto& e : fs::directory_iterator("/sys/class/net")) host.push_back(e.path().filename());
  std::sort(host.begin(), host.end());
  std::string want = ReadLink("/proc/self/ns/net") + "\n1\n";
  for (const std::string& name : host) want += name + "\n";
  EXPECT_EQ(o.out, want) << o;
  EXPECT_TRUE(std::any_of(host.begin(), host.end(), [](const std::string& n) { return n != "lo"; }))
      << "this host has only lo: the test cannot tell its network from a private one";
}

TEST_F(RunCliTest, NameInUseIsRefused) {
  Child& svc = StartRun({"--name", "svc", "sleep", "100"});
  json running = WaitUntilRunning("svc");
  ASSERT_GT(running.value("pid", 0), 0);
  Outcome o = Run({"--name", "svc", "true"});
  EXPECT_EQ(o.code, 125) << o;
  EXPECT_TRUE(Contains(o.err, "svc")) << o;
  EXPECT_TRUE(Contains(Lower(o.err), "already")) << o;
  // The refused run must not have taken the name from, or disturbed, svc.
  json now = daemon_->Inspect("svc");
  EXPECT_EQ(now.value("id", ""), running.value("id", ""));
  EXPECT_EQ(now.value("state", ""), "running");
  EXPECT_EQ(daemon_->List(true).size(), 1u);
  ::kill(svc.pid, SIGTERM);
  Outcome ended = Finish(svc, seconds(20));
  EXPECT_FALSE(ended.hung) << ended;
}

TEST_F(RunCliTest, RmFreesTheNameForTheNextRun) {
  Outcome first = Run({"--name", "once", "true"});
  EXPECT_EQ(first.code, 0) << first;
  Outcome second = Run({"--name", "once", "true"});
  EXPECT_EQ(second.code, 0) << second;
}

// As docker run --rm: once slipway has returned, the container is gone, so
// that a script may at once reuse its name.
TEST_F(RunCliTest, RunWithRmHasRemovedTheContainerWhenItReturns) {
  for (int i = 0; i < 30; ++i) {
    Outcome o = Run({"--name", "again", "true"});
    ASSERT_EQ(o.code, 0) << "run " << i << "\n" << o;
    HttpReply r = daemon_->Api().Get("/api/v1/containers/again");
    ASSERT_EQ(r.status, 404) << "run " << i << " returned before its container was removed: " << r;
  }
}

TEST_F(RunCliTest, NetworkOfAStoppedSandboxIsRefused) {
  Outcome stopped = Slipway({"run", "--name", "stopped", "--rootfs", rootfs_, "true"});  // no --rm: kept
  ASSERT_EQ(stopped.code, 0) << stopped;
  Outcome o = Run({"--network", "container:stopped", "true"});
  EXPECT_EQ(o.code, 125) << o;
  EXPECT_TRUE(Contains(o.err, "stopped")) << o;
  EXPECT_TRUE(Contains(o.err, "not running")) << o;
}

// --- Ending and state -------------------------------------------------------------

TEST_F(RunCliTest, SigtermEndsTheSandboxPromptlyAndLeavesNothing) {
  Child& slipway = StartRun({"sh", "-c", "sleep 100 & sleep 100"});
  json running = WaitUntilRunning();
  pid_t init = running.value("pid", 0);
  ASSERT_GT(init, 0);
  std::string pid_ns = ReadLink("/proc/" + std::to_string(init) + "/ns/pid");
  ASSERT_FALSE(pid_ns.empty());
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_GE(ProcessesInPidNamespace(pid_ns).size(), 2u) << "want sh and its sleeps";

  auto sent = Clock::now();
  ASSERT_EQ(::kill(slipway.pid, SIGTERM), 0);
  Outcome o = Finish(slipway, seconds(20));
  auto took = Clock::now() - sent;
  EXPECT_FALSE(o.hung) << o;
  EXPECT_LT(took, seconds(5)) << "slipway took " << std::chrono::duration_cast<milliseconds>(took).count()
                              << " ms to exit";
  EXPECT_EQ(o.code, 128 + SIGTERM) << o;
  EXPECT_TRUE(Contains(o.err, "TERM")) << o;
  EXPECT_TRUE(ProcessesInPidNamespace(pid_ns).empty()) << "the sandbox's processes survived";
  EXPECT_TRUE(LeftNothing());
}

TEST_F(RunCliTest, WithoutRmTheContainerItsLogAndResultAreKept) {
  Outcome o =
      Slipway({"run", "--name", "kept", "--rootfs", rootfs_, "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(o.code, 3) << o;
  json c = daemon_->Inspect("kept");
  EXPECT_EQ(c.value("state", ""), "exited") << c.dump();
  EXPECT_EQ(c.value("exit_code", -1), 3) << c.dump();

  HttpReply logs = daemon_->Api().Get("/api/v1/containers/kept/logs");
  ASSERT_EQ(logs.status, 200) << logs;
  std::string out, err;
  EXPECT_TRUE(DecodeFrames(logs.body, &out, &err)) << "the logs are not framed";
  EXPECT_EQ(out, "out\n");
  EXPECT_EQ(err, "err\n");

  // The pool's prepared sandboxes have cgroups of their own; only theirs may be there.
  const std::set<std::string> pooled = daemon_->PooledSandboxes();
  std::vector<std::string> left;
  for (const std::string& cg : CgroupTree(daemon_->cgroup_parent())) {
    if (!pooled.count(std::filesystem::path(cg).filename())) left.push_back(cg);
  }
  EXPECT_EQ(left, std::vector<std::string>{}) << "the sandbox's cgroup is left";
}

TEST_F(RunCliTest, PsListsAndRmRemovesEndedContainers) {
  ASSERT_EQ(Slipway({"run", "--name", "kept", "--rootfs", rootfs_, "sh", "-c", "exit 4"}).code, 4);
  Outcome running_only = Slipway({"ps"});
  EXPECT_EQ(running_only.code, 0) << running_only;
  EXPECT_FALSE(Contains(running_only.out, "kept")) << running_only;
  Outcome all = Slipway({"ps", "-a"});
  EXPECT_TRUE(Contains(all.out, "kept")) << all;
  EXPECT_TRUE(Contains(Lower(all.out), "exited (4)")) << all;

  Outcome rm = Slipway({"rm", "kept"});
  EXPECT_EQ(rm.code, 0) << rm;
  EXPECT_TRUE(LeftNothing());
  EXPECT_FALSE(Contains(Slipway({"ps", "-a"}).out, "kept"));
  Outcome again = Slipway({"rm", "kept"});
  EXPECT_NE(again.code, 0) << again;
  EXPECT_TRUE(Contains(Lower(again.err), "no such container")) << again;
}

TEST_F(RunCliTest, RmRefusesARunningContainerUnlessForced) {
  Child& svc = StartRun({"--name", "busy", "sleep", "100"});
  WaitUntilRunning("busy");
  Outcome refused = Slipway({"rm", "busy"});
  EXPECT_NE(refused.code, 0) << refused;
  EXPECT_TRUE(Contains(refused.err, "running")) << refused;
  EXPECT_EQ(daemon_->Inspect("busy").value("state", ""), "running");
  Outcome forced = Slipway({"rm", "-f", "busy"});
  EXPECT_EQ(forced.code, 0) << forced;
  Outcome ended = Finish(svc, seconds(20));
  EXPECT_EQ(ended.code, 137) << ended;
  EXPECT_TRUE(LeftNothing());
}

// --- Help ---------------------------------------------------------------------

TEST_F(RunCliTest, TopLevelHelpListsTheRunCommandAndTheDaemonsAddress) {
  Outcome o = Slipway({"--help"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_TRUE(Contains(o.out, "run")) << o;
  EXPECT_TRUE(Contains(o.out, "--host")) << o;
  EXPECT_FALSE(Contains(o.out, "--state-dir")) << "a daemon flag now\n" << o;
}

TEST_F(RunCliTest, RunHelpListsTheFlags) {
  Outcome o = Slipway({"run", "--help"});
  EXPECT_EQ(o.code, 0) << o;
  for (const char* flag : {"--memory", "--cpus", "--timeout", "--network", "--rootfs", "--volume", "--rm"}) {
    EXPECT_TRUE(Contains(o.out, flag)) << flag << "\n" << o;
  }
  EXPECT_TRUE(Contains(o.out, "container:NAME")) << o;
  EXPECT_TRUE(Contains(o.out, "host (the host's network, not isolated)")) << o;
}

}  // namespace
}  // namespace slipway::testing
