// Commit statuses back to the forge, recorded by a local stand-in of each
// forge's status API: pending when the run is queued (and starts), then its
// result, in that order, with the repository's token, context "slipway" and
// a link to the run. A forge that is down changes nothing for the run, and
// the final status arrives once it is back (retried).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/testing/fixtures.h"
#include "tests/testing/forge_standin.h"
#include "tests/webhooks/e2e/webhook_fixture.h"

namespace slipway::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::string kSecret = "status-webhook-secret";
const std::string kToken = "ghp_statusTOKENfor-tests-0123456789";

std::string ApiBase(const std::string& forge, int port) {
  std::string url = "http://127.0.0.1:" + std::to_string(port);
  if (forge == "gitea") return url + "/api/v1";
  if (forge == "gitlab") return url + "/api/v4";
  return url;
}

std::string StatusPath(const ForgeRepoInfo& info, const std::string& sha) {
  if (info.forge == "gitlab")
    return "/api/v4/projects/" + std::to_string(info.project_id) + "/statuses/" + sha;
  return std::string(info.forge == "gitea" ? "/api/v1" : "") + "/repos/" + info.full_name + "/statuses/" +
         sha;
}

class StatusTest : public WebhookTest, public ::testing::WithParamInterface<std::string> {
 protected:
  json AddWithStatuses(const std::string& name, const PipelineRepo& repo, const ForgeRepoInfo& info,
                       const std::string& api) {
    return AddForgeRepo(name, repo.file_url(), info, kSecret,
                        {{"status_api", api}, {"status_token", kToken}});
  }
  // Waits until the stand-in has `final` as the last state for `sha`.
  std::vector<std::string> AwaitFinalState(const ForgeStandin& standin, const std::string& sha,
                                           const std::string& final, seconds deadline = seconds(30)) {
    std::vector<std::string> states;
    bool arrived = WaitUntil(
        [&] {
          states = standin.States(sha);
          return !states.empty() && states.back() == final;
        },
        deadline);
    EXPECT_TRUE(arrived) << "no final " << final << " for " << sha
                         << "; states so far: " << ::testing::PrintToString(states);
    return states;
  }
};

TEST_P(StatusTest, PendingThenTheResultInOrder) {
  const std::string forge = GetParam();
  ForgeRepoInfo info{forge, "team/app", 31};
  ForgeStandin standin(kToken);
  ASSERT_TRUE(standin.Start());
  PipelineRepo repo;
  std::string base = repo.Push(OneStep("true"));
  std::string good = repo.Push(OneStep("true"));
  std::string bad = repo.Push(OneStep("false"), {}, "broken");
  ASSERT_FALSE(AddWithStatuses("app", repo, info, ApiBase(forge, standin.port())).is_null());

  int64_t pass = QueuedRun(
      Deliver(Sign(forge, "push", PushPayload(info, "refs/heads/main", base, good).dump(), kSecret)));
  int64_t fail = QueuedRun(
      Deliver(Sign(forge, "push", PushPayload(info, "refs/heads/broken", kZeroCommit, bad).dump(), kSecret)));
  ASSERT_GT(pass, 0);
  ASSERT_GT(fail, 0);
  EXPECT_EQ(Str(AwaitRun(pass), "status"), "success");
  EXPECT_EQ(Str(AwaitRun(fail), "status"), "failure");

  const std::string failed = forge == "gitlab" ? "failed" : "failure";
  for (auto [sha, id, final] :
       {std::tuple{good, pass, std::string("success")}, std::tuple{bad, fail, failed}}) {
    std::vector<std::string> states = AwaitFinalState(standin, sha, final);
    // In order: pending (GitLab: then running) before the one final state.
    // The reporter may skip a state overtaken before it was sent (GitLab's
    // pending by running), never reorder them.
    ASSERT_GE(states.size(), 2u) << ::testing::PrintToString(states);
    auto rank = [&](const std::string& s) {
      return s == "pending" ? 0 : s == "running" && forge == "gitlab" ? 1 : 2;
    };
    EXPECT_EQ(states.front(), "pending") << ::testing::PrintToString(states);
    for (size_t i = 0; i + 1 < states.size(); ++i) {
      EXPECT_LT(rank(states[i]), 2) << "state " << i << " of " << ::testing::PrintToString(states);
      EXPECT_LE(rank(states[i]), rank(states[i + 1])) << ::testing::PrintToString(states);
    }
    // Every call for the commit: the right path, token and body.
    for (const StatusCall& c : standin.Calls()) {
      if (c.commit != sha) continue;
      EXPECT_EQ(c.path, StatusPath(info, sha));
      EXPECT_EQ(c.answered, 201) << c.path << " " << c.body;  // 401: the token was wrong
      EXPECT_EQ(c.context, "slipway") << c.body;
      EXPECT_NE(c.target_url.find("/api/v1/runs/" + std::to_string(id)), std::string::npos) << c.body;
      EXPECT_FALSE(c.description.empty()) << c.body;
      EXPECT_LE(c.description.size(), 140u);
    }
  }
  // Nothing else was called (no other commit, no bad token).
  for (const StatusCall& c : standin.Calls()) {
    EXPECT_TRUE(c.commit == good || c.commit == bad) << c.path;
  }
  // The token is in no answer and not in slipwayd's output.
  EXPECT_EQ(Api().Get("/api/v1/repos/app").body.find(kToken), std::string::npos);
  EXPECT_EQ(daemon().Log().find(kToken), std::string::npos) << "slipwayd's log holds the status token";
}

TEST_P(StatusTest, AForgeThatIsDownChangesNothingAndGetsTheStatusLater) {
  const std::string forge = GetParam();
  ForgeRepoInfo info{forge, "team/app", 32};
  // Not started: its port (free a moment ago) refuses connections. (Not
  // Start() then Stop(): a Stop() before httplib's listen loop runs does
  // not stop it, and the join hangs.)
  ForgeStandin standin(kToken);
  const int port = FreeLoopbackPort();
  PipelineRepo repo;
  std::string base = repo.Push(OneStep("true"));
  std::string commit = repo.Push(OneStep("true"));
  ASSERT_FALSE(AddWithStatuses("app", repo, info, ApiBase(forge, port)).is_null());

  int64_t id = QueuedRun(
      Deliver(Sign(forge, "push", PushPayload(info, "refs/heads/main", base, commit).dump(), kSecret)));
  ASSERT_GT(id, 0);
  json run = AwaitRun(id);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  EXPECT_EQ(Str(run, "error"), "");
  // Other runs are not held up by it.
  std::string next = repo.Push(OneStep("true"));
  int64_t second = QueuedRun(
      Deliver(Sign(forge, "push", PushPayload(info, "refs/heads/main", commit, next).dump(), kSecret)));
  ASSERT_GT(second, 0);
  EXPECT_EQ(Str(AwaitRun(second), "status"), "success");

  // The forge comes back on the same address: the final status arrives.
  ASSERT_TRUE(standin.Start(port));
  AwaitFinalState(standin, commit, "success", seconds(90));
  AwaitFinalState(standin, next, "success", seconds(90));
  EXPECT_EQ(Str(GetRun(id), "status"), "success");
}

INSTANTIATE_TEST_SUITE_P(Forges, StatusTest, ::testing::Values("github", "gitea", "gitlab"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace slipway::testing
