// The sandbox pool: pooled monitors with prepared sandboxes (Runtime::Prepare)
// serve a spec exactly as a freshly spawned monitor would (output, exit code,
// limits, a fresh root each time), the pool refills, and whatever way a
// prepared sandbox ends unused (the pool closed, its monitor killed), nothing
// of it is left.
#include "engine/runtime/monitor_pool.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "engine/base/fs.h"
#include "engine/runtime/log.h"
#include "engine/runtime/monitor.h"
#include "tests/engine/runtime/sandbox_test_util.h"
#include "tests/testing/monitor_test_main.h"

namespace slipway::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kEndTimeout = seconds(20);
constexpr milliseconds kFillTimeout = seconds(30);

class MonitorPoolTest : public SandboxTest {
 protected:
  void SetUp() override {
    SandboxTest::SetUp();
    before_ = Take();
    client_ = std::make_unique<MonitorClient>(*runtime_, g_monitor);
  }

  void TearDown() override {
    if (client_) client_->StopPool(seconds(10));
    client_.reset();
    if (auto all = MonitorClient(*runtime_, g_monitor).Survey(); all.ok()) {
      for (const auto& s : *all) {
        if (s.phase == SandboxPhase::kRunning) ::kill(s.monitor.pid, SIGKILL);
      }
    }
    WaitUntil([&] { return PooledIds().empty() || runtime_->CollectGarbage().ok(); });
    SandboxTest::TearDown();
  }

  // The prepared sandboxes waiting in the state directory.
  std::set<std::string> PooledIds() const {
    std::set<std::string> ids;
    auto all = client_ ? client_->Survey() : MonitorClient(*runtime_, g_monitor).Survey();
    if (!all.ok()) return ids;
    for (const auto& s : *all) {
      if (s.pooled) ids.insert(s.id);
    }
    return ids;
  }

  void FillPool(int size) {
    ASSERT_TRUE(client_->StartPool(size).ok());
    ASSERT_NE(client_->pool(), nullptr);
    ASSERT_TRUE(client_->pool()->AwaitFull(kFillTimeout)) << client_->pool()->last_error().ToString();
  }

  StartedSandbox MustStart(const SandboxSpec& spec) {
    auto started = client_->Start(spec);
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    return started.ok() ? std::move(*started) : StartedSandbox{};
  }

  SandboxStatus MustEnd(const std::string& id) {
    auto status = client_->Wait(id, kEndTimeout);
    EXPECT_TRUE(status.ok()) << status.status().ToString();
    return status.ok() ? *status : SandboxStatus{};
  }

  std::string Output(const std::string& id) const { return SandboxLog(*runtime_, id); }

  // memory.limit_in_bytes (v1, hybrid) or memory.max (v2) of sandbox `id`.
  std::string MemoryLimit(const std::string& id) const {
    for (const std::string& dir : runtime_->cgroups().PathsFor(id)) {
      for (const char* file : {"/memory.limit_in_bytes", "/memory.max"}) {
        if (PathExists(dir + file)) return ReadFileOrEmpty(dir + file);
      }
    }
    return "no memory cgroup";
  }

  Snapshot before_;
  std::unique_ptr<MonitorClient> client_;
};

// The pooled sandbox gets the spec: its output, exit code and limits, and the
// id it was prepared under (so the start really was a warm one).
TEST_F(MonitorPoolTest, APooledStartIsTheSpecsOwnSandbox) {
  FillPool(1);
  std::set<std::string> pooled = PooledIds();
  ASSERT_EQ(pooled.size(), 1u);

  SandboxSpec spec = Spec({"sh", "-c", "echo hi $(hostname); echo err >&2; sleep 30"});
  spec.hostname = "warm";
  spec.limits.memory_bytes = 48 << 20;
  spec.limits.pids_max = 33;
  StartedSandbox sb = MustStart(spec);
  EXPECT_EQ(sb.id, *pooled.begin());
  EXPECT_EQ(MemoryLimit(sb.id), std::to_string(48 << 20) + "\n");
  bool found_pids = false;
  for (const std::string& dir : runtime_->cgroups().PathsFor(sb.id)) {
    if (PathExists(dir + "/pids.max")) {
      EXPECT_EQ(ReadFileOrEmpty(dir + "/pids.max"), "33\n") << dir;
      found_pids = true;
    }
  }
  EXPECT_TRUE(found_pids);
  auto state = runtime_->state_dir().ReadState(sb.id);
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(state->pooled);
  EXPECT_EQ(state->init.pid, sb.init_pid);
  // Both lines out before the stop, which would otherwise cut them short.
  EXPECT_TRUE(WaitUntil([&] {
    return ReadFileOrEmpty(runtime_->state_dir().LogFile(sb.id)).find("err") != std::string::npos;
  }));
  ASSERT_TRUE(client_->Stop(sb.id).ok());
  SandboxStatus s = MustEnd(sb.id);
  ASSERT_TRUE(s.result.has_value());
  EXPECT_TRUE(s.result->cancelled);
  EXPECT_EQ(Output(sb.id), "hi warm\nerr\n");

  StartedSandbox again = MustStart(Spec({"sh", "-c", "echo bye; exit 7"}));
  SandboxStatus s2 = MustEnd(again.id);
  ASSERT_TRUE(s2.result.has_value());
  EXPECT_EQ(s2.result->exit_code, 7);
  EXPECT_EQ(Output(again.id), "bye\n");
  EXPECT_EQ(MemoryLimit(again.id), "no memory cgroup");  // removed at its end
}

// One use each: a file written to the root or /tmp by one run is not there in
// the next, and each prepared sandbox serves a single spec.
TEST_F(MonitorPoolTest, EachUseHasAFreshRoot) {
  FillPool(1);
  std::set<std::string> used;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client_->pool()->AwaitFull(kFillTimeout));
    std::set<std::string> pooled = PooledIds();
    StartedSandbox sb =
        MustStart(Spec({"sh", "-c",
                        "for f in /marker /tmp/marker /etc/marker; do test -e $f && echo found $f; done; "
                        "echo x > /marker; echo x > /tmp/marker; echo x > /etc/marker; echo done"}));
    EXPECT_TRUE(pooled.count(sb.id)) << "run " << i << " was not pooled";
    EXPECT_TRUE(used.insert(sb.id).second) << "a prepared sandbox served twice";
    SandboxStatus s = MustEnd(sb.id);
    ASSERT_TRUE(s.result.has_value());
    EXPECT_EQ(s.result->exit_code, 0);
    EXPECT_EQ(Output(sb.id), "done\n") << "run " << i;
    ASSERT_TRUE(runtime_->Remove(sb.id, false).ok());
  }
}

TEST_F(MonitorPoolTest, ThePoolRefillsInTheBackground) {
  FillPool(2);
  std::set<std::string> first = PooledIds();
  ASSERT_EQ(first.size(), 2u);
  StartedSandbox a = MustStart(Spec({"true"}));
  StartedSandbox b = MustStart(Spec({"true"}));
  EXPECT_TRUE(first.count(a.id));
  EXPECT_TRUE(first.count(b.id));
  ASSERT_TRUE(client_->pool()->AwaitFull(kFillTimeout));
  std::set<std::string> second = PooledIds();
  EXPECT_EQ(second.size(), 2u);
  for (const std::string& id : second) EXPECT_FALSE(first.count(id)) << id;
  MustEnd(a.id);
  MustEnd(b.id);
}

// A persistent upper directory (an image build's RUN step) through the pool:
// the step's changes land in it, as without a pool.
TEST_F(MonitorPoolTest, UpperDirThroughThePool) {
  FillPool(1);
  std::set<std::string> pooled = PooledIds();
  std::string upper = MakeTempDir("slipway-upper");
  SandboxSpec spec = Spec({"sh", "-c", "echo hi > /new && rm /bin/ls"});
  spec.upper_dir = upper;
  StartedSandbox sb = MustStart(spec);
  EXPECT_TRUE(pooled.count(sb.id));
  SandboxStatus s = MustEnd(sb.id);
  ASSERT_TRUE(s.result.has_value());
  EXPECT_EQ(s.result->exit_code, 0) << Output(sb.id);
  ASSERT_TRUE(runtime_->Remove(sb.id, false).ok());
  EXPECT_EQ(ListDir(upper), std::vector<std::string>{"upper"});
  EXPECT_EQ(ReadFileOrEmpty(upper + "/upper/new"), "hi\n");
  struct stat st;
  ASSERT_EQ(::lstat((upper + "/upper/bin/ls").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == 0) << "a whiteout";
  ASSERT_TRUE(RemoveTree(upper).ok());
}

// A spec a prepared sandbox cannot serve (the host's network) is started the
// usual way; the pool keeps its sandbox.
TEST_F(MonitorPoolTest, HostNetworkBypassesThePool) {
  FillPool(1);
  std::set<std::string> pooled = PooledIds();
  SandboxSpec spec = Spec({"true"});
  spec.network = NetworkMode::kHost;
  StartedSandbox sb = MustStart(spec);
  EXPECT_FALSE(pooled.count(sb.id));
  EXPECT_EQ(PooledIds(), pooled);
  MustEnd(sb.id);
}

// A bad spec is refused with the error an unpooled start gives, and what
// the prepared sandbox had is gone with it.
TEST_F(MonitorPoolTest, ABadSpecGetsTheUsualError) {
  SandboxSpec spec = Spec({"true"});
  spec.binds = {{"/nonexistent/source", "/x", false}};
  auto cold = client_->Start(spec);
  ASSERT_FALSE(cold.ok());
  FillPool(1);
  std::set<std::string> pooled = PooledIds();
  auto warm = client_->Start(spec);
  ASSERT_FALSE(warm.ok());
  EXPECT_EQ(warm.status().code(), cold.status().code());
  EXPECT_EQ(warm.status().message(), cold.status().message());
  EXPECT_TRUE(WaitUntil([&] {
    return !PathExists(runtime_->state_dir().SandboxDir(*pooled.begin())) &&
           runtime_->cgroups().PathsFor(*pooled.begin()).size() > 0 &&
           !PathExists(runtime_->cgroups().PathsFor(*pooled.begin())[0]);
  }));
}

TEST_F(MonitorPoolTest, SizeZeroMeansNoPool) {
  ASSERT_TRUE(client_->StartPool(0).ok());
  EXPECT_EQ(client_->pool(), nullptr);
  StartedSandbox sb = MustStart(Spec({"sh", "-c", "exit 4"}));
  SandboxStatus s = MustEnd(sb.id);
  ASSERT_TRUE(s.result.has_value());
  EXPECT_EQ(s.result->exit_code, 4);
  EXPECT_TRUE(PooledIds().empty());
  ASSERT_TRUE(runtime_->Remove(sb.id, false).ok());
  EXPECT_EQ(Take(), before_);
}

// Closing the pool: its monitors remove their sandboxes (cgroups, state) and
// exit, and the pool's wait covers that.
TEST_F(MonitorPoolTest, ClosingThePoolLeavesNothing) {
  FillPool(2);
  auto all = client_->Survey();
  ASSERT_TRUE(all.ok());
  std::vector<ProcessRef> monitors;
  for (const auto& s : *all) monitors.push_back(s.monitor);
  ASSERT_EQ(monitors.size(), 2u);
  client_->StopPool(seconds(10));
  for (const ProcessRef& m : monitors) EXPECT_FALSE(m.Alive()) << m.pid;
  EXPECT_EQ(Take(), before_);
  // From now on starts spawn monitors.
  StartedSandbox sb = MustStart(Spec({"true"}));
  MustEnd(sb.id);
  ASSERT_TRUE(runtime_->Remove(sb.id, false).ok());
  EXPECT_EQ(Take(), before_);
}

// The process holding the pool dies (a SIGKILLed slipwayd): the monitors find
// their sockets closed and clean up. Here the pool's client is dropped
// without waiting, which closes the sockets the same way.
TEST_F(MonitorPoolTest, ADroppedPoolsMonitorsCleanUpOnTheirOwn) {
  FillPool(2);
  client_.reset();
  EXPECT_TRUE(WaitUntil([&] { return Take() == before_; })) << "pooled sandboxes left behind";
}

// A SIGKILLed pooled monitor: its waiting init dies with it (parent-death
// signal); the pool does not hand it out, and CollectGarbage() removes its
// cgroups and directory.
TEST_F(MonitorPoolTest, AKilledPooledMonitorIsCollected) {
  FillPool(1);
  auto all = client_->Survey();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  SandboxStatus pooled = all->front();
  ASSERT_EQ(::kill(pooled.monitor.pid, SIGKILL), 0);
  ASSERT_TRUE(WaitUntil([&] { return !pooled.monitor.Alive(); }));
  auto init = runtime_->state_dir().ReadState(pooled.id);
  ASSERT_TRUE(init.ok());
  EXPECT_TRUE(WaitUntil([&] { return !init->init.Alive(); }));
  // Handed to nobody: the start is cold (or from a refill), and works.
  StartedSandbox sb = MustStart(Spec({"true"}));
  EXPECT_NE(sb.id, pooled.id);
  MustEnd(sb.id);
  ASSERT_TRUE(runtime_->Remove(sb.id, false).ok());
  client_->StopPool(seconds(10));
  ASSERT_TRUE(runtime_->CollectGarbage().ok());
  EXPECT_EQ(Take(), before_);
}

// Prepared in this process (the runtime's own API), on the hybrid path and
// on the pure v2 path (born in its cgroup with CLONE_INTO_CGROUP).
TEST_F(MonitorPoolTest, PrepareThenStartInProcessOnEveryCloneMode) {
  for (bool into_cgroup : {false, true}) {
    auto rt = Runtime::Open({state_dir_, cgroup_parent_, into_cgroup});
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    auto prepared = (*rt)->Prepare();
    ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
    std::string id = (*prepared)->id();
    SandboxSpec spec = Spec({"sh", "-c", "echo in-$(hostname); cat /etc/hostname"});
    spec.limits.memory_bytes = 40 << 20;
    auto sb = (*rt)->Start(spec, std::move(*prepared));
    ASSERT_TRUE(sb.ok()) << sb.status().ToString();
    EXPECT_EQ((*sb)->id(), id);
    EXPECT_EQ(MemoryLimit(id), std::to_string(40 << 20) + "\n");
    CollectingSink sink;
    auto result = (*sb)->Wait(&sink);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->exit_code, 0);
    EXPECT_EQ(sink.out, "in-" + id.substr(0, 12) + "\n" + id.substr(0, 12) + "\n") << into_cgroup;
    ASSERT_TRUE((*sb)->Remove().ok());
    // Dropped unused: nothing left.
    auto unused = (*rt)->Prepare();
    ASSERT_TRUE(unused.ok()) << unused.status().ToString();
    unused->reset();
    EXPECT_EQ(Take(), before_) << into_cgroup;
  }
}

// A prepared init is forked and allocates: only a single-threaded process
// may prepare one.
TEST_F(MonitorPoolTest, PrepareRefusesAThreadedProcess) {
  std::mutex mu;
  mu.lock();
  std::thread other([&] { std::lock_guard hold(mu); });
  auto prepared = runtime_->Prepare();
  mu.unlock();
  other.join();
  ASSERT_FALSE(prepared.ok());
  EXPECT_EQ(prepared.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Take(), before_);
}

}  // namespace
}  // namespace slipway::testing
