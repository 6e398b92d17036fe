// `when`: events, branch and tag globs (fnmatch(3) without flags).
#include "pipelines/when.h"

#include <gtest/gtest.h>

#include "pipelines/pipeline_file.h"
#include "tests/pipelines/example.h"

namespace slipway::pipelines {
namespace {

RunContext Push(const std::string& branch) {
  return {.branch = branch, .tag = "", .event = Event::kPush};
}

TEST(WhenTest, GlobsFollowFnmatchWithoutFlags) {
  EXPECT_TRUE(GlobMatches("main", "main"));
  EXPECT_FALSE(GlobMatches("main", "main2"));  // the whole name
  EXPECT_FALSE(GlobMatches("main", "Main"));   // case counts
  EXPECT_TRUE(GlobMatches("release/*", "release/1.0"));
  EXPECT_TRUE(GlobMatches("release/*", "release/a/b"));  // * crosses /
  EXPECT_FALSE(GlobMatches("release/*", "releases/1"));
  EXPECT_TRUE(GlobMatches("*", ".hidden"));  // a leading dot is not special
  EXPECT_TRUE(GlobMatches("v?.[0-9]", "v1.2"));
  EXPECT_FALSE(GlobMatches("v?.[0-9]", "v1.x"));
  EXPECT_TRUE(GlobMatches("[!m]*", "dev"));
  EXPECT_FALSE(GlobMatches("[!m]*", "main"));
  EXPECT_TRUE(GlobMatches("fix\\*", "fix*"));
  EXPECT_FALSE(GlobMatches("fix\\*", "fix1"));
  EXPECT_TRUE(AnyGlobMatches({}, "anything"));
}

TEST(WhenTest, IssueExampleLintStep) {
  Result<Pipeline> p = ParsePipelineFile(testing::kIssueExample);
  ASSERT_TRUE(p.ok()) << p.status().message();
  const Step& unit = p->steps[0];
  const Step& lint = p->steps[1];
  EXPECT_TRUE(StepRuns(lint, Push("main")));
  EXPECT_TRUE(StepRuns(lint, Push("release/2.1")));
  EXPECT_FALSE(StepRuns(lint, Push("feature/x")));
  EXPECT_TRUE(StepRuns(lint, {.branch = "main", .tag = "", .event = Event::kManual}));
  EXPECT_FALSE(StepRuns(lint, {.branch = "main", .tag = "", .event = Event::kPullRequest}));
  // A tag is not a branch: `branch` does not filter tag runs.
  EXPECT_TRUE(StepRuns(lint, {.branch = "", .tag = "v1.0", .event = Event::kTag}));
  // No `when`: every run.
  for (Event e : {Event::kPush, Event::kTag, Event::kPullRequest, Event::kManual}) {
    EXPECT_TRUE(StepRuns(unit, {.branch = "x", .tag = "y", .event = e}));
  }
}

TEST(WhenTest, TagGlobsFilterTagRunsOnly) {
  When when{.branches = {"main"}, .tags = {"v*"}, .events = {}};
  EXPECT_TRUE(WhenMatches(when, {.branch = "", .tag = "v2", .event = Event::kTag}));
  EXPECT_FALSE(WhenMatches(when, {.branch = "", .tag = "nightly", .event = Event::kTag}));
  EXPECT_TRUE(WhenMatches(when, Push("main")));
  EXPECT_FALSE(WhenMatches(when, Push("v2")));
}

TEST(WhenTest, EventNames) {
  for (Event e : {Event::kPush, Event::kTag, Event::kPullRequest, Event::kManual}) {
    EXPECT_EQ(ParseEvent(EventName(e)), e);
  }
  EXPECT_EQ(ParseEvent("pull_request"), Event::kPullRequest);
  EXPECT_FALSE(ParseEvent("Push").has_value());
  EXPECT_FALSE(ParseEvent("pull-request").has_value());
}

}  // namespace
}  // namespace slipway::pipelines
