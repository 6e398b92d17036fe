// GitLab deliveries in the shapes of GitLab's "Webhook events".
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/webhooks/payloads.h"
#include "webhooks/forge_event.h"

namespace slipway::webhooks {
namespace {

using testing::Payload;

constexpr char kUuid[] = "b9d8b5a5-7e8f-4a3e-9f0c-8c2d8f1d7a11";

Headers GitLabHeaders(const std::string& event) {
  return {{"x-gitlab-event", event},
          {"x-gitlab-event-uuid", kUuid},
          {"x-gitlab-webhook-uuid", "0a3a9c8e-1111-2222-3333-444455556666"},
          {"x-gitlab-instance", "https://gitlab.example.com"},
          {"x-gitlab-token", "not-checked-here"}};
}

ForgeEvent Parse(const std::string& event, const std::string& file) {
  auto r = ParseDelivery(Forge::kGitLab, GitLabHeaders(event), Payload("gitlab", file));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : ForgeEvent{};
}

const std::vector<std::string> kUrls = {"http://example.com/mike/diaspora.git",
                                        "git@example.com:mike/diaspora.git",
                                        "http://example.com/mike/diaspora"};

TEST(GitLabEventTest, PushHook) {
  ForgeEvent e = Parse("Push Hook", "push.json");
  EXPECT_EQ(e.forge, Forge::kGitLab);
  EXPECT_EQ(e.kind, EventKind::kPush);
  EXPECT_EQ(e.delivery_id, kUuid);
  EXPECT_EQ(e.full_name, "mike/diaspora");
  EXPECT_EQ(e.clone_urls, kUrls);
  EXPECT_EQ(e.project_id, "15");
  EXPECT_EQ(e.branch, "master");
  EXPECT_EQ(e.commit, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
  EXPECT_EQ(e.author, "GitLab dev user <gitlabdev@dv6700.(none)>");
  EXPECT_EQ(e.message, "fixed readme");
  EXPECT_FALSE(e.from_fork);
}

TEST(GitLabEventTest, TagPushHookRunsTheCommitNotTheTagObject) {
  ForgeEvent e = Parse("Tag Push Hook", "tag_push.json");
  EXPECT_EQ(e.kind, EventKind::kTag);
  EXPECT_EQ(e.tag, "v1.0.0");
  EXPECT_EQ(e.commit, "5937ac0a7beb003549fc5fd26fc247adbce4a52e");  // checkout_sha, not after
}

TEST(GitLabEventTest, BranchDeletion) {
  ForgeEvent e = Parse("Push Hook", "push_delete.json");
  EXPECT_EQ(e.kind, EventKind::kBranchDeleted);
  EXPECT_EQ(e.branch, "feature");
}

TEST(GitLabEventTest, TagDeletion) {
  auto body = nlohmann::json::parse(Payload("gitlab", "tag_push.json"));
  body["after"] = std::string(40, '0');
  body["checkout_sha"] = nullptr;
  auto r = ParseDelivery(Forge::kGitLab, GitLabHeaders("Tag Push Hook"), body.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kind, EventKind::kBranchDeleted);
  EXPECT_EQ(r->tag, "v1.0.0");
}

TEST(GitLabEventTest, MergeRequestOpened) {
  ForgeEvent e = Parse("Merge Request Hook", "merge_request_open.json");
  EXPECT_EQ(e.kind, EventKind::kPullRequest);
  EXPECT_EQ(e.pull_request, 1);  // the iid, as GitLab's UI and refs number them
  EXPECT_EQ(e.head_ref, "refs/merge-requests/1/head");
  EXPECT_EQ(e.branch, "master");
  EXPECT_EQ(e.commit, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
  EXPECT_EQ(e.project_id, "15");
  EXPECT_EQ(e.full_name, "mike/diaspora");
  EXPECT_EQ(e.clone_urls, kUrls);
  EXPECT_EQ(e.message, "fixed readme");
  EXPECT_EQ(e.author, "GitLab dev user <gitlabdev@dv6700.(none)>");
  EXPECT_FALSE(e.from_fork);
}

TEST(GitLabEventTest, MergeRequestReopened) {
  auto body = nlohmann::json::parse(Payload("gitlab", "merge_request_open.json"));
  body["object_attributes"]["action"] = "reopen";
  auto r = ParseDelivery(Forge::kGitLab, GitLabHeaders("Merge Request Hook"), body.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kind, EventKind::kPullRequest);
}

TEST(GitLabEventTest, MergeRequestUpdateWithNewCommits) {
  ForgeEvent e = Parse("Merge Request Hook", "merge_request_update.json");
  EXPECT_EQ(e.kind, EventKind::kPullRequest);
}

TEST(GitLabEventTest, MergeRequestUpdateWithoutNewCommitsIsIgnored) {
  ForgeEvent e = Parse("Merge Request Hook", "merge_request_update_no_commits.json");
  EXPECT_EQ(e.kind, EventKind::kIgnored);
  EXPECT_EQ(e.ignored_reason, "merge request update without new commits is not handled");
}

TEST(GitLabEventTest, MergeRequestFromAFork) {
  ForgeEvent e = Parse("Merge Request Hook", "merge_request_fork.json");
  EXPECT_EQ(e.kind, EventKind::kPullRequest);
  EXPECT_TRUE(e.from_fork);
  EXPECT_EQ(e.project_id, "15");  // the target project, where the status goes
  EXPECT_EQ(e.head_ref, "refs/merge-requests/2/head");
}

TEST(GitLabEventTest, MergeRequestWhoseSourceProjectIsGoneIsAFork) {
  auto body = nlohmann::json::parse(Payload("gitlab", "merge_request_open.json"));
  body["object_attributes"]["source_project_id"] = nullptr;
  auto r = ParseDelivery(Forge::kGitLab, GitLabHeaders("Merge Request Hook"), body.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->from_fork);
}

TEST(GitLabEventTest, MergeRequestClosedIsIgnored) {
  ForgeEvent e = Parse("Merge Request Hook", "merge_request_close.json");
  EXPECT_EQ(e.kind, EventKind::kIgnored);
  EXPECT_EQ(e.ignored_reason, "merge request action \"close\" is not handled");
}

TEST(GitLabEventTest, SystemHookIsIgnored) {
  ForgeEvent e = Parse("System Hook", "system_hook_push.json");
  EXPECT_EQ(e.kind, EventKind::kIgnored);
  EXPECT_NE(e.ignored_reason.find("system hooks are not handled"), std::string::npos);
}

TEST(GitLabEventTest, OtherHookIsIgnored) {
  ForgeEvent e = Parse("Pipeline Hook", "push.json");
  EXPECT_EQ(e.kind, EventKind::kIgnored);
  EXPECT_EQ(e.ignored_reason, "event \"Pipeline Hook\" is not handled");
}

TEST(GitLabEventTest, WithoutAnEventUuidTheIdComesFromTheBody) {
  Headers h = GitLabHeaders("Push Hook");
  h.erase("x-gitlab-event-uuid");
  auto r = ParseDelivery(Forge::kGitLab, h, Payload("gitlab", "push.json"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->delivery_id, "push:refs/heads/master:da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
}

TEST(GitLabEventTest, ProjectIdAsAStringOfDigitsIsAccepted) {
  auto body = nlohmann::json::parse(Payload("gitlab", "push.json"));
  body["project_id"] = "15";
  auto r = ParseDelivery(Forge::kGitLab, GitLabHeaders("Push Hook"), body.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->project_id, "15");
}

TEST(GitLabEventTest, BadProjectIdIsNamed) {
  for (nlohmann::json bad : {nlohmann::json(-3), nlohmann::json("15; DROP"), nlohmann::json(1.5),
                             nlohmann::json::array(), nlohmann::json(9007199254740993ull)}) {
    auto body = nlohmann::json::parse(Payload("gitlab", "push.json"));
    body["project_id"] = bad;
    auto r = ParseDelivery(Forge::kGitLab, GitLabHeaders("Push Hook"), body.dump());
    ASSERT_FALSE(r.ok()) << bad.dump();
    EXPECT_EQ(r.status().message().find("field project_id"), 0u) << r.status().message();
  }
}

TEST(GitLabEventTest, GitLabPathsWithSubgroups) {
  auto body = nlohmann::json::parse(Payload("gitlab", "push.json"));
  body["project"]["path_with_namespace"] = "group/sub/project";
  auto r = ParseDelivery(Forge::kGitLab, GitLabHeaders("Push Hook"), body.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->full_name, "group/sub/project");
  body["project"]["path_with_namespace"] = "group//project";
  r = ParseDelivery(Forge::kGitLab, GitLabHeaders("Push Hook"), body.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "field project.path_with_namespace is not a repository path (owner/name)");
}

}  // namespace
}  // namespace slipway::webhooks
