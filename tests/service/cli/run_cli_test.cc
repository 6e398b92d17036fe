// End-to-end tests of `slipway run`: the real binary, run as a user runs it.
// Each test checks what a user sees (exit code, stdout, stderr) and, where a
// sandbox ends abnormally or never starts, that nothing is left behind: no
// sandbox state, no cgroup, no mount.
//
// The binary's path is the first argument (see BUILD.bazel). Every test has
// its own state directory and cgroup parent, passed through the environment
// (SLIPWAY_STATE_DIR, SLIPWAY_CGROUP_PARENT), and removes both at the end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <list>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/fixtures.h"
#include "tests/testing/subprocess.h"

extern char** environ;

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string g_slipway;  // absolute path of the binary under test

// --- Processes ----------------------------------------------------------------

// --- Machine state ------------------------------------------------------------

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

// Decodes output.log (Docker's attach framing: {stream, 0, 0, 0, be32 size}).
bool DecodeLog(const std::string& path, std::string* out, std::string* err) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  while (pos + 8 <= data.size()) {
    auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(data[pos + i])); };
    uint32_t size = byte(4) << 24 | byte(5) << 16 | byte(6) << 8 | byte(7);
    if (pos + 8 + size > data.size()) return false;
    std::string chunk = data.substr(pos + 8, size);
    if (byte(0) == 1)
      out->append(chunk);
    else if (byte(0) == 2)
      err->append(chunk);
    else
      return false;
    pos += 8 + size;
  }
  return pos == data.size();
}

// Lines in `after` but not `before` ("+ x") and the reverse ("- x").
std::string Diff(const std::string& what, std::vector<std::string> before, std::vector<std::string> after) {
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  std::vector<std::string> added, removed;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(added));
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(), std::back_inserter(removed));
  std::string out;
  for (const auto& a : added) out += "  + " + what + " " + a + "\n";
  for (const auto& r : removed) out += "  - " + what + " " + r + "\n";
  return out;
}

// --- Fixture ------------------------------------------------------------------

// What a running sandbox recorded in <state>/sandboxes/<id>/state.json.
struct Running {
  std::string id;
  pid_t init = 0;
};

class RunCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(g_slipway.empty()) << "pass the slipway binary as the first argument";
    rootfs_ = BusyboxRootfs();
    state_dir_ = MakeTempDir("slipway-cli-state");
    static int counter = 0;
    cgroup_parent_ = "slipway-clitest-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  }

  void TearDown() override {
    for (Child& c : background_) {
      if (c.pid < 0) continue;
      ::kill(c.pid, SIGKILL);
      Finish(c);
    }
    // Never recurse into a mount: a leaked bind mount would take host files with it.
    bool mounted_inside = false;
    for (const auto& m : MountPoints()) mounted_inside |= m.starts_with(state_dir_ + "/");
    if (mounted_inside) {
      ADD_FAILURE() << "a mount below " << state_dir_ << " is left; not removing it";
    } else {
      std::error_code ec;
      fs::remove_all(state_dir_, ec);
    }
    auto below = CgroupTree(cgroup_parent_);  // sorted: children after their parents
    for (auto it = below.rbegin(); it != below.rend(); ++it) ::rmdir(it->c_str());
    for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup")) {
      ::rmdir((hierarchy.path() / cgroup_parent_).c_str());
    }
    for (const std::string& path : scratch_) {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  }

  std::vector<std::string> Env(std::vector<std::string> extra = {}) const {
    extra.push_back("SLIPWAY_STATE_DIR=" + state_dir_);
    extra.push_back("SLIPWAY_CGROUP_PARENT=" + cgroup_parent_);
    return extra;
  }

  // `slipway ARGS...`, waited for.
  Outcome Slipway(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    Child c = Spawn(Argv(args), Env(env));
    return Finish(c);
  }

  // `slipway run --rm --rootfs BUSYBOX ARGS...` (flags, then the command).
  Outcome Run(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    return Slipway(RunArgs(args), env);
  }

  // Like Run(), but in the background; Finish() it, or TearDown() kills it.
  Child& StartRun(const std::vector<std::string>& args) {
    background_.push_back(Spawn(Argv(RunArgs(args)), Env()));
    return background_.back();
  }

  std::vector<std::string> RunArgs(const std::vector<std::string>& args) const {
    std::vector<std::string> full = {"run", "--rm", "--rootfs", rootfs_};
    full.insert(full.end(), args.begin(), args.end());
    return full;
  }

  static std::vector<std::string> Argv(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {g_slipway};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  std::string SandboxesDir() const { return state_dir_ + "/sandboxes"; }

  // The ids of the sandboxes in the state directory.
  std::vector<std::string> Sandboxes() const {
    std::vector<std::string> ids;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(SandboxesDir(), ec)) ids.push_back(e.path().filename());
    return ids;
  }

  // Waits until a sandbox (the one called `name`, or else any) has started:
  // its state.json names its init process.
  Running WaitUntilRunning(const std::string& name = "", seconds deadline = seconds(20)) const {
    auto until = Clock::now() + deadline;
    while (Clock::now() < until) {
      std::vector<std::string> ids;
      if (name.empty()) {
        ids = Sandboxes();
      } else if (std::string id = ReadLink(state_dir_ + "/names/" + name); !id.empty()) {
        ids = {id};
      }
      for (const std::string& id : ids) {
        std::ifstream in(SandboxesDir() + "/" + id + "/state.json");
        auto state = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
        if (state.is_object() && state.contains("init") && state["init"].value("pid", 0) > 0) {
          return {id, state["init"]["pid"].get<pid_t>()};
        }
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    ADD_FAILURE() << "no sandbox " << name << " started within " << deadline.count() << " s";
    return {};
  }

  // A scratch directory, removed in TearDown().
  std::string ScratchDir(const std::string& prefix) {
    scratch_.push_back(MakeTempDir(prefix));
    return scratch_.back();
  }

  struct Snapshot {
    std::vector<std::string> mounts, cgroups, state;
  };
  Snapshot Take() const {
    auto state = ListTree(SandboxesDir());
    auto names = ListTree(state_dir_ + "/names");
    state.insert(state.end(), names.begin(), names.end());
    return {MountPoints(), CgroupTree(cgroup_parent_), state};
  }
  // Success if no mount, cgroup (below the parent) or sandbox state appeared
  // or vanished since `before`.
  ::testing::AssertionResult LeftNothing(const Snapshot& before) const {
    Snapshot now = Take();
    std::string diff = Diff("mount", before.mounts, now.mounts) +
                       Diff("cgroup", before.cgroups, now.cgroups) + Diff("state", before.state, now.state);
    if (diff.empty()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "left behind or removed:\n" << diff;
  }

  std::string rootfs_, state_dir_, cgroup_parent_;
  std::list<Child> background_;  // stable references for StartRun()
  std::vector<std::string> scratch_;
};

// --- Output and exit codes ----------------------------------------------------

TEST_F(RunCliTest, PrintsTheCommandsOutputAndExitsZero) {
  Outcome o = Run({"echo", "hello"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "hello\n") << o;
  EXPECT_EQ(o.err, "") << o;
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
  Snapshot before = Take();
  Outcome o = Run({"no-such-command-xyz", "arg"});
  EXPECT_EQ(o.code, 127) << o;
  EXPECT_TRUE(Contains(o.err, "no-such-command-xyz")) << o;
  EXPECT_EQ(o.out, "") << o;
  EXPECT_TRUE(LeftNothing(before));
}

TEST_F(RunCliTest, NonExecutableFileExits126AndNamesIt) {
  Outcome o = Run({"/etc/passwd"});  // mode 0644 in the rootfs
  EXPECT_EQ(o.code, 126) << o;
  EXPECT_TRUE(Contains(o.err, "/etc/passwd")) << o;
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
  Snapshot before = Take();
  Outcome o = Slipway(args);
  EXPECT_EQ(o.code, 125) << o;
  EXPECT_TRUE(o.err.starts_with("slipway: ")) << o;
  for (const std::string& want : GetParam().want)
    EXPECT_TRUE(Contains(o.err, want)) << "want: " << want << "\n" << o;
  EXPECT_EQ(o.out, "") << o;
  EXPECT_TRUE(LeftNothing(before));
}

INSTANTIATE_TEST_SUITE_P(
    RunCli, OwnErrorTest,
    ::testing::Values(
        BadRun{"MissingRootfs",
               {"--rootfs", "/nonexistent-slipway-rootfs", "true"},
               {"/nonexistent-slipway-rootfs", "No such file or directory"}},
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
               {"unsupported --network \"bridge\""}},
        BadRun{"NetworkContainerWithoutName",
               {"--rootfs", "ROOTFS", "--network", "container:", "true"},
               {"--network container:", "name"}},
        BadRun{"NetworkContainerNotRunning",
               {"--rootfs", "ROOTFS", "--network", "container:nope", "true"},
               {"no such sandbox: nope"}},
        BadRun{"VolumeRelativeHostPath",
               {"--rootfs", "ROOTFS", "-v", "relative:/x", "true"},
               {"\"relative:/x\"", "host path must be absolute"}},
        BadRun{"VolumeRelativeContainerPath",
               {"--rootfs", "ROOTFS", "-v", "/tmp:relative", "true"},
               {"\"/tmp:relative\"", "container path must be absolute"}},
        BadRun{"VolumeMissingSource",
               {"--rootfs", "ROOTFS", "-v", "/nonexistent-slipway-volume:/x", "true"},
               {"/nonexistent-slipway-volume", "No such file or directory"}},
        BadRun{"UnknownFlagBeforeRootfs",
               {"--frobnicate", "--rootfs", "ROOTFS", "echo", "hi"},
               {"unknown flag", "--frobnicate"}},
        BadRun{"UnknownFlagBeforeCommand",
               {"--rootfs", "ROOTFS", "--frobnicate", "echo", "hi"},
               {"unknown flag", "--frobnicate"}},
        BadRun{"UnknownUser", {"--rootfs", "ROOTFS", "-u", "nosuchuser", "true"}, {"nosuchuser"}},
        BadRun{"NoCommand", {"--rootfs", "ROOTFS"}, {"requires a command"}},
        // Nothing listens on port 1: the pull fails fast, and nothing is kept.
        BadRun{"ImageThatCannotBePulled",
               {"127.0.0.1:1/nothing:1", "echo", "hi"},
               {"127.0.0.1:1/nothing:1", "connection failed"}},
        BadRun{"NameWithSlash",
               {"--rootfs", "ROOTFS", "--name", "bad/name", "true"},
               {"invalid name \"bad/name\""}}),
    [](const ::testing::TestParamInfo<BadRun>& info) { return info.param.name; });

// --- Limits -------------------------------------------------------------------

TEST_F(RunCliTest, TimeoutKillsTheSandboxAndExits124) {
  Snapshot before = Take();
  auto start = Clock::now();
  Outcome o = Run({"--timeout", "300ms", "sleep", "10"});
  auto took = Clock::now() - start;
  EXPECT_EQ(o.code, 124) << o;
  EXPECT_TRUE(Contains(o.err, "timed out")) << o;
  EXPECT_LT(took, seconds(5)) << "the timeout did not end the sandbox";
  EXPECT_GE(took, milliseconds(300)) << "ended before the timeout";
  EXPECT_TRUE(LeftNothing(before));
}

TEST_F(RunCliTest, OutOfMemoryExits137AndSaysSo) {
  Snapshot before = Take();
  Outcome o = Run({"--memory", "32m", "dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"});
  EXPECT_EQ(o.code, 137) << o;
  EXPECT_TRUE(Contains(o.err, "out of memory")) << o;
  EXPECT_TRUE(LeftNothing(before));
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
  ASSERT_NE(WaitUntilRunning("svc").init, 0);
  // The listener may not be up yet: retry for up to ~10 s.
  Outcome client = Run({"--network", "container:svc", "sh", "-c",
                        "for i in $(seq 100); do nc 127.0.0.1 9000 && exit 0; sleep 0.1; done; exit 1"});
  EXPECT_EQ(client.code, 0) << client;
  EXPECT_EQ(client.out, "hi\n") << client;
  Outcome server = Finish(svc, seconds(20));
  EXPECT_EQ(server.code, 0) << server;
}

TEST_F(RunCliTest, NameInUseByARunningSandboxIsRefused) {
  Child& svc = StartRun({"--name", "svc", "sleep", "100"});
  Running running = WaitUntilRunning("svc");
  ASSERT_NE(running.init, 0);
  Outcome o = Run({"--name", "svc", "true"});
  EXPECT_EQ(o.code, 125) << o;
  EXPECT_TRUE(Contains(o.err, "already in use")) << o;
  // The refused run must not have taken the name from, or disturbed, svc.
  EXPECT_EQ(ReadLink(state_dir_ + "/names/svc"), running.id);
  EXPECT_EQ(::kill(running.init, 0), 0) << "svc is no longer running";
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

TEST_F(RunCliTest, NetworkOfAStoppedSandboxIsRefused) {
  Outcome stopped = Slipway({"run", "--name", "stopped", "--rootfs", rootfs_, "true"});  // no --rm: kept
  ASSERT_EQ(stopped.code, 0) << stopped;
  Outcome o = Run({"--network", "container:stopped", "true"});
  EXPECT_EQ(o.code, 125) << o;
  EXPECT_TRUE(Contains(o.err, "stopped is not running")) << o;
}

// --- Ending and state -------------------------------------------------------------

TEST_F(RunCliTest, SigtermEndsTheSandboxPromptlyAndLeavesNothing) {
  Snapshot before = Take();
  Child& slipway = StartRun({"sh", "-c", "sleep 100 & sleep 100"});
  Running running = WaitUntilRunning();
  ASSERT_NE(running.init, 0);
  std::string pid_ns = ReadLink("/proc/" + std::to_string(running.init) + "/ns/pid");
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
  EXPECT_NE(o.err.find("received TERM"), std::string::npos) << o;
  EXPECT_TRUE(ProcessesInPidNamespace(pid_ns).empty()) << "the sandbox's processes survived";
  EXPECT_TRUE(LeftNothing(before));
  EXPECT_TRUE(Sandboxes().empty());
}

TEST_F(RunCliTest, WithoutRmTheLogAndResultAreKept) {
  Outcome o = Slipway({"run", "--rootfs", rootfs_, "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(o.code, 3) << o;
  std::vector<std::string> ids = Sandboxes();
  ASSERT_EQ(ids.size(), 1u);
  std::string dir = SandboxesDir() + "/" + ids[0];

  std::ifstream result_file(dir + "/result.json");
  ASSERT_TRUE(result_file.good()) << "no result.json in " << dir;
  auto result = nlohmann::json::parse(result_file, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(result.is_object()) << "result.json is not a JSON object";
  EXPECT_EQ(result.value("exit_code", -1), 3);

  std::string out, err;
  ASSERT_TRUE(fs::exists(dir + "/output.log"));
  EXPECT_TRUE(DecodeLog(dir + "/output.log", &out, &err)) << "output.log is not framed";
  EXPECT_EQ(out, "out\n");
  EXPECT_EQ(err, "err\n");

  EXPECT_EQ(CgroupTree(cgroup_parent_), std::vector<std::string>{}) << "the sandbox's cgroup is left";
}

TEST_F(RunCliTest, PsListsAndRmRemovesEndedSandboxes) {
  ASSERT_EQ(Slipway({"run", "--name", "kept", "--rootfs", rootfs_, "sh", "-c", "exit 4"}).code, 4);
  Outcome running_only = Slipway({"ps"});
  EXPECT_EQ(running_only.code, 0) << running_only;
  EXPECT_FALSE(Contains(running_only.out, "kept")) << running_only;
  Outcome all = Slipway({"ps", "-a"});
  EXPECT_TRUE(Contains(all.out, "kept")) << all;
  EXPECT_TRUE(Contains(all.out, "exited (4)")) << all;

  Outcome rm = Slipway({"rm", "kept"});
  EXPECT_EQ(rm.code, 0) << rm;
  EXPECT_TRUE(Sandboxes().empty());
  EXPECT_FALSE(Contains(Slipway({"ps", "-a"}).out, "kept"));
  Outcome again = Slipway({"rm", "kept"});
  EXPECT_EQ(again.code, 125) << again;
  EXPECT_TRUE(Contains(again.err, "no such sandbox")) << again;
}

TEST_F(RunCliTest, RmRefusesARunningSandboxUnlessForced) {
  Child& svc = StartRun({"--name", "busy", "sleep", "100"});
  WaitUntilRunning();
  Outcome refused = Slipway({"rm", "busy"});
  EXPECT_EQ(refused.code, 125) << refused;
  EXPECT_TRUE(Contains(refused.err, "running")) << refused;
  Outcome forced = Slipway({"rm", "-f", "busy"});
  EXPECT_EQ(forced.code, 0) << forced;
  Outcome ended = Finish(svc, seconds(20));
  EXPECT_EQ(ended.code, 137) << ended;
  EXPECT_TRUE(Sandboxes().empty());
}

// --- Help ---------------------------------------------------------------------

TEST_F(RunCliTest, TopLevelHelpListsTheRunCommand) {
  Outcome o = Slipway({"--help"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_TRUE(Contains(o.out, "run")) << o;
  EXPECT_TRUE(Contains(o.out, "--state-dir")) << o;
}

TEST_F(RunCliTest, RunHelpListsTheFlags) {
  Outcome o = Slipway({"run", "--help"});
  EXPECT_EQ(o.code, 0) << o;
  for (const char* flag : {"--memory", "--cpus", "--timeout", "--network", "--rootfs", "--volume", "--rm"}) {
    EXPECT_TRUE(Contains(o.out, flag)) << flag << "\n" << o;
  }
}

}  // namespace
}  // namespace slipway::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  slipway::testing::g_slipway = slipway::testing::BinaryUnderTest(argc, argv, "service/cli/slipway");
  return RUN_ALL_TESTS();
}
