// A newer push to a branch cancels the older run of that branch still
// queued or running, and says so (superseded_by); the newer one passes. A
// push to another branch cancels nothing; nor does anything with
// cancel_superseded off. Pull requests likewise, per pull request.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/webhooks/e2e/webhook_fixture.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

const std::string kSecret = "supersede-secret";

class SupersedeTest : public WebhookTest {
 protected:
  int64_t PushRun(const ForgeRepoInfo& info, const std::string& branch, const std::string& before,
                  const std::string& after) {
    return QueuedRun(Deliver(
        Sign(info.forge, "push", PushPayload(info, "refs/heads/" + branch, before, after).dump(), kSecret)));
  }
};

TEST_F(SupersedeTest, ASecondPushToABranchCancelsTheFirstsRun) {
  ForgeRepoInfo info{"github", "team/app"};
  PipelineRepo repo;
  std::string base = repo.Push(OneStep("true"));
  std::string held = repo.Push(OneStep(HoldCommand()));
  std::string other = repo.Push(OneStep("true"), {}, "other");
  repo.repo().WorkGit("checkout -q main");
  std::string newer = repo.Push(OneStep("true"));
  ASSERT_FALSE(AddForgeRepo("app", repo.file_url(), info, kSecret).is_null());

  int64_t first = PushRun(info, "main", base, held);
  ASSERT_GT(first, 0);
  AwaitStep(first, "check", "running");

  // Another branch's push runs beside it and cancels nothing.
  int64_t beside = PushRun(info, "other", kZeroCommit, other);
  ASSERT_GT(beside, 0);
  EXPECT_EQ(Str(AwaitRun(beside), "status"), "success");
  EXPECT_EQ(Str(GetRun(first), "status"), "running");

  int64_t second = PushRun(info, "main", held, newer);
  ASSERT_GT(second, 0);
  json run = AwaitRun(first);
  EXPECT_EQ(Str(run, "status"), "cancelled") << run.dump();
  EXPECT_EQ(Int(run, "superseded_by"), second) << run.dump();
  EXPECT_EQ(Str(StepOf(run, "check"), "status"), "cancelled") << run.dump();
  json next = AwaitRun(second);
  EXPECT_EQ(Str(next, "status"), "success") << next.dump();
  EXPECT_EQ(Int(next, "superseded_by", 0), 0) << next.dump();
  EXPECT_EQ(Str(next, "commit"), newer);
  ExpectNothingLeft(first);
  ExpectNothingLeft(second);
}

TEST_F(SupersedeTest, QueuedRunsAreSupersededTooAndTheSettingTurnsItOff) {
  ForgeRepoInfo on{"gitlab", "team/app", 11};
  ForgeRepoInfo off{"gitlab", "team/keep", 12};
  PipelineRepo repo;
  std::string base = repo.Push(OneStep("true"));
  std::string held = repo.Push(OneStep(HoldCommand()));
  // Held too (another commit), so it is still queued or running when the
  // third comes: no race with its end.
  std::string second_commit = repo.Push(OneStep(HoldCommand()), {{"2", "2"}});
  std::string third_commit = repo.Push(OneStep("true"));
  ASSERT_FALSE(AddForgeRepo("app", repo.file_url(), on, kSecret).is_null());
  ASSERT_FALSE(AddForgeRepo("keep", repo.file_url(), off, kSecret, {{"cancel_superseded", false}}).is_null());

  // keep: its first run holds; its second push cancels nothing.
  int64_t keep1 = PushRun(off, "main", base, held);
  ASSERT_GT(keep1, 0);
  AwaitStep(keep1, "check", "running");
  int64_t keep2 = PushRun(off, "main", second_commit, third_commit);
  ASSERT_GT(keep2, 0);
  EXPECT_EQ(Str(AwaitRun(keep2), "status"), "success");
  EXPECT_EQ(Str(GetRun(keep1), "status"), "running");
  Release(keep1);
  json k1 = AwaitRun(keep1);
  EXPECT_EQ(Str(k1, "status"), "success") << k1.dump();
  EXPECT_EQ(Int(k1, "superseded_by", 0), 0);

  // app: three pushes in a row; the first two are cancelled by the next one,
  // whether running or still queued, the last passes.
  int64_t a1 = PushRun(on, "main", base, held);
  int64_t a2 = PushRun(on, "main", held, second_commit);
  int64_t a3 = PushRun(on, "main", second_commit, third_commit);
  ASSERT_GT(a1, 0);
  ASSERT_GT(a2, 0);
  ASSERT_GT(a3, 0);
  json r1 = AwaitRun(a1), r2 = AwaitRun(a2), r3 = AwaitRun(a3);
  EXPECT_EQ(Str(r1, "status"), "cancelled") << r1.dump();
  EXPECT_EQ(Int(r1, "superseded_by"), a2) << r1.dump();
  EXPECT_EQ(Str(r2, "status"), "cancelled") << r2.dump();
  EXPECT_EQ(Int(r2, "superseded_by"), a3) << r2.dump();
  EXPECT_EQ(Str(r3, "status"), "success") << r3.dump();
}

TEST_F(SupersedeTest, ANewCommitOnAPullRequestCancelsItsOlderRunOnly) {
  ForgeRepoInfo info{"gitea", "team/app"};
  PipelineRepo repo;
  repo.Push(OneStep("true"));
  std::string held = repo.Push(OneStep(HoldCommand()), {}, "feature");
  repo.repo().Push("feature:refs/pull/7/head");
  repo.repo().Push("feature:refs/pull/9/head");
  std::string newer = repo.Push(OneStep("true"), {}, "feature");
  repo.repo().Push("+feature:refs/pull/7/head");
  ASSERT_FALSE(AddForgeRepo("app", repo.file_url(), info, kSecret).is_null());

  auto pr = [&](int64_t number, const std::string& action, const std::string& sha) {
    return QueuedRun(
        Deliver(Sign("gitea", "pull_request",
                     PullRequestPayload(info, number, action, "main", "feature", sha).dump(), kSecret)));
  };
  int64_t first = pr(7, "opened", held);
  int64_t other_pr = pr(9, "opened", held);
  ASSERT_GT(first, 0);
  ASSERT_GT(other_pr, 0);
  AwaitStep(first, "check", "running");
  AwaitStep(other_pr, "check", "running");
  int64_t second = pr(7, "synchronized", newer);
  ASSERT_GT(second, 0);
  json r1 = AwaitRun(first);
  EXPECT_EQ(Str(r1, "status"), "cancelled") << r1.dump();
  EXPECT_EQ(Int(r1, "superseded_by"), second);
  EXPECT_EQ(Str(AwaitRun(second), "status"), "success");
  // Pull request 9 (same branch, another request) was not touched.
  EXPECT_EQ(Str(GetRun(other_pr), "status"), "running");
  Release(other_pr);
  EXPECT_EQ(Str(AwaitRun(other_pr), "status"), "success");
}

}  // namespace
}  // namespace slipway::testing
