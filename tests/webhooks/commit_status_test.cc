// The commit-status call per forge: URL, headers and body as each forge's
// status API documents them.
#include "webhooks/commit_status.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace slipway::webhooks {
namespace {

constexpr char kSha[] = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";

StatusTarget GitHub() {
  return {Forge::kGitHub, "https://api.github.com", "octo-org/hello-world", "", "ghp_token"};
}
StatusTarget Gitea() {
  return {Forge::kGitea, "https://gitea.example/api/v1/", "gitea/webhooks", "", "gt_token"};
}
StatusTarget GitLab() {
  return {Forge::kGitLab, "https://gitlab.example/api/v4", "", "15", "glpat-token"};
}

StatusUpdate Update(CommitState state) {
  StatusUpdate u;
  u.commit = kSha;
  u.state = state;
  u.description = "3 of 3 steps passed";
  u.target_url = "https://ci.example/api/v1/runs/42";
  return u;
}

TEST(CommitStatusTest, GitHub) {
  auto r = CommitStatusCall(GitHub(), Update(CommitState::kSuccess));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->url, std::string("https://api.github.com/repos/octo-org/hello-world/statuses/") + kSha);
  EXPECT_EQ(r->headers.at("authorization"), "token ghp_token");
  EXPECT_EQ(r->headers.at("accept"), "application/vnd.github+json");
  EXPECT_EQ(r->headers.at("content-type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(r->body),
            nlohmann::json({{"state", "success"},
                            {"target_url", "https://ci.example/api/v1/runs/42"},
                            {"description", "3 of 3 steps passed"},
                            {"context", "slipway"}}));
}

TEST(CommitStatusTest, GiteaUsesTheSamePathUnderItsApiBase) {
  auto r = CommitStatusCall(Gitea(), Update(CommitState::kFailure));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->url, std::string("https://gitea.example/api/v1/repos/gitea/webhooks/statuses/") + kSha);
  EXPECT_EQ(r->headers.at("authorization"), "token gt_token");
  auto body = nlohmann::json::parse(r->body);
  EXPECT_EQ(body["state"], "failure");
  EXPECT_EQ(body["context"], "slipway");
}

TEST(CommitStatusTest, GitLab) {
  auto r = CommitStatusCall(GitLab(), Update(CommitState::kRunning));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->url, std::string("https://gitlab.example/api/v4/projects/15/statuses/") + kSha);
  EXPECT_EQ(r->headers.at("private-token"), "glpat-token");
  EXPECT_EQ(r->headers.count("authorization"), 0u);
  EXPECT_EQ(nlohmann::json::parse(r->body),
            nlohmann::json({{"state", "running"},
                            {"name", "slipway"},
                            {"target_url", "https://ci.example/api/v1/runs/42"},
                            {"description", "3 of 3 steps passed"}}));
}

TEST(CommitStatusTest, GitLabProjectPathIsOneEncodedSegment) {
  StatusTarget t = GitLab();
  t.project_id = "group/sub project";
  auto r = CommitStatusCall(t, Update(CommitState::kPending));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->url,
            std::string("https://gitlab.example/api/v4/projects/group%2Fsub%20project/statuses/") + kSha);
}

TEST(CommitStatusTest, StatesPerForge) {
  struct Case {
    CommitState state;
    const char* github;
    const char* gitlab;
  };
  for (const Case& c :
       {Case{CommitState::kPending, "pending", "pending"}, Case{CommitState::kRunning, "pending", "running"},
        Case{CommitState::kSuccess, "success", "success"}, Case{CommitState::kFailure, "failure", "failed"},
        Case{CommitState::kError, "error", "failed"}, Case{CommitState::kCancelled, "error", "canceled"}}) {
    for (StatusTarget t : {GitHub(), Gitea()}) {
      auto r = CommitStatusCall(t, Update(c.state));
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(nlohmann::json::parse(r->body)["state"], c.github);
    }
    auto r = CommitStatusCall(GitLab(), Update(c.state));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(nlohmann::json::parse(r->body)["state"], c.gitlab);
  }
}

TEST(CommitStatusTest, OwnerAndRepoAreEncodedSegments) {
  StatusTarget t = GitHub();
  t.full_name = "my org/re?po#x";
  auto r = CommitStatusCall(t, Update(CommitState::kPending));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->url, std::string("https://api.github.com/repos/my%20org/re%3Fpo%23x/statuses/") + kSha);
  for (const char* bad : {"noslash", "/repo", "owner/", "a/b/c", ""}) {
    t.full_name = bad;
    auto b = CommitStatusCall(t, Update(CommitState::kPending));
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_EQ(b.status().message(), "status target: full_name is not owner/repo");
  }
}

TEST(CommitStatusTest, DescriptionIsCutAt140CharactersOnACharacterBoundary) {
  StatusUpdate u = Update(CommitState::kFailure);
  u.description.clear();
  for (int i = 0; i < 200; ++i) u.description += "\xe2\x9c\x93";  // U+2713, three bytes
  auto r = CommitStatusCall(GitHub(), u);
  ASSERT_TRUE(r.ok());
  std::string sent = nlohmann::json::parse(r->body)["description"];
  EXPECT_EQ(sent.size(), 140u * 3);
  EXPECT_EQ(sent, u.description.substr(0, 140 * 3));

  u.description = std::string(140, 'a');
  r = CommitStatusCall(GitHub(), u);
  EXPECT_EQ(nlohmann::json::parse(r->body)["description"], std::string(140, 'a'));
  u.description = std::string(141, 'a');
  r = CommitStatusCall(GitHub(), u);
  EXPECT_EQ(nlohmann::json::parse(r->body)["description"], std::string(140, 'a'));
}

TEST(CommitStatusTest, InvalidUtf8InADescriptionDoesNotThrow) {
  StatusUpdate u = Update(CommitState::kFailure);
  u.description = "bad \xff\xfe byte";
  auto r = CommitStatusCall(GitLab(), u);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(nlohmann::json::accept(r->body));
}

TEST(CommitStatusTest, EmptyTargetUrlIsLeftOut) {
  StatusUpdate u = Update(CommitState::kPending);
  u.target_url.clear();
  auto r = CommitStatusCall(GitHub(), u);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(nlohmann::json::parse(r->body).contains("target_url"));
}

TEST(CommitStatusTest, RefusedTargetsAndUpdatesNeverShowTheToken) {
  auto refused = [](StatusTarget t, StatusUpdate u, const std::string& message) {
    auto r = CommitStatusCall(t, u);
    ASSERT_FALSE(r.ok()) << message;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(), message);
    if (!t.token.empty()) EXPECT_EQ(r.status().message().find(t.token), std::string::npos);
  };
  StatusUpdate u = Update(CommitState::kPending);
  StatusTarget t = GitHub();
  t.api_base = "ftp://api.github.com";
  refused(t, u, "status target: api_base is not an http(s) URL");
  t.api_base = "file:///etc";
  refused(t, u, "status target: api_base is not an http(s) URL");
  t.api_base = "https://api.github.com\r\nX-Evil: 1";
  refused(t, u, "status target: api_base holds a space, a control character, '?' or '#'");
  t = GitHub();
  t.token = "ghp_abc\r\nX-Evil: 1";
  refused(t, u, "status target: token is empty or holds a control character");
  t.token = "";
  refused(t, u, "status target: token is empty or holds a control character");
  t = GitHub();
  StatusUpdate bad = u;
  bad.commit = "6113728F27AE82C7B1A177C8D03F9E96E0ADF246";
  refused(t, bad, "status update: commit is not a commit id (40 lowercase hex digits)");
  bad.commit = "../../../admin";
  refused(t, bad, "status update: commit is not a commit id (40 lowercase hex digits)");
  bad = u;
  bad.target_url = "https://x\n";
  refused(t, bad, "status update: target_url holds a control character");
  StatusTarget g = GitLab();
  g.project_id = "";
  refused(g, u, "status target: project_id is empty");
}

}  // namespace
}  // namespace slipway::webhooks
