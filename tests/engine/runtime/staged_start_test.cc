// Staged sandboxes: Runtime::Stage and MonitorClient::Stage make a sandbox up
// to its command's exec, and Release() lets the command run. Until then
// nothing of the command runs and its timeout has not begun; dropped, a
// staged sandbox leaves nothing; a staged init that died makes Release()
// fail with kUnavailable and nothing left.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <functional>
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

class StagedStartTest : public SandboxTest {
 protected:
  void SetUp() override {
    SandboxTest::SetUp();
    before_ = Take();
    shared_ = MakeTempDir("slipway-staged");
    client_ = std::make_unique<MonitorClient>(*runtime_, g_monitor);
  }

  void TearDown() override {
    if (client_) client_->StopPool(seconds(10));
    client_.reset();
    (void)RemoveTree(shared_);
    SandboxTest::TearDown();
  }

  // A command that leaves a mark in a directory the test sees, then prints.
  SandboxSpec Marking(const std::string& then) const {
    SandboxSpec spec = Spec({"sh", "-c", "echo ran > /shared/mark; " + then});
    spec.binds = {{shared_, "/shared", false}};
    return spec;
  }
  bool Marked() const { return PathExists(shared_ + "/mark"); }

  std::string Output(const std::string& id) const { return SandboxLog(*runtime_, id); }

  SandboxStatus MustEnd(const std::string& id) {
    auto status = client_->Wait(id, kEndTimeout);
    EXPECT_TRUE(status.ok()) << status.status().ToString();
    return status.ok() ? *status : SandboxStatus{};
  }

  Snapshot before_;
  std::string shared_;
  std::unique_ptr<MonitorClient> client_;
};

// Under a monitor: staged, the sandbox exists (its init waits, its name and
// cgroups are taken) but the command has not run; released, it runs once,
// with its output and exit code recorded as for any start. Its timeout
// starts at the release: a staged wait longer than the timeout does not
// count against it.
TEST_F(StagedStartTest, NothingRunsUntilReleaseAndTheTimeoutStartsThen) {
  SandboxSpec spec = Marking("sleep 0.3; echo out; exit 3");
  spec.name = "staged-one";
  spec.timeout = seconds(1);
  auto staged = client_->Stage(spec);
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  const std::string id = staged->sandbox.id;
  auto status = client_->SurveyOne(id);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->phase, SandboxPhase::kRunning);
  EXPECT_EQ(status->name, "staged-one");
  auto state = runtime_->state_dir().ReadState(id);
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->init.Alive());
  EXPECT_EQ(state->init.pid, staged->sandbox.init_pid);

  std::this_thread::sleep_for(milliseconds(1500));  // longer than the timeout
  EXPECT_FALSE(Marked()) << "the command ran before its release";

  auto started = client_->Release(std::move(*staged));
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(started->id, id);
  // The staged sandbox's channel is its end fd now.
  ASSERT_TRUE(started->end);
  auto ended = client_->Wait(id, kEndTimeout, started->end.get());
  ASSERT_TRUE(ended.ok()) << ended.status().ToString();
  EXPECT_EQ(ended->phase, SandboxPhase::kEnded);
  SandboxStatus s = MustEnd(id);
  ASSERT_TRUE(s.result.has_value());
  EXPECT_FALSE(s.result->timed_out) << "the staged wait counted against the timeout";
  EXPECT_EQ(s.result->exit_code, 3);
  EXPECT_TRUE(Marked());
  EXPECT_EQ(Output(id), "out\n");
  ASSERT_TRUE(runtime_->Remove(id, false).ok());
  EXPECT_EQ(Take(), before_);
}

// From the pool, a staged sandbox is one the pool prepared; without a pool a
// monitor is launched for it. Both serve the same spec the same way.
TEST_F(StagedStartTest, FromThePoolOrFromANewMonitor) {
  ASSERT_TRUE(client_->StartPool(1).ok());
  ASSERT_TRUE(client_->pool()->AwaitFull(seconds(30))) << client_->pool()->last_error().ToString();
  std::string pooled_id;
  auto all = client_->Survey();
  ASSERT_TRUE(all.ok());
  for (const auto& s : *all) {
    if (s.pooled) pooled_id = s.id;
  }
  ASSERT_FALSE(pooled_id.empty());
  auto from_pool = client_->Stage(Spec({"sh", "-c", "echo one"}));
  ASSERT_TRUE(from_pool.ok()) << from_pool.status().ToString();
  EXPECT_EQ(from_pool->sandbox.id, pooled_id);
  client_->StopPool(seconds(10));
  auto launched = client_->Stage(Spec({"sh", "-c", "echo two"}));
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  EXPECT_NE(launched->sandbox.id, pooled_id);

  for (auto* staged : {&*from_pool, &*launched}) {
    const std::string id = staged->sandbox.id;
    auto started = client_->Release(std::move(*staged));
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    SandboxStatus s = MustEnd(id);
    ASSERT_TRUE(s.result.has_value());
    EXPECT_EQ(s.result->exit_code, 0);
    ASSERT_TRUE(runtime_->Remove(id, false).ok());
  }
  EXPECT_EQ(Take(), before_);
}

// A staged sandbox that is never released (its container removed, slipwayd
// gone): dropping the handle closes its monitor's socket, and the monitor
// removes everything without the command ever running.
TEST_F(StagedStartTest, DroppedUnreleasedItLeavesNothing) {
  SandboxSpec spec = Marking("echo out");
  spec.name = "dropped";
  auto staged = client_->Stage(spec);
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  const std::string id = staged->sandbox.id;
  EXPECT_TRUE(PathExists(runtime_->state_dir().SandboxDir(id)));
  staged->channel.reset();
  EXPECT_TRUE(WaitUntil([&] { return Take() == before_; })) << "a dropped staged sandbox left things behind";
  EXPECT_FALSE(Marked());
  // Its name is free again.
  auto again = client_->Stage(spec);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  again->channel.reset();
  EXPECT_TRUE(WaitUntil([&] { return Take() == before_; }));
}

// The staged init killed while it waits: the monitor removes the sandbox, and
// the release says the sandbox has gone.
TEST_F(StagedStartTest, AReleaseAfterTheInitDiedIsUnavailable) {
  auto staged = client_->Stage(Marking("echo out"));
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  ASSERT_EQ(::kill(staged->sandbox.init_pid, SIGKILL), 0);
  const std::string id = staged->sandbox.id;
  EXPECT_TRUE(WaitUntil([&] { return !PathExists(runtime_->state_dir().SandboxDir(id)); }));
  auto started = client_->Release(std::move(*staged));
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), Code::kUnavailable) << started.status().ToString();
  EXPECT_FALSE(Marked());
  EXPECT_TRUE(WaitUntil([&] { return Take() == before_; }));
}

// A command that cannot be executed is found at the release, as at a start:
// exit 127 and the reason in the log.
TEST_F(StagedStartTest, AnExecErrorIsReportedAsForAStart) {
  auto staged = client_->Stage(Spec({"/no/such/command"}));
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  const std::string id = staged->sandbox.id;
  auto started = client_->Release(std::move(*staged));
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  SandboxStatus s = MustEnd(id);
  ASSERT_TRUE(s.result.has_value());
  EXPECT_EQ(s.result->exit_code, 127);
  EXPECT_NE(Output(id).find("/no/such/command"), std::string::npos) << Output(id);
  ASSERT_TRUE(runtime_->Remove(id, false).ok());
}

// Only a private network can be staged (a prepared sandbox's namespace is its
// own); a bad spec gets the error a start gives, and leaves nothing.
TEST_F(StagedStartTest, WhatCannotBeStaged) {
  SandboxSpec host = Spec({"true"});
  host.network = NetworkMode::kHost;
  auto refused = client_->Stage(host);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);

  SandboxSpec bad = Spec({"true"});
  bad.binds = {{"/nonexistent/source", "/x", false}};
  auto cold = client_->Start(bad);
  ASSERT_FALSE(cold.ok());
  auto staged = client_->Stage(bad);
  ASSERT_FALSE(staged.ok());
  EXPECT_EQ(staged.status().code(), cold.status().code());
  EXPECT_EQ(staged.status().message(), cold.status().message());
  EXPECT_TRUE(WaitUntil([&] { return Take() == before_; }));
}

// In process, on the hybrid path and the pure v2 path: Stage needs a prepared
// sandbox; a staged one cannot be waited for before its release; released,
// it runs as a started one does.
TEST_F(StagedStartTest, InProcessOnEveryCloneMode) {
  for (bool into_cgroup : {false, true}) {
    auto rt = Runtime::Open({state_dir_, cgroup_parent_, into_cgroup});
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    auto unprepared = (*rt)->Stage(Spec({"true"}), nullptr);
    ASSERT_FALSE(unprepared.ok());
    EXPECT_EQ(unprepared.status().code(), Code::kFailedPrecondition);

    auto prepared = (*rt)->Prepare();
    ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
    auto sb = (*rt)->Stage(Marking("echo in-$(hostname)"), std::move(*prepared));
    ASSERT_TRUE(sb.ok()) << sb.status().ToString();
    EXPECT_TRUE((*sb)->staged());
    auto early = (*sb)->Wait(nullptr);
    ASSERT_FALSE(early.ok());
    EXPECT_EQ(early.status().code(), Code::kFailedPrecondition);
    EXPECT_FALSE(Marked());
    // Refused without being used up: released, it runs and is waited for.
    ASSERT_TRUE((*sb)->Release().ok());
    EXPECT_EQ((*sb)->Release().code(), Code::kFailedPrecondition);
    CollectingSink sink;
    auto result = (*sb)->Wait(&sink);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->exit_code, 0);
    EXPECT_EQ(sink.out, "in-" + (*sb)->id().substr(0, 12) + "\n");
    EXPECT_TRUE(Marked());
    ASSERT_TRUE((*sb)->Remove().ok());
    sb->reset();
    ASSERT_TRUE(RemoveTree(shared_ + "/mark").ok());
    EXPECT_TRUE(WaitUntil([&] { return Take() == before_; })) << into_cgroup;
  }
}

}  // namespace
}  // namespace slipway::testing
