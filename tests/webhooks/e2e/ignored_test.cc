// Deliveries that start nothing: a ping (200), a branch deletion, an event
// Slipway does not handle, a push its branch filter leaves out (202 with the
// reason). Each is checked by the runs list staying empty, after a push that
// does run proves the same repository and secret work.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/webhooks/e2e/webhook_fixture.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

const std::string kSecret = "ignored-test-secret";

class IgnoredTest : public WebhookTest, public ::testing::WithParamInterface<std::string> {};

// The reason of a 202 that queued nothing: a body without "run".
void ExpectNothingQueued(const HttpReply& r, int status) {
  EXPECT_EQ(r.status, status) << r;
  json j = r.Json();
  EXPECT_TRUE(j.is_object()) << r;
  EXPECT_FALSE(j.is_object() && j.contains("run") && !j["run"].is_null()) << r;
}

TEST_P(IgnoredTest, DeletionUnhandledEventsAndFilteredBranchesStartNothing) {
  const std::string forge = GetParam();
  ForgeRepoInfo info{forge, "team/app"};
  PipelineRepo repo;
  std::string first = repo.Push(OneStep("true"));
  std::string on_feature = repo.Push(OneStep("true"), {}, "feature");
  ASSERT_FALSE(AddForgeRepo("app", repo.file_url(), info, kSecret, {{"branch_filter", "main"}}).is_null());

  // A branch deletion: after is all zeros (GitHub also says deleted: true).
  repo.repo().Push(":feature");
  ExpectNothingQueued(
      Deliver(Sign(forge, "push", PushPayload(info, "refs/heads/feature", on_feature, kZeroCommit).dump(),
                   kSecret)),
      202);
  // The same for a tag.
  ExpectNothingQueued(
      Deliver(Sign(forge, "tag", PushPayload(info, "refs/tags/v0", first, kZeroCommit).dump(), kSecret)),
      202);
  // A push to a branch the repository's filter leaves out.
  ExpectNothingQueued(
      Deliver(Sign(forge, "push", PushPayload(info, "refs/heads/feature", kZeroCommit, on_feature).dump(),
                   kSecret)),
      202);
  // An event Slipway does not handle (issues; GitLab's note hook).
  json issue = {{"action", "opened"},
                {"issue", {{"number", 1}, {"title", "bug"}}},
                {"object_kind", "note"},
                {"project", {{"id", info.project_id}, {"path_with_namespace", info.full_name}}},
                {"repository", {{"full_name", info.full_name}}}};
  Delivery unhandled = Sign(forge, "push", issue.dump(), kSecret);
  for (std::string& h : unhandled.headers) {
    if (h.starts_with("X-GitHub-Event:") || h.starts_with("X-Gitea-Event:") ||
        h.starts_with("X-Gogs-Event:")) {
      h = h.substr(0, h.find(':')) + ": issues";
    }
    if (h.starts_with("X-Gitlab-Event:")) h = "X-Gitlab-Event: Note Hook";
  }
  ExpectNothingQueued(Deliver(unhandled), 202);
  // A pull request closed.
  ExpectNothingQueued(Deliver(Sign(forge, "pull_request",
                                   PullRequestPayload(info, 3, forge == "gitlab" ? "close" : "closed", "main",
                                                      "feature", on_feature)
                                       .dump(),
                                   kSecret)),
                      202);
  if (forge == "github") {
    ExpectNothingQueued(Deliver(Sign(forge, "ping", PingPayload(info).dump(), kSecret)), 200);
  }
  EXPECT_TRUE(Runs().empty()) << Runs().size() << " runs, e.g. " << Runs()[0].dump();

  // The control: a push to main of the same repository does run.
  std::string second = repo.Push(OneStep("true"));
  HttpReply r =
      Deliver(Sign(forge, "push", PushPayload(info, "refs/heads/main", first, second).dump(), kSecret));
  int64_t id = QueuedRun(r);
  ASSERT_GT(id, 0);
  EXPECT_EQ(Str(AwaitRun(id), "status"), "success");
  EXPECT_EQ(Runs().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Forges, IgnoredTest, ::testing::Values("github", "gitea", "gitlab"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace slipway::testing
