// GitHub deliveries in the shapes of GitHub's "Webhook events and payloads".
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/webhooks/payloads.h"
#include "webhooks/forge_event.h"

namespace slipway::webhooks {
namespace {

using testing::Payload;

Headers GitHubHeaders(const std::string& event) {
  return {{"x-github-event", event},
          {"x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
          {"x-github-hook-id", "30"},
          {"content-type", "application/json"}};
}

ForgeEvent Parse(const std::string& event, const std::string& file) {
  auto r = ParseDelivery(Forge::kGitHub, GitHubHeaders(event), Payload("github", file));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : ForgeEvent{};
}

const std::vector<std::string> kHelloUrls = {
    "https://github.com/octo-org/hello-world.git", "git@github.com:octo-org/hello-world.git",
    "git://github.com/octo-org/hello-world.git", "https://github.com/octo-org/hello-world"};

TEST(GitHubEventTest, PushToABranch) {
  ForgeEvent e = Parse("push", "push.json");
  EXPECT_EQ(e.forge, Forge::kGitHub);
  EXPECT_EQ(e.kind, EventKind::kPush);
  EXPECT_EQ(e.delivery_id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
  EXPECT_EQ(e.full_name, "octo-org/hello-world");
  EXPECT_EQ(e.clone_urls, kHelloUrls);
  EXPECT_EQ(e.project_id, "");
  EXPECT_EQ(e.branch, "main");
  EXPECT_EQ(e.tag, "");
  EXPECT_EQ(e.commit, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
  EXPECT_EQ(e.author, "Octo Cat <octocat@github.com>");
  EXPECT_EQ(e.message, "Update README.md");
  EXPECT_EQ(e.pull_request, 0);
  EXPECT_EQ(e.head_ref, "");
  EXPECT_FALSE(e.from_fork);
}

TEST(GitHubEventTest, PushWithoutHeadCommitTakesTheHeadFromCommits) {
  auto body = nlohmann::json::parse(Payload("github", "push.json"));
  body.erase("head_commit");
  auto r = ParseDelivery(Forge::kGitHub, GitHubHeaders("push"), body.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->author, "Octo Cat <octocat@github.com>");
  EXPECT_EQ(r->message, "Update README.md");
}

TEST(GitHubEventTest, PushOfATag) {
  ForgeEvent e = Parse("push", "push_tag.json");
  EXPECT_EQ(e.kind, EventKind::kTag);
  EXPECT_EQ(e.tag, "v1.2.0");
  EXPECT_EQ(e.branch, "");
  EXPECT_EQ(e.commit, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
}

TEST(GitHubEventTest, BranchDeletionStartsNothing) {
  ForgeEvent e = Parse("push", "push_delete.json");
  EXPECT_EQ(e.kind, EventKind::kBranchDeleted);
  EXPECT_EQ(e.branch, "feature/old");
  EXPECT_EQ(e.commit, "");
}

TEST(GitHubEventTest, AllZeroAfterIsADeletionEvenWithoutTheFlag) {
  auto body = nlohmann::json::parse(Payload("github", "push_delete.json"));
  body["deleted"] = false;
  auto r = ParseDelivery(Forge::kGitHub, GitHubHeaders("push"), body.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kind, EventKind::kBranchDeleted);
}

TEST(GitHubEventTest, PullRequestOpened) {
  ForgeEvent e = Parse("pull_request", "pull_request_opened.json");
  EXPECT_EQ(e.kind, EventKind::kPullRequest);
  EXPECT_EQ(e.pull_request, 2);
  EXPECT_EQ(e.head_ref, "refs/pull/2/head");
  EXPECT_EQ(e.branch, "main");
  EXPECT_EQ(e.commit, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
  EXPECT_EQ(e.full_name, "octo-org/hello-world");
  EXPECT_EQ(e.clone_urls, kHelloUrls);
  EXPECT_FALSE(e.from_fork);
}

TEST(GitHubEventTest, PullRequestSynchronize) {
  ForgeEvent e = Parse("pull_request", "pull_request_synchronize.json");
  EXPECT_EQ(e.kind, EventKind::kPullRequest);
  EXPECT_EQ(e.commit, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
}

TEST(GitHubEventTest, PullRequestReopened) {
  auto body = nlohmann::json::parse(Payload("github", "pull_request_opened.json"));
  body["action"] = "reopened";
  auto r = ParseDelivery(Forge::kGitHub, GitHubHeaders("pull_request"), body.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kind, EventKind::kPullRequest);
}

TEST(GitHubEventTest, PullRequestFromAFork) {
  ForgeEvent e = Parse("pull_request", "pull_request_fork.json");
  EXPECT_EQ(e.kind, EventKind::kPullRequest);
  EXPECT_TRUE(e.from_fork);
  EXPECT_EQ(e.full_name, "octo-org/hello-world");  // the base repository, where the run belongs
  EXPECT_EQ(e.head_ref, "refs/pull/3/head");
}

TEST(GitHubEventTest, PullRequestWhoseForkWasDeletedIsAFork) {
  auto body = nlohmann::json::parse(Payload("github", "pull_request_opened.json"));
  body["pull_request"]["head"]["repo"] = nullptr;
  auto r = ParseDelivery(Forge::kGitHub, GitHubHeaders("pull_request"), body.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->from_fork);
}

TEST(GitHubEventTest, PullRequestClosedIsIgnoredWithAReason) {
  ForgeEvent e = Parse("pull_request", "pull_request_closed.json");
  EXPECT_EQ(e.kind, EventKind::kIgnored);
  EXPECT_EQ(e.ignored_reason, "pull_request action \"closed\" is not handled");
  EXPECT_EQ(e.delivery_id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
}

TEST(GitHubEventTest, Ping) {
  ForgeEvent e = Parse("ping", "ping.json");
  EXPECT_EQ(e.kind, EventKind::kPing);
  EXPECT_EQ(e.full_name, "octo-org/hello-world");
}

TEST(GitHubEventTest, UnhandledEventIsIgnoredWithAReason) {
  ForgeEvent e = Parse("issues", "issues.json");
  EXPECT_EQ(e.kind, EventKind::kIgnored);
  EXPECT_EQ(e.ignored_reason, "event \"issues\" is not handled");
}

TEST(GitHubEventTest, HostileEventNameIsNotEchoed) {
  auto r = ParseDelivery(Forge::kGitHub, GitHubHeaders("<script>\x1b[31m"), "{}");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kind, EventKind::kIgnored);
  EXPECT_EQ(r->ignored_reason, "event an unnamed one is not handled");
}

TEST(GitHubEventTest, MissingEventHeaderIsAnError) {
  Headers h = GitHubHeaders("push");
  h.erase("x-github-event");
  auto r = ParseDelivery(Forge::kGitHub, h, Payload("github", "push.json"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("X-GitHub-Event"), std::string::npos);
}

TEST(GitHubEventTest, WithoutADeliveryHeaderTheIdComesFromTheBody) {
  Headers h = GitHubHeaders("push");
  h.erase("x-github-delivery");
  auto r = ParseDelivery(Forge::kGitHub, h, Payload("github", "push.json"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->delivery_id, "push:refs/heads/main:6113728f27ae82c7b1a177c8d03f9e96e0adf246");
}

TEST(GitHubEventTest, ADeliveryIdWithAControlCharacterIsRefused) {
  Headers h = GitHubHeaders("push");
  h["x-github-delivery"] = "abc\ndef";
  auto r = ParseDelivery(Forge::kGitHub, h, Payload("github", "push.json"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("x-github-delivery"), std::string::npos);
}

// Errors name the field's path, never its value.
struct BadField {
  const char* file;
  const char* event;
  std::string pointer;
  nlohmann::json value;
  const char* named;
};

TEST(GitHubEventTest, BadFieldsAreNamedNotEchoed) {
  const std::string secretish = "SECRET-VALUE-" + std::string(40, 'x');
  std::vector<BadField> cases = {
      {"push.json", "push", "/after", secretish, "after"},
      {"push.json", "push", "/after", "6113728F27AE82C7B1A177C8D03F9E96E0ADF246", "after"},
      {"push.json", "push", "/after", 42, "after"},
      {"push.json", "push", "/ref", "refs/heads/a..b" + secretish, "ref"},
      {"push.json", "push", "/ref", "refs/heads/x\n" + secretish, "ref"},
      {"push.json", "push", "/ref", "refs/heads/x.lock", "ref"},
      {"push.json", "push", "/ref", nlohmann::json::array({secretish}), "ref"},
      {"push.json", "push", "/repository/full_name", nullptr, "repository.full_name"},
      {"push.json", "push", "/repository/full_name", secretish, "repository.full_name"},
      {"push.json", "push", "/repository/clone_url", 7, "repository.clone_url"},
      {"push.json", "push", "/repository", secretish, "repository.full_name"},
      {"push.json", "push", "/head_commit/message", 1, "head_commit.message"},
      {"push.json", "push", "/deleted", "yes", "deleted"},
      {"pull_request_opened.json", "pull_request", "/pull_request/number", -1, "pull_request.number"},
      {"pull_request_opened.json", "pull_request", "/pull_request/number", secretish, "pull_request.number"},
      {"pull_request_opened.json", "pull_request", "/pull_request/head/sha", nullptr,
       "pull_request.head.sha"},
      {"pull_request_opened.json", "pull_request", "/pull_request/base/ref", "a b", "pull_request.base.ref"},
      {"pull_request_opened.json", "pull_request", "/action", std::string(100, 'a'), "action"},
  };
  for (const auto& c : cases) {
    auto body = nlohmann::json::parse(Payload("github", c.file));
    body[nlohmann::json::json_pointer(c.pointer)] = c.value;
    auto r = ParseDelivery(Forge::kGitHub, GitHubHeaders(c.event), body.dump());
    ASSERT_FALSE(r.ok()) << c.pointer;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(std::string("field ") + c.named), std::string::npos)
        << r.status().message();
    EXPECT_EQ(r.status().message().find("SECRET-VALUE"), std::string::npos) << r.status().message();
  }
}

TEST(GitHubEventTest, APushWithoutItsHeadIsRefusedNotTakenForADeletion) {
  auto body = nlohmann::json::parse(Payload("github", "push.json"));
  body.erase("after");
  auto r = ParseDelivery(Forge::kGitHub, GitHubHeaders("push"), body.dump());
  ASSERT_FALSE(r.ok()) << "kind " << (r.ok() ? EventKindName(r->kind) : "");
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("field after is missing"), std::string::npos) << r.status().message();
}

TEST(GitHubEventTest, ALongCommitMessageKeepsItsFirstLineBounded) {
  auto body = nlohmann::json::parse(Payload("github", "push.json"));
  // 300 two-byte characters: the cut falls inside one and backs off.
  std::string line;
  for (int i = 0; i < 300; ++i) line += "\xc3\xa9";
  body["head_commit"]["message"] = line + "\nsecond line";
  body["head_commit"]["author"]["name"] = "Tab\tName";
  auto r = ParseDelivery(Forge::kGitHub, GitHubHeaders("push"), body.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->message, line.substr(0, 200));
  EXPECT_EQ(r->author, "Tab Name <octocat@github.com>");
}

TEST(GitHubEventTest, ForgeNames) {
  EXPECT_STREQ(ForgeName(Forge::kGitHub), "github");
  EXPECT_EQ(ParseForge("gitlab"), Forge::kGitLab);
  EXPECT_EQ(ParseForge("forgejo"), Forge::kGitea);
  EXPECT_EQ(ParseForge("GitHub"), std::nullopt);
  EXPECT_STREQ(EventKindName(EventKind::kPullRequest), "pull_request");
}

}  // namespace
}  // namespace slipway::webhooks
