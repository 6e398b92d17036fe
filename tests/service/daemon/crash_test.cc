// slipwayd dies or is stopped while sandboxes run, and comes back:
// - kill -9: sandboxes run on under their monitors; those that end meanwhile
//   get their results recorded, one whose monitor was killed too is lost and
//   cleaned up, the others are adopted and can still be stopped; and once
//   every container is removed nothing is left (mounts, cgroups, processes,
//   sandbox state).
// - SIGTERM: slipwayd drains (waits for running sandboxes up to
//   --shutdown-timeout, starts nothing new, answers 503), exits 0, and the
//   next slipwayd finds everything as it was left: results recorded, queued
//   containers still queued, and then run.
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "engine/runtime/state.h"
#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// What the runtime recorded about the sandbox of container `id` (its
// processes by pid and start time, so a recycled pid is not taken for them),
// read with the runtime's own StateDir.
struct SandboxRecord {
  std::string dir;  // <state>/sandboxes/<sandbox id>
  std::string sandbox_id;
  ProcessRef monitor, init;
};

SandboxRecord FindSandbox(const DaemonUnderTest& daemon, const std::string& container_id) {
  StateDir state_dir(daemon.state_dir());
  Result<std::string> id = state_dir.Resolve(container_id);
  Result<SandboxState> state = id.ok() ? state_dir.ReadState(*id) : Result<SandboxState>(id.status());
  if (!state.ok()) {
    ADD_FAILURE() << "no sandbox in " << daemon.state_dir() << " is named " << container_id << ": "
                  << state.status().ToString();
    return {};
  }
  return {state_dir.SandboxDir(*id), *id, state->owner, state->init};
}

std::string Logs(const DaemonUnderTest& daemon, const std::string& id) {
  HttpReply r = daemon.Api().Get("/api/v1/containers/" + id + "/logs");
  std::string out, err;
  if (r.status != 200 || !DecodeFrames(r.body, &out, &err)) ADD_FAILURE() << "logs of " << id << ": " << r;
  return out + err;
}

class CrashTest : public ::testing::Test {
 protected:
  void StartDaemon(std::vector<std::string> args = {}) {
    daemon_ = std::make_unique<DaemonUnderTest>(std::move(args));
    auto started = daemon_->Start();
    ASSERT_TRUE(started) << started.message();
    ASSERT_FALSE(daemon_->ImportBusybox("busybox").empty());
  }

  std::string StartSandbox(const std::vector<std::string>& command) {
    return daemon_->CreateAndStart({{"image", "busybox"}, {"command", command}});
  }

  std::unique_ptr<DaemonUnderTest> daemon_;
};

TEST_F(CrashTest, KillNineThenRestartRecordsAdoptsAndCleansUp) {
  StartDaemon();
  std::vector<std::string> slow, quick;
  for (int i = 0; i < 4; ++i) slow.push_back(StartSandbox({"sh", "-c", "sleep 30"}));
  for (int i = 0; i < 2; ++i) quick.push_back(StartSandbox({"sh", "-c", "sleep 1; echo quick-done"}));
  std::map<std::string, SandboxRecord> sandboxes;
  for (const auto& ids : {slow, quick}) {
    for (const std::string& id : ids) {
      ASSERT_EQ(daemon_->WaitForState(id, "running").value("state", ""), "running");
      sandboxes[id] = FindSandbox(*daemon_, id);
      ASSERT_TRUE(sandboxes[id].monitor.Alive()) << id;
      ASSERT_TRUE(sandboxes[id].init.Alive()) << id;
      EXPECT_EQ(daemon_->Inspect(id).value("pid", 0), sandboxes[id].init.pid);
    }
  }

  daemon_->Kill9();
  // While slipwayd is away: one monitor dies too, and the quick ones end.
  const std::string lost = slow[0];
  ASSERT_EQ(::kill(sandboxes[lost].monitor.pid, SIGKILL), 0);
  for (const std::string& id : quick) {
    EXPECT_TRUE(WaitUntil([&] { return !sandboxes[id].monitor.Alive(); }, seconds(15)))
        << "the monitor of " << id << " still runs";
    EXPECT_TRUE(fs::exists(sandboxes[id].dir + "/result.json")) << id;
  }
  EXPECT_TRUE(WaitUntil([&] { return !sandboxes[lost].init.Alive(); }, seconds(5)))
      << "the sandbox of the killed monitor still runs (its parent-death signal)";
  for (size_t i = 1; i < slow.size(); ++i) {
    EXPECT_TRUE(sandboxes[slow[i]].monitor.Alive()) << "a monitor died with slipwayd";
    EXPECT_TRUE(sandboxes[slow[i]].init.Alive()) << "a sandbox died with slipwayd";
  }

  auto restarted = daemon_->Restart();
  ASSERT_TRUE(restarted) << restarted.message();

  for (const std::string& id : quick) {
    json c = daemon_->Inspect(id);
    EXPECT_EQ(c.value("state", ""), "exited") << c.dump();
    EXPECT_EQ(c["exit_code"], 0) << c.dump();
    EXPECT_EQ(c["result"].value("exit_code", -1), 0) << c.dump();
    EXPECT_EQ(Logs(*daemon_, id), "quick-done\n");
  }
  json gone = daemon_->Inspect(lost);
  EXPECT_EQ(gone.value("state", ""), "lost") << gone.dump();
  EXPECT_FALSE(sandboxes[lost].init.Alive());
  for (const std::string& cg : CgroupTree(daemon_->cgroup_parent())) {
    EXPECT_FALSE(Contains(cg, sandboxes[lost].sandbox_id)) << "the lost sandbox's cgroup is left: " << cg;
  }
  EXPECT_FALSE(fs::exists(sandboxes[lost].dir)) << "the lost sandbox's state is left";

  for (size_t i = 1; i < slow.size(); ++i) {
    json c = daemon_->Inspect(slow[i]);
    EXPECT_EQ(c.value("state", ""), "running") << "not adopted: " << c.dump();
    EXPECT_EQ(c.value("pid", 0), sandboxes[slow[i]].init.pid) << c.dump();
  }
  json info = daemon_->Api().Get("/api/v1/info").Json();
  EXPECT_EQ(info.value("running", -1), 3) << info.dump();

  for (size_t i = 1; i < slow.size(); ++i) {
    HttpReply stop = daemon_->Api().Post("/api/v1/containers/" + slow[i] + "/stop?timeout=1");
    EXPECT_EQ(stop.status, 200) << stop;
    json c = daemon_->Inspect(slow[i]);
    EXPECT_EQ(c.value("state", ""), "exited") << c.dump();
    EXPECT_FALSE(c["exit_code"].is_null()) << c.dump();
    EXPECT_FALSE(sandboxes[slow[i]].init.Alive()) << "stopped, yet its init runs";
  }

  daemon_->RemoveAll();
  EXPECT_TRUE(daemon_->List(true).empty());
  EXPECT_EQ(daemon_->LeftoversAfter(), "");
  for (const auto& [id, s] : sandboxes) {
    EXPECT_FALSE(s.monitor.Alive()) << "the monitor of " << id << " (pid " << s.monitor.pid << ") runs";
    EXPECT_FALSE(s.init.Alive()) << "the init of " << id << " (pid " << s.init.pid << ") runs";
  }
}

TEST_F(CrashTest, KillNineWhileAContainerIsQueuedKeepsItQueued) {
  StartDaemon({"--max-running", "1"});
  std::string first = StartSandbox({"sh", "-c", "sleep 2"});
  std::string second = StartSandbox({"echo", "second-ran"});
  daemon_->WaitForState(first, "running");
  EXPECT_EQ(daemon_->Inspect(second).value("state", ""), "queued");
  daemon_->Kill9();
  ASSERT_TRUE(daemon_->Restart());
  json c = daemon_->WaitFor(second);
  EXPECT_EQ(c.value("state", ""), "exited") << c.dump();
  EXPECT_EQ(c["exit_code"], 0) << c.dump();
  EXPECT_EQ(Logs(*daemon_, second), "second-ran\n");
  EXPECT_EQ(daemon_->WaitFor(first).value("exit_code", -1), 0);
  daemon_->RemoveAll();
  EXPECT_EQ(daemon_->LeftoversAfter(), "");
}

// A build's RUN step is a container like any other: listed while it runs,
// counted against max_running, and after a kill -9 of slipwayd stopped and
// removed by the next one (nobody waits for what it would make).
TEST_F(CrashTest, ABuildStepIsAContainerAndAKillNineLeavesNothingOfIt) {
  StartDaemon({"--max-running", "1"});
  std::string ctx = MakeTempDir("build-ctx");
  std::ofstream(ctx + "/Dockerfile") << "FROM busybox\nRUN echo started; sleep 60\n";
  Child build = daemon_->SpawnCli({"build", "--no-cache", "-t", "slow:1", ctx});
  std::string got;
  char buf[4096];
  auto until = Clock::now() + seconds(30);
  // The step's own output, not the "Step 2/2 : RUN echo started" line.
  while (!Contains(got, "\nstarted\n") && Clock::now() < until) {
    ssize_t n = ::read(build.out, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ASSERT_TRUE(Contains(got, "\nstarted\n")) << got;

  std::string step;
  for (const json& c : daemon_->List(/*all=*/true)) {
    if (c["labels"].value("slipway.build", "") == "slow:1") step = c.value("id", "");
  }
  ASSERT_FALSE(step.empty()) << "the RUN step is not listed";
  json running = daemon_->WaitForState(step, "running");
  EXPECT_EQ(running.value("state", ""), "running") << running.dump();
  EXPECT_EQ(running.value("image", ""), "busybox") << running.dump();
  Outcome ps = daemon_->Cli({"ps"});
  EXPECT_TRUE(Contains(ps.out, step.substr(0, 12))) << ps;
  // The step holds the one slot: a container asked to run now waits.
  std::string waiting = StartSandbox({"echo", "ran-after-the-step"});
  EXPECT_EQ(daemon_->Inspect(waiting).value("state", ""), "queued");
  SandboxRecord sandbox = FindSandbox(*daemon_, step);
  ASSERT_TRUE(sandbox.monitor.Alive());

  daemon_->Kill9();
  ::kill(build.pid, SIGKILL);  // the CLI we spawned, by pid
  Finish(build);
  EXPECT_TRUE(sandbox.init.Alive()) << "the step died with slipwayd: it runs under its monitor";
  auto restarted = daemon_->Restart();
  ASSERT_TRUE(restarted) << restarted.message();

  EXPECT_FALSE(sandbox.monitor.Alive()) << "the step's monitor still runs";
  EXPECT_FALSE(sandbox.init.Alive()) << "the step's sandbox still runs";
  EXPECT_EQ(daemon_->Api().Get("/api/v1/containers/" + step).status, 404) << "the step was not removed";
  json ran = daemon_->WaitFor(waiting);
  EXPECT_EQ(ran.value("exit_code", -1), 0) << ran.dump();
  EXPECT_EQ(Logs(*daemon_, waiting), "ran-after-the-step\n");
  EXPECT_FALSE(Contains(daemon_->Cli({"images"}).out, "slow")) << "an interrupted build tags nothing";
  daemon_->RemoveAll();
  EXPECT_EQ(daemon_->LeftoversAfter(), "");
}

TEST_F(CrashTest, SigtermDrainsRunningSandboxesAndKeepsTheQueue) {
  StartDaemon({"--shutdown-timeout", "5s", "--max-running", "1"});
  std::string running = StartSandbox({"sh", "-c", "sleep 1.5; echo drained"});
  std::string queued = StartSandbox({"echo", "ran-after-restart"});
  daemon_->WaitForState(running, "running");
  ASSERT_EQ(daemon_->Inspect(queued).value("state", ""), "queued");

  auto sent = Clock::now();
  daemon_->Signal(SIGTERM);
  // Draining: not healthy, and nothing new is accepted.
  EXPECT_TRUE(WaitUntil([&] { return daemon_->Api().Get("/healthz").status == 503; }, milliseconds(1000)))
      << "GET /healthz did not turn 503 while draining";
  HttpReply create = daemon_->Api().Post("/api/v1/containers", {{"image", "busybox"}, {"command", {"true"}}});
  EXPECT_TRUE(IsApiError(create, 503, "unavailable")) << "create while draining";

  int code = daemon_->WaitForExit(seconds(20));
  auto took = Clock::now() - sent;
  EXPECT_EQ(code, 0) << daemon_->Log();
  EXPECT_LT(took, seconds(5)) << "slipwayd waited for more than its sandbox";
  EXPECT_GE(took, milliseconds(500)) << "slipwayd did not wait for its sandbox";
  // The queued container was not started on the way out.
  std::error_code ec;
  int sandboxes = 0;
  for (auto it = fs::directory_iterator(daemon_->state_dir() + "/sandboxes", ec);
       it != fs::directory_iterator(); ++it) {
    ++sandboxes;
  }
  EXPECT_EQ(sandboxes, 1);

  ASSERT_TRUE(daemon_->Restart());
  json ended = daemon_->Inspect(running);
  EXPECT_EQ(ended.value("state", ""), "exited") << ended.dump();
  EXPECT_EQ(ended["exit_code"], 0) << ended.dump();
  EXPECT_EQ(Logs(*daemon_, running), "drained\n");
  json later = daemon_->WaitFor(queued);
  EXPECT_EQ(later.value("state", ""), "exited") << later.dump();
  EXPECT_EQ(later["exit_code"], 0) << later.dump();
  EXPECT_EQ(Logs(*daemon_, queued), "ran-after-restart\n");
  daemon_->RemoveAll();
  EXPECT_EQ(daemon_->LeftoversAfter(), "");
}

TEST_F(CrashTest, SigtermLeavesWhatOutlastsTheShutdownTimeoutToTheNextDaemon) {
  StartDaemon({"--shutdown-timeout", "1s"});
  std::string id = StartSandbox({"sh", "-c", "sleep 30"});
  daemon_->WaitForState(id, "running");
  SandboxRecord s = FindSandbox(*daemon_, id);

  auto sent = Clock::now();
  EXPECT_EQ(daemon_->Terminate(seconds(20)), 0) << daemon_->Log();
  EXPECT_LT(Clock::now() - sent, seconds(4));
  EXPECT_TRUE(s.monitor.Alive()) << "the sandbox should outlive slipwayd";
  EXPECT_TRUE(s.init.Alive());

  ASSERT_TRUE(daemon_->Restart());
  json c = daemon_->Inspect(id);
  EXPECT_EQ(c.value("state", ""), "running") << c.dump();
  EXPECT_EQ(c.value("pid", 0), s.init.pid);
  HttpReply kill = daemon_->Api().Post("/api/v1/containers/" + id + "/kill?signal=KILL");
  EXPECT_EQ(kill.status, 204) << kill;
  EXPECT_EQ(daemon_->WaitFor(id).value("exit_code", -1), 137);
  daemon_->RemoveAll();
  EXPECT_EQ(daemon_->LeftoversAfter(), "");
  EXPECT_FALSE(s.monitor.Alive());
}

}  // namespace
}  // namespace slipway::testing
