// Every verb of the `slipway` CLI through a real slipwayd: what a user sees
// (exit code, stdout, stderr) and what the daemon then records (through its
// API). Most tests share one daemon with the busybox rootfs imported as image
// `busybox`; tests that need an empty image store or other settings start
// their own. After each test every container is force-removed and nothing
// may be left: no cgroup, no sandbox state, no mount.
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

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

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

bool IsContainerId(const std::string& s) {
  return s.size() == 32 &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(c) && !std::isupper(c); });
}

// Reads from `fd` until `text` has arrived or `deadline` passed; what was read.
std::string ReadUntil(int fd, const std::string& text, milliseconds deadline) {
  std::string got;
  auto until = Clock::now() + deadline;
  while (got.find(text) == std::string::npos) {
    auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
    if (left <= 0) break;
    pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

class DaemonCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { shared_ = StartDaemonWithBusybox().release(); }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(shared_, nullptr) << "slipwayd did not start"; }

  void TearDown() override {
    if (shared_ == nullptr || !shared_->running()) return;
    shared_->RemoveAll();
    EXPECT_EQ(shared_->LeftoversAfter(), "") << "left behind after every container was force-removed";
  }

  DaemonUnderTest& daemon() { return *shared_; }
  Outcome Cli(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    return daemon().Cli(args, env);
  }
  // `slipway run -d ARGS...`: the id it printed.
  std::string Detached(const std::vector<std::string>& args) {
    std::vector<std::string> full = {"run", "-d"};
    full.insert(full.end(), args.begin(), args.end());
    Outcome o = Cli(full);
    EXPECT_EQ(o.code, 0) << o;
    return Trim(o.out);
  }
  std::string State(const std::string& id) { return daemon().Inspect(id).value("state", ""); }

  static DaemonUnderTest* shared_;
};

DaemonUnderTest* DaemonCliTest::shared_ = nullptr;

// --- run ------------------------------------------------------------------------

TEST_F(DaemonCliTest, RunPrintsTheOutputAndExitsWithTheCommandsCode) {
  Outcome o = Cli({"run", "busybox", "sh", "-c", "echo out; echo err >&2; exit 7"});
  EXPECT_EQ(o.code, 7) << o;
  EXPECT_EQ(o.out, "out\n") << o;
  EXPECT_EQ(o.err, "err\n") << o;
  std::vector<json> all = daemon().List(true);
  ASSERT_EQ(all.size(), 1u) << "without --rm the container is kept";
  EXPECT_EQ(all[0].value("state", ""), "exited");
  EXPECT_EQ(all[0].value("exit_code", -1), 7);
}

TEST_F(DaemonCliTest, RunStreamsOutputWhileTheCommandRuns) {
  Child c = daemon().SpawnCli({"run", "--rm", "busybox", "sh", "-c", "echo first; sleep 2; echo second"});
  std::string first = ReadUntil(c.out, "\n", seconds(10));
  auto first_at = Clock::now() - c.started;
  Outcome o = Finish(c);
  EXPECT_EQ(first, "first\n") << "the first line arrived with the end\n" << o;
  EXPECT_LT(first_at, milliseconds(1800)) << "the first line was held back";
  EXPECT_EQ(first + o.out, "first\nsecond\n") << o;
  EXPECT_EQ(o.code, 0) << o;
}

TEST_F(DaemonCliTest, RunWithRmRemovesTheContainer) {
  Outcome o = Cli({"run", "--rm", "--name", "gone", "busybox", "echo", "hi"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "hi\n") << o;
  auto until = Clock::now() + seconds(5);
  while (!daemon().List(true).empty() && Clock::now() < until) std::this_thread::sleep_for(milliseconds(20));
  EXPECT_TRUE(daemon().List(true).empty());
  EXPECT_EQ(daemon().Api().Get("/api/v1/containers/gone").status, 404);
}

TEST_F(DaemonCliTest, RunDetachedPrintsTheIdAndReturnsAtOnce) {
  auto start = Clock::now();
  std::string id = Detached({"--name", "bg", "busybox", "sleep", "30"});
  EXPECT_LT(Clock::now() - start, seconds(10));
  ASSERT_TRUE(IsContainerId(id)) << id;
  json c = daemon().Inspect("bg");
  EXPECT_EQ(c.value("id", ""), id);
  std::string state = c.value("state", "");
  EXPECT_TRUE(state == "queued" || state == "starting" || state == "running") << c.dump();
  daemon().WaitForState(id, "running");
}

TEST_F(DaemonCliTest, RunNameEnvWorkdirAndBind) {
  std::string host = MakeTempDir("slipway-daemon-cli-bind");
  std::ofstream(host + "/in") << "from-host\n";
  Outcome o =
      Cli({"run", "--name", "named", "-e", "GREETING=hello", "-w", "/work/dir", "-v", host + ":/mnt/host",
           "busybox", "sh", "-c", "echo $GREETING; pwd; cat /mnt/host/in; echo written > /mnt/host/out"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "hello\n/work/dir\nfrom-host\n") << o;
  std::ifstream out(host + "/out");
  std::string line;
  EXPECT_TRUE(std::getline(out, line) && line == "written") << "the host does not see the write";
  json c = daemon().Inspect("named");
  EXPECT_EQ(c.value("name", ""), "named");
  fs::remove_all(host);
}

TEST_F(DaemonCliTest, RunOutOfMemoryExits137AndRecordsIt) {
  Outcome o = Cli({"run", "--name", "oom", "--memory", "32m", "busybox", "dd", "if=/dev/zero", "of=/dev/null",
                   "bs=256M", "count=1"});
  EXPECT_EQ(o.code, 137) << o;
  EXPECT_TRUE(Contains(o.err, "out of memory")) << o;
  json c = daemon().Inspect("oom");
  EXPECT_EQ(c.value("state", ""), "exited");
  EXPECT_EQ(c["result"].value("oom_killed", false), true) << c.dump();
}

TEST_F(DaemonCliTest, RunTimeoutExits124AndRecordsIt) {
  auto start = Clock::now();
  Outcome o = Cli({"run", "--name", "slow", "--timeout", "500ms", "busybox", "sleep", "30"});
  EXPECT_EQ(o.code, 124) << o;
  EXPECT_LT(Clock::now() - start, seconds(10));
  EXPECT_TRUE(Contains(o.err, "timed out")) << o;
  json c = daemon().Inspect("slow");
  EXPECT_EQ(c["result"].value("timed_out", false), true) << c.dump();
}

TEST_F(DaemonCliTest, RunOfAMissingImageFailsWith125AndCreatesNothing) {
  // Nothing listens on port 1: the pull the CLI tries first fails at once.
  Outcome o = Cli({"run", "127.0.0.1:1/missing:1", "true"});
  EXPECT_EQ(o.code, 125) << o;
  EXPECT_TRUE(o.err.starts_with("slipway: ")) << o;
  EXPECT_TRUE(daemon().List(true).empty());
}

// --- create, start, wait, logs ----------------------------------------------------

TEST_F(DaemonCliTest, CreateThenStartThenWait) {
  Outcome created = Cli({"create", "--name", "later", "busybox", "sh", "-c", "echo ran; exit 3"});
  ASSERT_EQ(created.code, 0) << created;
  std::string id = Trim(created.out);
  ASSERT_TRUE(IsContainerId(id)) << created;
  EXPECT_EQ(State(id), "created");
  EXPECT_TRUE(daemon().Inspect(id)["started_at"].is_null());

  Outcome started = Cli({"start", "later"});
  EXPECT_EQ(started.code, 0) << started;
  EXPECT_EQ(started.out, "later\n") << started;
  Outcome waited = Cli({"wait", "later"});
  EXPECT_EQ(waited.code, 0) << waited;
  EXPECT_EQ(waited.out, "3\n") << waited;
  EXPECT_EQ(State(id), "exited");

  Outcome logs = Cli({"logs", "later"});
  EXPECT_EQ(logs.code, 0) << logs;
  EXPECT_EQ(logs.out, "ran\n") << logs;

  Outcome again = Cli({"start", "later"});
  EXPECT_EQ(again.code, 1) << "an ended container cannot start again\n" << again;
  EXPECT_FALSE(again.err.empty()) << again;
}

TEST_F(DaemonCliTest, CreateWithNetworkHostRunsInTheHostsNetworkNamespace) {
  Outcome created = Cli({"create", "--network", "host", "busybox", "readlink", "/proc/self/ns/net"});
  ASSERT_EQ(created.code, 0) << created;
  std::string id = Trim(created.out);
  EXPECT_EQ(daemon().Inspect(id)["request"].value("network", ""), "host");
  Outcome o = Cli({"start", "-a", id});
  EXPECT_EQ(o.code, 0) << o;
  char own[256] = {};
  ASSERT_GT(::readlink("/proc/self/ns/net", own, sizeof own - 1), 0);
  EXPECT_EQ(o.out, std::string(own) + "\n") << o;
}

TEST_F(DaemonCliTest, StartAttachedRunsLikeRun) {
  std::string id = Trim(Cli({"create", "busybox", "sh", "-c", "echo attached; exit 4"}).out);
  Outcome o = Cli({"start", "-a", id});
  EXPECT_EQ(o.code, 4) << o;
  EXPECT_EQ(o.out, "attached\n") << o;
}

TEST_F(DaemonCliTest, LogsKeepStdoutAndStderrApart) {
  ASSERT_EQ(Cli({"run", "--name", "twostreams", "busybox", "sh", "-c", "echo o1; echo e1 >&2; echo o2"}).code,
            0);
  Outcome logs = Cli({"logs", "twostreams"});
  EXPECT_EQ(logs.code, 0) << logs;
  EXPECT_EQ(logs.out, "o1\no2\n") << logs;
  EXPECT_EQ(logs.err, "e1\n") << logs;
}

TEST_F(DaemonCliTest, LogsFollowPrintsOutputBeforeTheContainerEnds) {
  std::string id = Detached({"busybox", "sh", "-c", "echo one; sleep 1; echo two; sleep 1; echo three"});
  ASSERT_TRUE(IsContainerId(id)) << id;
  Child follow = daemon().SpawnCli({"logs", "-f", id});
  std::string first = ReadUntil(follow.out, "one\n", seconds(10));
  EXPECT_EQ(first, "one\n");
  EXPECT_EQ(State(id), "running") << "the first line should arrive while the container still runs";
  Outcome o = Finish(follow, seconds(30));
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(first + o.out, "one\ntwo\nthree\n") << o;
  EXPECT_EQ(State(id), "exited") << "logs -f returns once the container has ended";
}

TEST_F(DaemonCliTest, LogsOfAnUnknownContainer) {
  Outcome o = Cli({"logs", "no-such-thing"});
  EXPECT_EQ(o.code, 125) << o;
  EXPECT_TRUE(Contains(o.err, "no-such-thing")) << o;
}

// --- ps -----------------------------------------------------------------------------

TEST_F(DaemonCliTest, PsShowsRunningContainersAndDashAAllOfThem) {
  ASSERT_EQ(Cli({"run", "--name", "ended", "busybox", "true"}).code, 0);
  std::string running = Detached({"--name", "alive", "busybox", "sleep", "30"});
  daemon().WaitForState(running, "running");

  Outcome ps = Cli({"ps"});
  EXPECT_EQ(ps.code, 0) << ps;
  EXPECT_TRUE(Contains(ps.out, "CONTAINER ID")) << ps;
  EXPECT_TRUE(Contains(ps.out, "alive")) << ps;
  EXPECT_TRUE(Contains(ps.out, running.substr(0, 12))) << ps;
  EXPECT_TRUE(Contains(ps.out, "Up ")) << ps;
  EXPECT_FALSE(Contains(ps.out, "ended")) << ps;

  Outcome all = Cli({"ps", "-a"});
  EXPECT_TRUE(Contains(all.out, "alive")) << all;
  EXPECT_TRUE(Contains(all.out, "ended")) << all;
  EXPECT_TRUE(Contains(all.out, "Exited (0)")) << all;

  Outcome quiet = Cli({"ps", "-q"});
  EXPECT_EQ(quiet.out, running.substr(0, 12) + "\n") << quiet;
  Outcome quiet_all = Cli({"ps", "-a", "-q"});
  EXPECT_EQ(std::count(quiet_all.out.begin(), quiet_all.out.end(), '\n'), 2) << quiet_all;
}

// --- stop, kill, rm -------------------------------------------------------------------

TEST_F(DaemonCliTest, StopEndsAContainerThatHandlesSigterm) {
  std::string id = Detached({"busybox", "sh", "-c", "trap 'exit 0' TERM; sleep 30 & wait"});
  daemon().WaitForState(id, "running");
  std::this_thread::sleep_for(milliseconds(200));  // the trap is set
  auto start = Clock::now();
  Outcome o = Cli({"stop", id});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, id + "\n") << o;
  EXPECT_LT(Clock::now() - start, seconds(5)) << "SIGTERM should have ended it";
  json c = daemon().Inspect(id);
  EXPECT_EQ(c.value("state", ""), "exited") << c.dump();
  EXPECT_EQ(c.value("exit_code", -1), 0) << c.dump();
}

TEST_F(DaemonCliTest, StopKillsAContainerThatIgnoresSigtermAfterTheGrace) {
  // A sandbox's init ignores signals it has no handler for, SIGKILL aside.
  std::string id = Detached({"busybox", "sleep", "30"});
  daemon().WaitForState(id, "running");
  auto start = Clock::now();
  Outcome o = Cli({"stop", "-t", "1", id});
  auto took = Clock::now() - start;
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_GE(took, milliseconds(900)) << "SIGKILL came before the grace period ended";
  EXPECT_LT(took, seconds(6));
  json c = daemon().Inspect(id);
  EXPECT_EQ(c.value("state", ""), "exited") << c.dump();
  EXPECT_EQ(c.value("exit_code", -1), 137) << c.dump();
}

TEST_F(DaemonCliTest, KillSendsSigkillByDefaultAndOtherSignalsOnRequest) {
  std::string plain = Detached({"busybox", "sleep", "30"});
  std::string trapping = Detached({"busybox", "sh", "-c", "trap 'exit 42' USR1; sleep 30 & wait"});
  daemon().WaitForState(plain, "running");
  daemon().WaitForState(trapping, "running");
  std::this_thread::sleep_for(milliseconds(200));  // the trap is set

  Outcome killed = Cli({"kill", plain});
  EXPECT_EQ(killed.code, 0) << killed;
  EXPECT_EQ(killed.out, plain + "\n") << killed;
  EXPECT_EQ(daemon().WaitFor(plain).value("exit_code", -1), 137);

  Outcome usr1 = Cli({"kill", "-s", "USR1", trapping});
  EXPECT_EQ(usr1.code, 0) << usr1;
  EXPECT_EQ(daemon().WaitFor(trapping).value("exit_code", -1), 42);

  Outcome ended = Cli({"kill", plain});
  EXPECT_EQ(ended.code, 1) << "kill of an ended container\n" << ended;
  Outcome bad = Cli({"kill", "-s", "NOSUCHSIGNAL", trapping});
  EXPECT_NE(bad.code, 0) << bad;
}

TEST_F(DaemonCliTest, StopOfAQueuedContainerCancelsIt) {
  auto own = StartDaemonWithBusybox({"--max-running", "1"});
  ASSERT_NE(own, nullptr);
  std::string busy = Trim(own->Cli({"run", "-d", "busybox", "sleep", "30"}).out);
  own->WaitForState(busy, "running");
  std::string waiting = Trim(own->Cli({"run", "-d", "busybox", "echo", "should-not-run"}).out);
  ASSERT_TRUE(IsContainerId(waiting));
  EXPECT_EQ(own->Inspect(waiting).value("state", ""), "queued");

  Outcome o = own->Cli({"stop", waiting});
  EXPECT_EQ(o.code, 0) << o;
  json c = own->Inspect(waiting);
  EXPECT_EQ(c.value("state", ""), "exited") << c.dump();
  EXPECT_TRUE(c["started_at"].is_null()) << "it never ran: " << c.dump();
  EXPECT_EQ(c["result"].value("cancelled", false), true) << c.dump();
  EXPECT_EQ(own->Cli({"logs", waiting}).out, "");
  own->RemoveAll();
  EXPECT_EQ(own->LeftoversAfter(), "");
}

TEST_F(DaemonCliTest, RmRemovesEndedContainersAndReportsEachFailure) {
  ASSERT_EQ(Cli({"run", "--name", "a1", "busybox", "true"}).code, 0);
  ASSERT_EQ(Cli({"run", "--name", "a2", "busybox", "true"}).code, 0);
  Outcome o = Cli({"rm", "a1", "missing", "a2"});
  EXPECT_EQ(o.code, 1) << o;
  EXPECT_EQ(o.out, "a1\na2\n") << o;
  EXPECT_TRUE(Contains(o.err, "missing")) << o;
  EXPECT_TRUE(daemon().List(true).empty());
}

TEST_F(DaemonCliTest, RmOfARunningContainerNeedsForce) {
  std::string id = Detached({"--name", "busy", "busybox", "sleep", "30"});
  daemon().WaitForState(id, "running");
  pid_t init = daemon().Inspect(id).value("pid", 0);
  uint64_t init_start = ProcessStartTime(init);
  ASSERT_GT(init_start, 0u);
  Outcome refused = Cli({"rm", "busy"});
  EXPECT_EQ(refused.code, 1) << refused;
  EXPECT_EQ(State(id), "running");
  Outcome forced = Cli({"rm", "-f", "busy"});
  EXPECT_EQ(forced.code, 0) << forced;
  EXPECT_EQ(daemon().Api().Get("/api/v1/containers/" + id).status, 404);
  EXPECT_FALSE(ProcessAlive(init, init_start)) << "the sandbox's init survived rm -f";
}

// --- inspect, stats -----------------------------------------------------------------

TEST_F(DaemonCliTest, InspectPrintsContainersAndImagesAsJson) {
  ASSERT_EQ(Cli({"run", "--name", "looked-at", "busybox", "sh", "-c", "exit 5"}).code, 5);
  Outcome o = Cli({"inspect", "looked-at", "busybox"});
  ASSERT_EQ(o.code, 0) << o;
  json j = json::parse(o.out, nullptr, false);
  ASSERT_TRUE(j.is_array()) << o;
  ASSERT_EQ(j.size(), 2u) << o;
  EXPECT_EQ(j[0].value("name", ""), "looked-at");
  EXPECT_EQ(j[0].value("state", ""), "exited");
  EXPECT_EQ(j[0].value("exit_code", -1), 5);
  EXPECT_EQ(j[0]["command"], json({"sh", "-c", "exit 5"}));
  EXPECT_TRUE(j[1].value("id", "").starts_with("sha256:")) << j[1].dump();
  EXPECT_TRUE(j[1].contains("config")) << j[1].dump();

  Outcome missing = Cli({"inspect", "looked-at", "nothing-by-that-name"});
  EXPECT_EQ(missing.code, 1) << missing;
  EXPECT_TRUE(Contains(missing.err, "nothing-by-that-name")) << missing;
  json partial = json::parse(missing.out, nullptr, false);
  EXPECT_TRUE(partial.is_array() && partial.size() == 1u) << missing;
}

TEST_F(DaemonCliTest, StatsOfARunningContainer) {
  std::string id = Detached({"--name", "measured", "--memory", "64m", "busybox", "sleep", "30"});
  daemon().WaitForState(id, "running");
  Outcome o = Cli({"stats", "--json", "measured"});
  ASSERT_EQ(o.code, 0) << o;
  json j = json::parse(o.out, nullptr, false);
  ASSERT_TRUE(j.is_array() && j.size() == 1u) << o;
  EXPECT_EQ(j[0].value("id", ""), id);
  EXPECT_GE(j[0].value("pids", 0), 1) << o;
  EXPECT_GT(j[0].value("memory_bytes", 0), 0) << o;

  Outcome table = Cli({"stats", "measured"});
  EXPECT_EQ(table.code, 0) << table;
  EXPECT_TRUE(Contains(table.out, "PIDS")) << table;
  EXPECT_TRUE(Contains(table.out, "64MiB")) << "the memory limit\n" << table;

  ASSERT_EQ(Cli({"kill", "measured"}).code, 0);
  daemon().WaitFor(id);
  Outcome ended = Cli({"stats", "measured"});
  EXPECT_NE(ended.code, 0) << "stats of an ended container\n" << ended;
}

// --- images -------------------------------------------------------------------------

TEST_F(DaemonCliTest, ImagesListsTheImportedImage) {
  Outcome o = Cli({"images"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_TRUE(Contains(o.out, "REPOSITORY")) << o;
  EXPECT_TRUE(Contains(o.out, "busybox")) << o;
  EXPECT_TRUE(Contains(o.out, "latest")) << o;
  Outcome q = Cli({"images", "-q"});
  EXPECT_EQ(q.code, 0) << q;
  EXPECT_EQ(Trim(q.out).size(), 12u) << q;
}

// Image verbs that change the store get a daemon and store of their own.
class ImageVerbsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = StartDaemonWithBusybox();
    ASSERT_NE(daemon_, nullptr);
  }
  void TearDown() override {
    if (!daemon_) return;
    daemon_->RemoveAll();
    EXPECT_EQ(daemon_->LeftoversAfter(), "");
  }
  Outcome Cli(const std::vector<std::string>& args) { return daemon_->Cli(args); }
  std::unique_ptr<DaemonUnderTest> daemon_;
};

TEST_F(ImageVerbsTest, TagAddsANameThatRunsAndRmiTakesItAway) {
  Outcome tag = Cli({"tag", "busybox", "example.com/team/tool:2"});
  ASSERT_EQ(tag.code, 0) << tag;
  Outcome images = Cli({"images"});
  EXPECT_TRUE(Contains(images.out, "example.com/team/tool")) << images;
  Outcome run = Cli({"run", "--rm", "example.com/team/tool:2", "echo", "tagged"});
  EXPECT_EQ(run.code, 0) << run;
  EXPECT_EQ(run.out, "tagged\n") << run;

  Outcome rmi = Cli({"rmi", "example.com/team/tool:2"});
  EXPECT_EQ(rmi.code, 0) << rmi;
  EXPECT_TRUE(Contains(rmi.out, "Untagged: example.com/team/tool:2")) << rmi;
  EXPECT_FALSE(Contains(rmi.out, "Deleted")) << "busybox still names the image\n" << rmi;
  EXPECT_FALSE(Contains(Cli({"images"}).out, "example.com")) << "the tag is gone";
}

TEST_F(ImageVerbsTest, RmiIsRefusedWhileACreatedContainerUsesTheImage) {
  Outcome created = Cli({"create", "--name", "user", "busybox", "true"});
  ASSERT_EQ(created.code, 0) << created;
  Outcome refused = Cli({"rmi", "busybox"});
  EXPECT_EQ(refused.code, 1) << refused;
  EXPECT_TRUE(Contains(refused.err, "busybox")) << refused;
  EXPECT_TRUE(Contains(Cli({"images"}).out, "busybox")) << "the image must still be there";

  // docs/api.md: a container that has not ended (created included) goes
  // only with force.
  Outcome rm = Cli({"rm", "-f", "user"});
  ASSERT_EQ(rm.code, 0) << rm;
  Outcome rmi = Cli({"rmi", "busybox"});
  EXPECT_EQ(rmi.code, 0) << rmi;
  EXPECT_TRUE(Contains(rmi.out, "Deleted: sha256:")) << rmi;
  EXPECT_EQ(Cli({"images", "-q"}).out, "");
}

TEST_F(ImageVerbsTest, ImportWithoutANameThenPruneRemovesOnlyThatImage) {
  std::string dir = MakeTempDir("slipway-prune");
  fs::create_directories(dir + "/root/etc");
  std::ofstream(dir + "/root/etc/only-file") << "untagged\n";
  std::string output;
  ASSERT_EQ(RunShell("tar -C " + dir + "/root -cf " + dir + "/small.tar .", &output), 0) << output;

  Outcome imported = Cli({"import", dir + "/small.tar"});
  ASSERT_EQ(imported.code, 0) << imported;
  std::string id = Trim(imported.out);
  ASSERT_TRUE(id.starts_with("sha256:")) << imported;
  EXPECT_TRUE(Contains(Cli({"images", "-q"}).out, id.substr(7, 12)));

  Outcome prune = Cli({"image", "prune"});
  EXPECT_EQ(prune.code, 0) << prune;
  EXPECT_TRUE(Contains(prune.out, "Deleted: " + id)) << prune;
  EXPECT_TRUE(Contains(prune.out, "Removed 1 images")) << prune;
  Outcome images = Cli({"images"});
  EXPECT_FALSE(Contains(images.out, id.substr(7, 12))) << images;
  EXPECT_TRUE(Contains(images.out, "busybox")) << "prune removed a tagged image\n" << images;
  fs::remove_all(dir);
}

TEST_F(ImageVerbsTest, ImagePruneKeepsTheLayersOfACreatedContainer) {
  std::string id = Trim(Cli({"create", "busybox", "echo", "still-runs"}).out);
  ASSERT_TRUE(IsContainerId(id)) << id;
  Outcome prune = Cli({"image", "prune"});
  EXPECT_EQ(prune.code, 0) << prune;
  Outcome run = Cli({"start", "-a", id});
  EXPECT_EQ(run.code, 0) << run;
  EXPECT_EQ(run.out, "still-runs\n") << run;
}

// --- info, version, help --------------------------------------------------------------

TEST_F(DaemonCliTest, InfoShowsTheDaemonsSettingsAndLoad) {
  Outcome o = Cli({"info"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_TRUE(Contains(o.out, daemon().Url())) << o;
  EXPECT_TRUE(Contains(o.out, "Data Dir: " + daemon().data_dir())) << o;
  EXPECT_TRUE(Contains(o.out, "State Dir: " + daemon().state_dir())) << o;
  EXPECT_TRUE(Contains(o.out, "Max Running: 8")) << o;
  EXPECT_TRUE(Contains(o.out, "Running: 0")) << o;
  EXPECT_TRUE(Contains(o.out, "Max Runs: 4")) << o;
  EXPECT_TRUE(Contains(o.out, "Runs Running: 0")) << o;
}

TEST_F(DaemonCliTest, VersionShowsTheClientsAndTheServers) {
  Outcome o = Cli({"version"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_TRUE(Contains(o.out, "Client:\n Version: ")) << o;
  json info = daemon().Api().Get("/api/v1/info").Json();
  EXPECT_TRUE(Contains(o.out, "Server: " + daemon().Url() + "\n Version: " + info.value("version", "?")))
      << o;
}

TEST_F(DaemonCliTest, HelpListsEveryVerb) {
  Outcome o = Cli({"--help"});
  EXPECT_EQ(o.code, 0) << o;
  for (const char* verb : {"run",    "create",  "start", "wait",  "stop", "kill",    "rm",     "ps",
                           "logs",   "inspect", "stats", "pull",  "push", "tag",     "images", "rmi",
                           "import", "save",    "load",  "image", "info", "version", "repo",   "pipeline"}) {
    EXPECT_TRUE(Contains(o.out, std::string("  ") + verb + " ")) << verb << "\n" << o;
  }
}

TEST_F(DaemonCliTest, EveryVerbHasHelpAndNeedsNoDaemonForIt) {
  for (const char* verb :
       {"run",  "create", "start", "wait",   "stop", "kill",   "rm",   "ps",   "logs", "inspect", "stats",
        "pull", "push",   "tag",   "images", "rmi",  "import", "save", "load", "info", "version"}) {
    Outcome o = daemon().Cli({verb, "--help"}, {"SLIPWAY_HOST=http://127.0.0.1:1"});
    EXPECT_EQ(o.code, 0) << verb << "\n" << o;
    EXPECT_TRUE(Contains(o.out, verb)) << verb << "\n" << o;
    EXPECT_EQ(o.err, "") << verb << "\n" << o;
  }
  Outcome prune = daemon().Cli({"image", "prune", "--help"}, {"SLIPWAY_HOST=http://127.0.0.1:1"});
  EXPECT_EQ(prune.code, 0) << prune;
  for (std::vector<std::string> verb : std::vector<std::vector<std::string>>{{"repo", "add"},
                                                                             {"repo", "ls"},
                                                                             {"repo", "show"},
                                                                             {"repo", "rm"},
                                                                             {"repo", "secret", "set"},
                                                                             {"repo", "secret", "ls"},
                                                                             {"repo", "secret", "rm"},
                                                                             {"pipeline", "run"},
                                                                             {"pipeline", "exec"},
                                                                             {"pipeline", "ls"},
                                                                             {"pipeline", "show"},
                                                                             {"pipeline", "logs"},
                                                                             {"pipeline", "cancel"},
                                                                             {"pipeline", "rerun"},
                                                                             {"pipeline", "prune"},
                                                                             {"pipeline", "lint"}}) {
    verb.push_back("--help");
    Outcome o = daemon().Cli(verb, {"SLIPWAY_HOST=http://127.0.0.1:1"});
    EXPECT_EQ(o.code, 0) << verb[0] << " " << verb[1] << "\n" << o;
    EXPECT_EQ(o.err, "") << verb[0] << " " << verb[1] << "\n" << o;
  }
}

// --- Reaching the daemon --------------------------------------------------------------

TEST_F(DaemonCliTest, ADaemonThatIsNotRunningIsSaidClearly) {
  // A port nothing listens on: bound, then closed.
  DaemonUnderTest stopped;
  ASSERT_TRUE(stopped.Start());
  std::string url = stopped.Url();
  stopped.Terminate();
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"ps"}, {"run", "busybox", "true"}, {"images"}, {"rm", "x"}, {"logs", "x"}, {"info"}}) {
    Outcome o = daemon().Cli(args, {"SLIPWAY_HOST=" + url});
    EXPECT_EQ(o.code, 125) << args[0] << "\n" << o;
    EXPECT_TRUE(Contains(o.err, "cannot reach slipwayd at " + url)) << args[0] << "\n" << o;
    EXPECT_LT(o.took, seconds(5)) << args[0];
  }
}

TEST_F(DaemonCliTest, HostFlagWinsOverTheEnvironment) {
  Outcome o = daemon().Cli({"--host", daemon().Url(), "ps"}, {"SLIPWAY_HOST=http://127.0.0.1:1"});
  EXPECT_EQ(o.code, 0) << o;
}

TEST_F(DaemonCliTest, AWrongTokenIsRefused) {
  std::string dir = MakeTempDir("slipway-wrong-token");
  std::ofstream(dir + "/token") << "0123456789abcdef0123456789abcdef\n";
  Outcome o = daemon().Cli({"ps"}, {"SLIPWAY_TOKEN_FILE=" + dir + "/token"});
  EXPECT_EQ(o.code, 125) << o;
  EXPECT_TRUE(Contains(o.err, "token")) << o;
  Outcome missing = daemon().Cli({"ps"}, {"SLIPWAY_TOKEN_FILE=" + dir + "/none"});
  EXPECT_EQ(missing.code, 125) << missing;
  EXPECT_TRUE(Contains(missing.err, dir + "/none")) << missing;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace slipway::testing
