// A push and a tag, as each forge sends them, start a run of the pushed
// commit that executes in real sandboxes; a delivery sent again is answered
// 200 and runs nothing more, also after a restart.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/webhooks/e2e/webhook_fixture.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

const std::string kSecret = "It's a Secret to Everybody";
const std::string kReport = R"(echo "$SLIPWAY_EVENT|$SLIPWAY_BRANCH|$SLIPWAY_TAG|$SLIPWAY_COMMIT")";

class PushTest : public WebhookTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(PushTest, APushRunsThePushedCommit) {
  const std::string forge = GetParam();
  ForgeRepoInfo info{forge, "team/app"};
  PipelineRepo repo;
  std::string before = repo.Push(OneStep("true"));
  std::string after = repo.Push(OneStep(kReport));
  ASSERT_FALSE(AddForgeRepo("app", repo.file_url(), info, kSecret).is_null());

  Delivery push = Sign(forge, "push", PushPayload(info, "refs/heads/main", before, after).dump(), kSecret);
  HttpReply r = Deliver(push);
  ASSERT_TRUE(r.status == 201 || r.status == 202) << r;
  int64_t id = QueuedRun(r);
  ASSERT_GT(id, 0);

  json run = AwaitRun(id);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  EXPECT_EQ(Str(run, "repo"), "app");
  EXPECT_EQ(Str(run, "event"), "push");
  EXPECT_EQ(Str(run, "branch"), "main");
  EXPECT_EQ(Str(run, "commit"), after);
  EXPECT_EQ(Output(id, "check"), "push|main||" + after);

  // The forge retrying the same delivery: 200, and still one run; also
  // after slipwayd restarted (the deliveries seen are in its store).
  HttpReply again = Deliver(push);
  EXPECT_EQ(again.status, 200) << again;
  EXPECT_EQ(Runs().size(), 1u);
  ExpectNothingLeft(id);
  ASSERT_EQ(daemon().Terminate(), 0);
  ASSERT_TRUE(daemon().Restart());
  HttpReply after_restart = Deliver(push);
  EXPECT_EQ(after_restart.status, 200) << after_restart;
  EXPECT_EQ(Runs().size(), 1u);
}

TEST_P(PushTest, ATagPushRunsTheTaggedCommitAsATagRun) {
  const std::string forge = GetParam();
  ForgeRepoInfo info{forge, "team/app"};
  PipelineRepo repo;
  std::string commit = repo.Push(OneStep(kReport));
  repo.repo().WorkGit("tag v1.0");  // lightweight: the ref names the commit itself
  repo.repo().Push("v1.0");
  ASSERT_FALSE(AddForgeRepo("app", repo.file_url(), info, kSecret).is_null());

  HttpReply r = Deliver(Sign(
      forge, "tag", PushPayload(info, "refs/tags/v1.0", kZeroCommit, commit, "release").dump(), kSecret));
  ASSERT_TRUE(r.status == 201 || r.status == 202) << r;
  int64_t id = QueuedRun(r);
  ASSERT_GT(id, 0);
  json run = AwaitRun(id);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  EXPECT_EQ(Str(run, "event"), "tag");
  EXPECT_EQ(Str(run, "tag"), "v1.0");
  EXPECT_EQ(Str(run, "branch"), "");
  EXPECT_EQ(Str(run, "commit"), commit);
  EXPECT_EQ(Output(id, "check"), "tag||v1.0|" + commit);
}

INSTANTIATE_TEST_SUITE_P(Forges, PushTest, ::testing::Values("github", "gitea", "gitlab"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace slipway::testing
