// Steps through a real slipwayd: a passing and a failing step (and what
// follows a failure), the predefined variables, steps in parallel (proved to
// overlap: each waits for the other's file in the shared workspace), and
// `when` filters on branch and event.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/pipelines/e2e/pipeline_fixture.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

class StepsTest : public PipelineTest {};

TEST_F(StepsTest, APassingRunAndAFailingStepThenSkipsWhatFollows) {
  PipelineRepo repo;
  std::string green = repo.Push(R"(
steps:
  - name: hello
    image: busybox
    commands:
      - echo "hello from $SLIPWAY_STEP"
      - echo "CI=$CI repo=$SLIPWAY_REPO commit=$SLIPWAY_COMMIT branch=$SLIPWAY_BRANCH tag=$SLIPWAY_TAG event=$SLIPWAY_EVENT"
      - pwd
      - cat README
)",
                                {{"README", "checked-out-readme\n"}}, "green");
  std::string red = repo.Push(R"(
steps:
  - name: ok
    image: busybox
    commands: ["echo ok-ran"]
  - name: broken
    image: busybox
    commands: ["echo before-the-failure", "exit 3", "echo not-reached"]
  - name: after
    image: busybox
    commands: ["echo after-ran"]
)",
                              {}, "red");
  ASSERT_FALSE(AddRepo("app", repo.file_url()).is_null());

  int64_t pass = Trigger("app", {{"branch", "green"}});
  json run = AwaitRun(pass);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  EXPECT_EQ(Str(run, "commit"), green) << run.dump();
  EXPECT_EQ(Str(run, "branch"), "green") << run.dump();
  json hello = StepOf(run, "hello");
  EXPECT_EQ(Str(hello, "status"), "success") << hello.dump();
  EXPECT_EQ(Int(hello, "exit_code", -1), 0) << hello.dump();
  EXPECT_EQ(StepLog(pass, "hello"), "hello from hello\nCI=true repo=app commit=" + green +
                                        " branch=green tag= event=manual\n/workspace\nchecked-out-readme\n");
  ExpectNothingLeft(pass);

  int64_t fail = Trigger("app", {{"branch", "red"}});
  run = AwaitRun(fail);
  EXPECT_EQ(Str(run, "status"), "failure") << run.dump();
  EXPECT_EQ(Str(run, "commit"), red) << run.dump();
  EXPECT_EQ(Str(StepOf(run, "ok"), "status"), "success") << run.dump();
  json broken = StepOf(run, "broken");
  EXPECT_EQ(Str(broken, "status"), "failure") << broken.dump();
  EXPECT_EQ(Int(broken, "exit_code", -1), 3) << broken.dump();
  EXPECT_EQ(Str(broken, "reason"), "") << "a plain failure has no reason: " << broken.dump();
  // /bin/sh -e: nothing after the failing command.
  EXPECT_EQ(StepLog(fail, "broken"), "before-the-failure\n");
  EXPECT_EQ(Str(StepOf(run, "after"), "status"), "skipped") << run.dump();
  ExpectNothingLeft(fail);
}

TEST_F(StepsTest, IndependentStepsRunInParallel) {
  // Each of left and right writes its file, then waits (bounded) for the
  // other's: both can succeed only if they ran at the same time.
  PipelineRepo repo;
  repo.Push(R"(
steps:
  - name: left
    image: busybox
    depends_on: []
    commands: ["touch left.ready", )" +
            Q(HoldCommand("right.ready")) + R"(]
  - name: right
    image: busybox
    depends_on: []
    commands: ["touch right.ready", )" +
            Q(HoldCommand("left.ready")) + R"(]
  - name: join
    image: busybox
    depends_on: [left, right]
    commands: ["ls left.ready right.ready"]
)");
  ASSERT_FALSE(AddRepo("par", repo.file_url()).is_null());
  int64_t id = Trigger("par");
  json run = AwaitRun(id);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  for (const char* name : {"left", "right", "join"}) {
    EXPECT_EQ(Str(StepOf(run, name), "status"), "success") << name << ": " << run.dump();
  }
  EXPECT_EQ(StepLog(id, "join"), "left.ready\nright.ready\n");
  ExpectNothingLeft(id);
}

TEST_F(StepsTest, WhenFiltersByBranchAndEvent) {
  PipelineRepo repo;
  const std::string pipeline = R"(
steps:
  - name: always
    image: busybox
    commands: ["echo always"]
  - name: main-only
    image: busybox
    depends_on: []
    when: {branch: [main]}
    commands: ["echo main-only"]
  - name: release-only
    image: busybox
    depends_on: []
    when: {branch: ["release/*"]}
    commands: ["echo release-only"]
  - name: push-only
    image: busybox
    depends_on: []
    when: {event: [push]}
    commands: ["echo push-only"]
)";
  repo.Push(pipeline, {}, "main");
  repo.Push(pipeline, {}, "release/1.0");
  ASSERT_FALSE(AddRepo("filtered", repo.file_url()).is_null());

  int64_t on_main = Trigger("filtered", {{"branch", "main"}});
  int64_t on_release = Trigger("filtered", {{"branch", "release/1.0"}});
  json main_run = AwaitRun(on_main);
  json release_run = AwaitRun(on_release);
  EXPECT_EQ(Str(main_run, "status"), "success") << main_run.dump();
  EXPECT_EQ(Str(release_run, "status"), "success") << release_run.dump();

  EXPECT_EQ(Str(StepOf(main_run, "always"), "status"), "success");
  EXPECT_EQ(Str(StepOf(main_run, "main-only"), "status"), "success");
  EXPECT_EQ(Str(StepOf(main_run, "release-only"), "status"), "skipped");
  EXPECT_EQ(Str(StepOf(main_run, "push-only"), "status"), "skipped") << "a manual run is no push";
  EXPECT_EQ(StepLog(on_main, "main-only"), "main-only\n");

  EXPECT_EQ(Str(StepOf(release_run, "always"), "status"), "success");
  EXPECT_EQ(Str(StepOf(release_run, "main-only"), "status"), "skipped");
  EXPECT_EQ(Str(StepOf(release_run, "release-only"), "status"), "success");
  EXPECT_EQ(Str(StepOf(release_run, "push-only"), "status"), "skipped");
  EXPECT_EQ(StepLog(on_release, "release-only"), "release-only\n");
  ExpectNothingLeft(on_main);
  ExpectNothingLeft(on_release);
}

}  // namespace
}  // namespace slipway::testing
