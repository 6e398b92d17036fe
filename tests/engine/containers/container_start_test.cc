// Starting a container whose sandbox is staged (ContainerService::Stage),
// through the real lifecycle: a pooled slipway-monitor, a real SQLite store.
// With a slot free, Start() releases it on the caller's thread, so the
// container runs when Start() returns; with none free it queues as any
// other and starts from its staged sandbox once a slot is given back.
// StartHere() does the same for any container.
#include <gtest/gtest.h>

#include <string>

#include "engine/base/fs.h"
#include "engine/runtime/state.h"
#include "tests/engine/containers/service_fixture.h"
#include "tests/engine/distribution/image_test_util.h"

namespace slipway::testing {
namespace {

class ContainerStartTest : public ContainerServiceTest {
 protected:
  ContainerStartTest() : ContainerServiceTest("starttest") {}

  std::string MustCreate(const std::string& script) {
    CreateRequest r;
    r.rootfs = BusyboxRootfs();
    r.command = {"sh", "-c", script};
    r.timeout_ms = 60000;  // a hung test fails instead of hanging
    auto c = service_->Create(r);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? c->id : "";
  }

  // Stages container `id` and waits until its sandbox, named after it, is
  // ready to be released.
  void MustStage(const std::string& id) {
    ASSERT_TRUE(service_->Stage(id).ok());
    ASSERT_TRUE(WaitUntil([&] { return service_->IsStaged(id); })) << "never staged";
    EXPECT_TRUE(StateDir(state_dir_).Resolve(id).ok()) << "no sandbox named after it";
  }

  ContainerState StateOf(const std::string& id) {
    auto c = service_->Inspect(id);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? c->state : ContainerState::kLost;
  }
};

TEST_F(ContainerStartTest, AStagedContainerRunsWhenStartReturns) {
  options_.sandbox_pool_size = 1;
  OpenService(/*run=*/true);
  const std::string id = MustCreate("echo staged; sleep 30");
  MustStage(id);
  ASSERT_TRUE(service_->Start(id).ok());
  EXPECT_EQ(StateOf(id), ContainerState::kRunning) << "started through the queue, not at once";
  ASSERT_TRUE(service_->Stop(id, std::chrono::milliseconds(0)).ok());
  Container ended = AwaitEnd(id);
  EXPECT_EQ(ended.state, ContainerState::kExited);
  ASSERT_TRUE(service_->Remove(id, /*force=*/false).ok()) << "its monitor's tear-down was not awaited";
  EXPECT_FALSE(PathExists(state_dir_ + "/sandboxes/" + ended.sandbox_id)) << "its sandbox is left";
}

TEST_F(ContainerStartTest, StartHereRunsAnUnstagedContainerOnTheCallersThread) {
  options_.sandbox_pool_size = 1;
  OpenService(/*run=*/true);
  const std::string id = MustCreate("echo here; exit 5");
  ASSERT_TRUE(service_->StartHere(id).ok());
  ContainerState state = StateOf(id);
  EXPECT_TRUE(state == ContainerState::kRunning || state == ContainerState::kExited)
      << "not started by StartHere: " << ContainerStateName(state);
  Container ended = AwaitEnd(id);
  ASSERT_TRUE(ended.result.has_value());
  EXPECT_EQ(ended.result->exit_code, 5);
}

TEST_F(ContainerStartTest, WithoutAFreeSlotAStagedContainerQueues) {
  options_.sandbox_pool_size = 1;
  options_.max_running = 2;
  OpenService(/*run=*/true);
  const std::string id = MustCreate("echo staged; exit 4");
  MustStage(id);
  std::vector<std::string> busy;
  for (int i = 0; i < options_.max_running; ++i) {
    busy.push_back(MustCreate("sleep 30"));
    ASSERT_TRUE(service_->Start(busy.back()).ok());
  }
  ASSERT_TRUE(WaitUntil([&] { return StateOf(busy.back()) == ContainerState::kRunning; }));
  ASSERT_TRUE(service_->Start(id).ok());
  EXPECT_EQ(StateOf(id), ContainerState::kQueued) << "overtook the slot limit";
  ASSERT_TRUE(service_->Stop(busy.front(), std::chrono::milliseconds(0)).ok());
  Container ended = AwaitEnd(id);
  EXPECT_EQ(ended.state, ContainerState::kExited);
  ASSERT_TRUE(ended.result.has_value());
  EXPECT_EQ(ended.result->exit_code, 4);
  for (const std::string& b : busy) (void)service_->Stop(b, std::chrono::milliseconds(0));
}

}  // namespace
}  // namespace slipway::testing
