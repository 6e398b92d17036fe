// A step's limits through a real slipwayd: `memory` is the sandbox's cgroup
// limit (a step that allocates more is OOM-killed: failure, reason oom),
// `timeout` its deadline (failure, reason timeout), and a step within its
// limits beside them is unaffected.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/pipelines/e2e/pipeline_fixture.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

class LimitsTest : public PipelineTest {};

TEST_F(LimitsTest, OomAndTimeoutAreFailuresWithTheirReason) {
  // busybox tail keeps all of a newline-free input: 64 MiB in a 16 MiB cgroup.
  PipelineRepo repo;
  repo.Push(R"(
steps:
  - name: hog
    image: busybox
    depends_on: []
    memory: 16m
    commands: ["head -c 64m /dev/zero | tail | wc -c"]
  - name: slow
    image: busybox
    depends_on: []
    timeout: 1s
    commands: ["echo slow-started", "sleep 30", "echo not-reached"]
  - name: modest
    image: busybox
    depends_on: []
    memory: 64m
    timeout: 2m
    commands: ["head -c 1m /dev/zero | tail | wc -c"]
)");
  ASSERT_FALSE(AddRepo("limits", repo.file_url()).is_null());
  int64_t id = Trigger("limits");
  json run = AwaitRun(id);
  EXPECT_EQ(Str(run, "status"), "failure") << run.dump();

  json hog = StepOf(run, "hog");
  EXPECT_EQ(Str(hog, "status"), "failure") << hog.dump();
  EXPECT_EQ(Str(hog, "reason"), "oom") << hog.dump();
  EXPECT_EQ(Int(hog["limits"], "memory_bytes"), 16 << 20) << hog.dump();
  EXPECT_FALSE(Contains(StepLog(id, "hog"), "67108864")) << "the allocation was not stopped";

  json slow = StepOf(run, "slow");
  EXPECT_EQ(Str(slow, "status"), "failure") << slow.dump();
  EXPECT_EQ(Str(slow, "reason"), "timeout") << slow.dump();
  EXPECT_EQ(Int(slow["limits"], "timeout_ms"), 1000) << slow.dump();
  // Then slipway's own line saying why it ended.
  std::string slow_log = StepLog(id, "slow");
  EXPECT_TRUE(slow_log.starts_with("slow-started\n")) << slow_log;
  EXPECT_TRUE(Contains(slow_log, "timeout")) << slow_log;
  EXPECT_FALSE(Contains(slow_log, "not-reached")) << slow_log;

  json modest = StepOf(run, "modest");
  EXPECT_EQ(Str(modest, "status"), "success") << modest.dump();
  EXPECT_EQ(Str(modest, "reason"), "") << modest.dump();
  EXPECT_EQ(StepLog(id, "modest"), "1048576\n");
  EXPECT_GT(Int(modest, "peak_memory_bytes", 0), 0) << modest.dump();
  ExpectNothingLeft(id);
}

}  // namespace
}  // namespace slipway::testing
