// A run stopped before its end, through a real slipwayd:
// - cancel mid-step: the run and the step are `cancelled`, the steps after
//   it never start, the step's sandbox process is gone and nothing of the
//   run is left (container, cgroups, sandbox state, workspace); a second
//   cancel is refused.
// - kill -9 of slipwayd mid-run, then restart: the run is `interrupted` (its
//   running step too), its sandbox is stopped and removed, nothing leaks; a
//   run that was queued behind it (max_runs 1) survives the restart and runs;
//   a re-run of the interrupted one passes.
// Steps are held by a file the test writes into the workspace (HoldCommand).
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/pipelines/e2e/pipeline_fixture.h"

namespace slipway::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::string kHeldPipeline = R"(
steps:
  - name: hold
    image: busybox
    commands: ["echo holding", )" +
                                  Q(HoldCommand()) + R"(, "echo released"]
  - name: next
    image: busybox
    commands: ["echo next-ran"]
)";

class CancelCrashTest : public PipelineTest {
 protected:
  std::vector<std::string> DaemonArgs() const override { return {"--max-runs", "1"}; }
};

TEST_F(CancelCrashTest, CancelMidStepStopsEverythingOfTheRun) {
  PipelineRepo repo;
  repo.Push(kHeldPipeline);
  ASSERT_FALSE(AddRepo("held", repo.file_url()).is_null());
  int64_t id = Trigger("held");
  AwaitStep(id, "hold", "running");
  ProcessRef hold = StepProcess(id, "hold");
  ASSERT_TRUE(hold.Alive());

  HttpReply cancel = Api().Post("/api/v1/runs/" + std::to_string(id) + "/cancel");
  EXPECT_TRUE(cancel.status == 200 || cancel.status == 202) << cancel;
  json run = AwaitRun(id, seconds(30));
  EXPECT_EQ(Str(run, "status"), "cancelled") << run.dump();
  EXPECT_EQ(Str(StepOf(run, "hold"), "status"), "cancelled") << run.dump();
  std::string next = Str(StepOf(run, "next"), "status");
  EXPECT_TRUE(next == "pending" || next == "skipped" || next == "cancelled") << run.dump();
  EXPECT_TRUE(WaitUntil([&] { return !hold.Alive(); }, seconds(5)))
      << "the step's process " << hold.pid << " still runs after the cancel";
  ExpectNothingLeft(id);
  EXPECT_EQ(StepLog(id, "hold"), "holding\n");

  HttpReply again = Api().Post("/api/v1/runs/" + std::to_string(id) + "/cancel");
  EXPECT_EQ(again.status, 409) << "a run that ended cannot be cancelled: " << again;
  EXPECT_EQ(Str(GetRun(id), "status"), "cancelled");
}

TEST_F(CancelCrashTest, CancelOfAQueuedRunNeverStartsIt) {
  PipelineRepo repo;
  repo.Push(kHeldPipeline);
  ASSERT_FALSE(AddRepo("held", repo.file_url()).is_null());
  int64_t first = Trigger("held");
  AwaitStep(first, "hold", "running");
  int64_t queued = Trigger("held");
  EXPECT_EQ(Str(GetRun(queued), "status"), "queued") << "max_runs 1";
  HttpReply cancel = Api().Post("/api/v1/runs/" + std::to_string(queued) + "/cancel");
  EXPECT_TRUE(cancel.status == 200 || cancel.status == 202) << cancel;
  EXPECT_EQ(Str(AwaitRun(queued, seconds(10)), "status"), "cancelled");
  Release(first);
  EXPECT_EQ(Str(AwaitRun(first), "status"), "success");
  json run = GetRun(queued);
  EXPECT_EQ(Str(run, "status"), "cancelled") << run.dump();
  std::string started = Str(run, "started_at");
  EXPECT_TRUE(started.empty() || started == "0") << "the cancelled queued run started: " << run.dump();
  ExpectNothingLeft(first);
  ExpectNothingLeft(queued);
}

TEST_F(CancelCrashTest, KillNineMidRunThenRestartInterruptsItAndLeaksNothing) {
  PipelineRepo repo;
  repo.Push(kHeldPipeline);
  ASSERT_FALSE(AddRepo("held", repo.file_url()).is_null());
  int64_t id = Trigger("held");
  AwaitStep(id, "hold", "running");
  ProcessRef hold = StepProcess(id, "hold");
  ASSERT_TRUE(hold.Alive());
  // What was stored before the crash must survive it: wait until the step's
  // first line is in its stored log (copied there as it is written).
  ASSERT_TRUE(WaitUntil([&] { return StepLog(id, "hold") == "holding\n"; }, seconds(10)))
      << "the step's output never reached its log: \"" << StepLog(id, "hold") << "\"";
  int64_t waiting = Trigger("held");
  EXPECT_EQ(Str(GetRun(waiting), "status"), "queued") << "max_runs 1";

  daemon().Kill9();
  auto restarted = daemon().Restart();
  ASSERT_TRUE(restarted) << restarted.message();

  json run = AwaitRun(id, seconds(30));
  EXPECT_EQ(Str(run, "status"), "interrupted") << run.dump();
  EXPECT_EQ(Str(StepOf(run, "hold"), "status"), "interrupted") << run.dump();
  EXPECT_NE(Str(StepOf(run, "next"), "status"), "success") << run.dump();
  EXPECT_TRUE(WaitUntil([&] { return !hold.Alive(); }, seconds(10)))
      << "the interrupted step's process " << hold.pid << " still runs";
  EXPECT_EQ(StepLog(id, "hold"), "holding\n");

  // The queue survived: the waiting run starts once the slot is free. While
  // it runs, the interrupted run has no container left; once it ended,
  // neither left anything at all.
  AwaitStep(waiting, "hold", "running");
  std::vector<json> left;
  EXPECT_TRUE(WaitUntil([&] { return (left = ContainersOf(id)).empty(); }, seconds(10)))
      << "the interrupted run still has " << left.size() << " containers, e.g. " << left[0].dump();
  Release(waiting);
  json second = AwaitRun(waiting);
  EXPECT_EQ(Str(second, "status"), "success") << second.dump();
  ExpectNothingLeft(id);
  ExpectNothingLeft(waiting);

  HttpReply rerun = Api().Post("/api/v1/runs/" + std::to_string(id) + "/rerun");
  ASSERT_EQ(rerun.status, 201) << rerun;
  int64_t again = Int(rerun.Json(), "id", 0);
  ASSERT_GT(again, waiting) << rerun;
  EXPECT_EQ(Int(rerun.Json(), "rerun_of", 0), id) << rerun;
  AwaitStep(again, "hold", "running");
  Release(again);
  json third = AwaitRun(again);
  EXPECT_EQ(Str(third, "status"), "success") << third.dump();
  EXPECT_EQ(Str(third, "commit"), Str(run, "commit")) << "a re-run runs the same commit";
  EXPECT_EQ(StepLog(again, "next"), "next-ran\n");
  ExpectNothingLeft(again);
}

}  // namespace
}  // namespace slipway::testing
