// slipwayd's sandbox pool (sandbox_pool_size): containers started through a
// real slipwayd take prepared sandboxes and behave exactly as without them
// (result, exit code, logs, their own limits, a fresh root each run); the
// pool refills; size 0 runs without one; and nothing of the pool is left
// after a shutdown, nor after a kill -9 of slipwayd and a restart.
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/runtime/state.h"
#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// What the runtime recorded about sandbox `sandbox_id` (its monitor is the
// owner), read with the runtime's own StateDir; empty if nothing is.
SandboxState StateOf(const DaemonUnderTest& daemon, const std::string& sandbox_id) {
  auto state = StateDir(daemon.state_dir()).ReadState(sandbox_id);
  return state.ok() ? *state : SandboxState{};
}

// The sandbox of container `id` (named after it); "" if none.
std::string SandboxOf(const DaemonUnderTest& daemon, const std::string& id) {
  auto sandbox = StateDir(daemon.state_dir()).Resolve(id);
  return sandbox.ok() ? *sandbox : "";
}

std::string Logs(const DaemonUnderTest& daemon, const std::string& id, std::string* err) {
  HttpReply r = daemon.Api().Get("/api/v1/containers/" + id + "/logs");
  std::string out;
  if (r.status != 200 || !DecodeFrames(r.body, &out, err)) ADD_FAILURE() << "logs of " << id << ": " << r;
  return out;
}

class SandboxPoolTest : public ::testing::Test {
 protected:
  void StartDaemon(std::vector<std::string> args = {}) {
    daemon_ = std::make_unique<DaemonUnderTest>(std::move(args));
    auto started = daemon_->Start();
    ASSERT_TRUE(started) << started.message();
    ASSERT_FALSE(daemon_->ImportBusybox("busybox").empty());
  }

  // Waits until the pool holds `size` prepared sandboxes; their ids.
  // The pooled sandboxes once the pool is full: recorded as pooled in the
  // state dir, and ready in slipwayd's pool (/info), which comes later (a
  // start in between would not find them ready).
  std::set<std::string> FullPool(size_t size = 2) {
    std::set<std::string> pool;
    int ready = -1;
    EXPECT_TRUE(WaitUntil(
        [&] {
          ready = daemon_->Api().Get("/api/v1/info").Json().value("sandbox_pool", json::object()).value("ready", -1);
          pool = daemon_->PooledSandboxes();
          return ready == static_cast<int>(size) && pool.size() == size;
        },
        seconds(30)))
        << "pool holds " << pool.size() << ", " << ready << " ready\n"
        << daemon_->Log();
    return pool;
  }

  // The pooled monitors now, as recorded.
  std::vector<ProcessRef> PooledMonitors() const {
    std::vector<ProcessRef> out;
    for (const std::string& id : daemon_->PooledSandboxes())
      out.push_back(StateOf(*daemon_, id).owner);
    return out;
  }

  std::unique_ptr<DaemonUnderTest> daemon_;
};

// The default pool: `slipway run --rm` gets its exit code, stdout and stderr
// as ever, from a prepared sandbox.
TEST_F(SandboxPoolTest, ARunThroughThePoolIsUnchanged) {
  StartDaemon();
  FullPool();
  Outcome o = daemon_->Cli({"run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(o.code, 3) << o;
  EXPECT_EQ(o.out, "out\n") << o;
  EXPECT_EQ(o.err, "err\n") << o;

  std::set<std::string> pool = FullPool();
  std::string id = daemon_->CreateAndStart(
      {{"image", "busybox"}, {"command", {"sh", "-c", "echo hello; sleep 30"}}, {"memory_bytes", 50 << 20}});
  ASSERT_EQ(daemon_->WaitForState(id, "running").value("state", ""), "running");
  std::string sandbox = SandboxOf(*daemon_, id);
  EXPECT_TRUE(pool.count(sandbox)) << "not started from the pool: " << sandbox;
  std::string limit;
  for (const std::string& cg : CgroupTree(daemon_->cgroup_parent())) {
    if (fs::path(cg).filename() != sandbox) continue;
    for (const char* file : {"/memory.limit_in_bytes", "/memory.max"}) {
      if (fs::exists(cg + file)) limit = ReadFileOrEmpty(cg + file);
    }
  }
  EXPECT_EQ(limit, std::to_string(50 << 20) + "\n");
  EXPECT_EQ(daemon_->Inspect(id).value("pid", 0), StateOf(*daemon_, sandbox).init.pid);
  HttpReply stop = daemon_->Api().Post("/api/v1/containers/" + id + "/stop?timeout=1");
  EXPECT_EQ(stop.status, 200) << stop;
  std::string err;
  EXPECT_EQ(Logs(*daemon_, id, &err), "hello\n");
  daemon_->RemoveAll();
  EXPECT_EQ(daemon_->LeftoversAfter(), "");
}

// A file one run writes to its root is not there in the next run, and the
// pool refills after each.
TEST_F(SandboxPoolTest, EachRunHasAFreshRootAndThePoolRefills) {
  StartDaemon({"--sandbox-pool-size", "1"});
  std::set<std::string> used;
  for (int i = 0; i < 3; ++i) {
    std::set<std::string> pool = FullPool(1);
    std::string id =
        daemon_->CreateAndStart({{"image", "busybox"},
                                 {"command",
                                  {"sh", "-c",
                                   "test -e /marker && echo stale; test -e /tmp/m && echo stale-tmp; "
                                   "echo x > /marker; echo x > /tmp/m; echo fresh"}}});
    json end = daemon_->WaitFor(id);
    EXPECT_EQ(end.value("exit_code", -1), 0) << end.dump();
    std::string err;
    EXPECT_EQ(Logs(*daemon_, id, &err), "fresh\n") << "run " << i;
    EXPECT_TRUE(pool.count(SandboxOf(*daemon_, id))) << "run " << i << " was not pooled";
    EXPECT_TRUE(used.insert(SandboxOf(*daemon_, id)).second);
  }
  daemon_->RemoveAll();
  EXPECT_EQ(daemon_->LeftoversAfter(), "");
}

// A device node the sandbox may make (CAP_MKNOD, as Docker) but not open
// (the cgroup's device rules): a loop device, b 7:0, which needs no
// capability to open (allowed, it opens or says ENXIO). A prepared
// sandbox's cgroup is restricted before its spec comes; a cold one's as it
// is made.
const char kDeviceCheck[] =
    "mknod /dev/k b 7 0 && { head -c1 /dev/k >/dev/null 2>/tmp/e; "
    "grep -q 'not permitted' /tmp/e && echo denied || echo opened; }; "
    "echo x >/dev/null && echo null-ok";

TEST_F(SandboxPoolTest, APooledSandboxKeepsDevicesRestricted) {
  StartDaemon({"--sandbox-pool-size", "1"});
  std::set<std::string> pool = FullPool(1);
  std::string id = daemon_->CreateAndStart({{"image", "busybox"}, {"command", {"sh", "-c", kDeviceCheck}}});
  json end = daemon_->WaitFor(id);
  EXPECT_EQ(end.value("exit_code", -1), 0) << end.dump();
  std::string err;
  EXPECT_EQ(Logs(*daemon_, id, &err), "denied\nnull-ok\n") << err;
  EXPECT_TRUE(pool.count(SandboxOf(*daemon_, id))) << "not started from the pool";
  daemon_->RemoveAll();
  EXPECT_EQ(daemon_->LeftoversAfter(), "");
}

TEST_F(SandboxPoolTest, SizeZeroRunsWithoutAPool) {
  StartDaemon({"--sandbox-pool-size", "0"});
  Outcome o = daemon_->Cli({"run", "--rm", "busybox", "sh", "-c", "echo cold; exit 5"});
  EXPECT_EQ(o.code, 5) << o;
  EXPECT_EQ(o.out, "cold\n") << o;
  Outcome devices = daemon_->Cli({"run", "--rm", "busybox", "sh", "-c", kDeviceCheck});
  EXPECT_EQ(devices.out, "denied\nnull-ok\n") << devices;
  EXPECT_TRUE(daemon_->PooledSandboxes().empty());
  EXPECT_EQ(daemon_->Api().Get("/api/v1/info").Json().value("sandbox_pool", json::object()),
            json({{"size", 0}, {"ready", 0}}));
  EXPECT_EQ(daemon_->LeftoversAfter(), "");  // nothing, not even a pool
}

// SIGTERM: the pool's monitors remove their sandboxes before slipwayd exits.
TEST_F(SandboxPoolTest, ShutdownLeavesNothingOfThePool) {
  StartDaemon({"--sandbox-pool-size", "3"});
  FullPool(3);
  std::vector<ProcessRef> monitors = PooledMonitors();
  ASSERT_EQ(monitors.size(), 3u);
  EXPECT_EQ(daemon_->Terminate(), 0);
  for (const ProcessRef& m : monitors)
    EXPECT_FALSE(m.Alive()) << "pooled monitor " << m.pid << " outlived slipwayd";
  EXPECT_EQ(daemon_->Leftovers(), "");
}

// kill -9 of slipwayd: its pooled monitors see their sockets close and remove
// their sandboxes; one killed with it leaves a lost prepared sandbox, which
// the next slipwayd removes. The new one has a pool of its own.
TEST_F(SandboxPoolTest, KillNineThenRestartLeavesNothingOfTheOldPool) {
  StartDaemon({"--sandbox-pool-size", "2"});
  std::set<std::string> old_pool = FullPool(2);
  std::vector<ProcessRef> monitors = PooledMonitors();
  ASSERT_EQ(monitors.size(), 2u);
  // One of them dies with slipwayd: its prepared sandbox is left for the
  // next slipwayd (its init dies by its parent-death signal).
  std::string killed = *old_pool.begin();
  ProcessRef killed_monitor = StateOf(*daemon_, killed).owner;
  ProcessRef killed_init = StateOf(*daemon_, killed).init;
  // Stopped first: once slipwayd is gone it would otherwise see its socket
  // close and clean up (and be reaped) before the SIGKILL reaches it.
  ASSERT_EQ(::kill(killed_monitor.pid, SIGSTOP), 0);
  daemon_->Kill9();
  ASSERT_EQ(::kill(killed_monitor.pid, SIGKILL), 0);
  for (const ProcessRef& m : monitors) {
    EXPECT_TRUE(WaitUntil([&] { return !m.Alive(); }, seconds(15)))
        << "pooled monitor " << m.pid << " runs on";
  }
  EXPECT_TRUE(WaitUntil([&] { return !killed_init.Alive(); }, seconds(5)));
  std::string other = *std::next(old_pool.begin());
  EXPECT_TRUE(
      WaitUntil([&] { return !fs::exists(daemon_->state_dir() + "/sandboxes/" + other); }, seconds(10)))
      << "the pooled monitor that saw slipwayd go did not remove its sandbox";
  EXPECT_TRUE(fs::exists(daemon_->state_dir() + "/sandboxes/" + killed));

  auto restarted = daemon_->Restart();
  ASSERT_TRUE(restarted) << restarted.message();
  std::set<std::string> new_pool = FullPool(2);
  for (const std::string& id : old_pool) EXPECT_FALSE(new_pool.count(id));
  EXPECT_FALSE(fs::exists(daemon_->state_dir() + "/sandboxes/" + killed))
      << "the lost prepared sandbox is left";
  for (const std::string& cg : CgroupTree(daemon_->cgroup_parent())) {
    for (const std::string& id : old_pool)
      EXPECT_FALSE(Contains(cg, id)) << "an old pool's cgroup is left: " << cg;
  }
  EXPECT_EQ(daemon_->Leftovers(), "");  // the new pool aside
  Outcome o = daemon_->Cli({"run", "--rm", "busybox", "sh", "-c", "echo after; exit 2"});
  EXPECT_EQ(o.code, 2) << o;
  EXPECT_EQ(o.out, "after\n") << o;
  std::vector<ProcessRef> new_monitors = PooledMonitors();
  EXPECT_EQ(daemon_->Terminate(), 0);
  for (const ProcessRef& m : new_monitors) EXPECT_FALSE(m.Alive()) << m.pid;
  EXPECT_EQ(daemon_->Leftovers(), "");
}

}  // namespace
}  // namespace slipway::testing
