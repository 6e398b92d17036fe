// Gitea (and Forgejo) deliveries in the shapes of Gitea's webhook docs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/webhooks/payloads.h"
#include "webhooks/forge_event.h"

namespace slipway::webhooks {
namespace {

using testing::Payload;

constexpr char kDelivery[] = "f6266f16-1bf3-46a5-9ea4-602e06ead473";

// What Gitea sends: its own headers and GitHub's and Gogs' copies.
Headers GiteaHeaders(const std::string& event) {
  return {{"x-gitea-event", event},         {"x-gitea-delivery", kDelivery}, {"x-github-event", event},
          {"x-github-delivery", kDelivery}, {"x-gogs-event", event},         {"x-gogs-delivery", kDelivery}};
}

ForgeEvent Parse(const std::string& event, const std::string& file) {
  auto r = ParseDelivery(Forge::kGitea, GiteaHeaders(event), Payload("gitea", file));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : ForgeEvent{};
}

const std::vector<std::string> kUrls = {"http://localhost:3000/gitea/webhooks.git",
                                        "ssh://gitea@localhost:2222/gitea/webhooks.git",
                                        "http://localhost:3000/gitea/webhooks"};

TEST(GiteaEventTest, PushToABranch) {
  ForgeEvent e = Parse("push", "push.json");
  EXPECT_EQ(e.forge, Forge::kGitea);
  EXPECT_EQ(e.kind, EventKind::kPush);
  EXPECT_EQ(e.delivery_id, kDelivery);
  EXPECT_EQ(e.full_name, "gitea/webhooks");
  EXPECT_EQ(e.clone_urls, kUrls);
  EXPECT_EQ(e.branch, "develop");
  EXPECT_EQ(e.commit, "bffeb74224043ba2feb48d137756c8a9331c449a");
  EXPECT_EQ(e.author, "Gitea <someone@gitea.io>");
  EXPECT_EQ(e.message, "Webhooks Yay!");
  EXPECT_EQ(e.pull_request, 0);
  EXPECT_FALSE(e.from_fork);
}

TEST(GiteaEventTest, PushWithoutHeadCommitFindsTheHeadInCommits) {
  ForgeEvent e = Parse("push", "push_no_head_commit.json");
  EXPECT_EQ(e.kind, EventKind::kPush);
  EXPECT_EQ(e.author, "Gitea <someone@gitea.io>");
  EXPECT_EQ(e.message, "Webhooks Yay!");
}

TEST(GiteaEventTest, PushOfATag) {
  ForgeEvent e = Parse("push", "push_tag.json");
  EXPECT_EQ(e.kind, EventKind::kTag);
  EXPECT_EQ(e.tag, "v1.0.0");
  EXPECT_EQ(e.commit, "bffeb74224043ba2feb48d137756c8a9331c449a");
}

TEST(GiteaEventTest, PushWithAllZeroAfterIsADeletion) {
  ForgeEvent e = Parse("push", "push_delete.json");
  EXPECT_EQ(e.kind, EventKind::kBranchDeleted);
  EXPECT_EQ(e.branch, "develop");
}

TEST(GiteaEventTest, PushWithDeletedFlagIsADeletion) {
  auto body = nlohmann::json::parse(Payload("gitea", "push.json"));
  body["deleted"] = true;
  auto r = ParseDelivery(Forge::kGitea, GiteaHeaders("push"), body.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kind, EventKind::kBranchDeleted);
}

TEST(GiteaEventTest, PullRequestOpened) {
  ForgeEvent e = Parse("pull_request", "pull_request_opened.json");
  EXPECT_EQ(e.kind, EventKind::kPullRequest);
  EXPECT_EQ(e.pull_request, 1);
  EXPECT_EQ(e.head_ref, "refs/pull/1/head");
  EXPECT_EQ(e.branch, "main");
  EXPECT_EQ(e.commit, "4c3a7f1e0b9d8c7a6f5e4d3c2b1a09f8e7d6c5b4");
  EXPECT_EQ(e.full_name, "gitea/webhooks");
  EXPECT_FALSE(e.from_fork);
}

TEST(GiteaEventTest, PullRequestSynchronized) {
  ForgeEvent e = Parse("pull_request", "pull_request_synchronized.json");
  EXPECT_EQ(e.kind, EventKind::kPullRequest);
}

TEST(GiteaEventTest, GitHubsActionNameIsNotGiteas) {
  // Gitea says "synchronized"; "synchronize" is GitHub's and not expected here.
  auto body = nlohmann::json::parse(Payload("gitea", "pull_request_synchronized.json"));
  body["action"] = "synchronize";
  auto r = ParseDelivery(Forge::kGitea, GiteaHeaders("pull_request"), body.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kind, EventKind::kIgnored);
}

TEST(GiteaEventTest, PullRequestFromAFork) {
  ForgeEvent e = Parse("pull_request", "pull_request_fork.json");
  EXPECT_EQ(e.kind, EventKind::kPullRequest);
  EXPECT_TRUE(e.from_fork);
  EXPECT_EQ(e.pull_request, 2);
  EXPECT_EQ(e.full_name, "gitea/webhooks");
}

TEST(GiteaEventTest, PullRequestClosedIsIgnored) {
  ForgeEvent e = Parse("pull_request", "pull_request_closed.json");
  EXPECT_EQ(e.kind, EventKind::kIgnored);
  EXPECT_EQ(e.ignored_reason, "pull_request action \"closed\" is not handled");
}

TEST(GiteaEventTest, CreateAndDeleteEventsAreIgnoredWithAReason) {
  ForgeEvent c = Parse("create", "create.json");
  EXPECT_EQ(c.kind, EventKind::kIgnored);
  EXPECT_NE(c.ignored_reason.find("create events are not handled"), std::string::npos);
  ForgeEvent d = Parse("delete", "delete.json");
  EXPECT_EQ(d.kind, EventKind::kIgnored);
  EXPECT_NE(d.ignored_reason.find("delete events are not handled"), std::string::npos);
}

TEST(GiteaEventTest, ForgejoHeadersAreUnderstood) {
  Headers h = {{"x-forgejo-event", "push"}, {"x-forgejo-delivery", "abc-123"}};
  auto r = ParseDelivery(Forge::kGitea, h, Payload("gitea", "push.json"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kind, EventKind::kPush);
  EXPECT_EQ(r->delivery_id, "abc-123");
}

TEST(GiteaEventTest, GitHubHeadersAloneAreNotGiteas) {
  Headers h = {{"x-github-event", "push"}};
  auto r = ParseDelivery(Forge::kGitea, h, Payload("gitea", "push.json"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("X-Gitea-Event"), std::string::npos);
}

TEST(GiteaEventTest, MissingFieldIsNamed) {
  auto body = nlohmann::json::parse(Payload("gitea", "pull_request_opened.json"));
  body["pull_request"]["head"].erase("sha");
  auto r = ParseDelivery(Forge::kGitea, GiteaHeaders("pull_request"), body.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "field pull_request.head.sha is missing");
}

}  // namespace
}  // namespace slipway::webhooks
