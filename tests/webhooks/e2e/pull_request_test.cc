// Pull (merge) requests, as each forge sends them: one from a branch of the
// repository runs its head commit with the repository's secrets; one from a
// fork runs with none at all, however its pipeline asks (a fork's pipeline
// is anyone's code).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/webhooks/e2e/webhook_fixture.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

const std::string kSecret = "pr-webhook-secret";
// The repository secret, in two halves so the pipeline file never holds it.
const std::string kHalf1 = "deploy-Kq2";
const std::string kHalf2 = "-x9-never-to-forks";

// The step names the secret; it says whether it got it (the right value),
// and counts the variables holding the value in its whole environment (an
// empty DEPLOY_TOKEN, as GitHub Actions gives forks, holds no secret).
std::string Pipeline() {
  return "steps:\n"
         "  - name: check\n"
         "    image: busybox\n"
         "    secrets: [DEPLOY_TOKEN]\n"
         "    env: {HALF1: " +
         Q(kHalf1) + ", HALF2: " + Q(kHalf2) +
         "}\n"
         "    commands:\n"
         "      - " +
         Q(R"(if [ "${DEPLOY_TOKEN:-}" = "$HALF1$HALF2" ]; then echo has-secret; elif [ -z "${DEPLOY_TOKEN:-}" ]; then echo no-secret; else echo other-value; fi)") +
         "\n"
         "      - " +
         Q(R"x(echo "vars:$(env | grep -c -F "$HALF1$HALF2" || true)")x") +
         "\n"
         "      - " +
         Q(R"(echo "$SLIPWAY_EVENT|$SLIPWAY_BRANCH|$SLIPWAY_COMMIT")") + "\n";
}

std::string HeadRef(const std::string& forge, int64_t number) {
  return forge == "gitlab" ? "refs/merge-requests/" + std::to_string(number) + "/head"
                           : "refs/pull/" + std::to_string(number) + "/head";
}

class PullRequestTest : public WebhookTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(PullRequestTest, ABranchsPullRequestGetsSecretsAForksGetsNone) {
  const std::string forge = GetParam();
  ForgeRepoInfo info{forge, "team/app"};
  PipelineRepo repo;
  repo.Push(Pipeline());
  // A branch of the repository, and the forge's ref for its request.
  std::string branch_head = repo.Push(Pipeline(), {{"feature.txt", "1"}}, "feature");
  repo.repo().Push("feature:" + HeadRef(forge, 7));
  // A fork's commit: only on the forge's ref for the request (as GitHub,
  // Gitea and GitLab keep it on the base repository), on no branch.
  repo.repo().WorkGit("checkout -q -b fork-local main");
  std::string fork_head = repo.repo().Commit({{"fork.txt", "mine"}}, "from a fork");
  repo.repo().Push("fork-local:" + HeadRef(forge, 8));
  ASSERT_FALSE(AddForgeRepo("app", repo.file_url(), info, kSecret).is_null());
  SetSecret("app", "DEPLOY_TOKEN", kHalf1 + kHalf2);

  std::string opened = forge == "gitlab" ? "open" : "opened";
  HttpReply from_branch =
      Deliver(Sign(forge, "pull_request",
                   PullRequestPayload(info, 7, opened, "main", "feature", branch_head).dump(), kSecret));
  int64_t branch_run = QueuedRun(from_branch);
  HttpReply from_fork = Deliver(
      Sign(forge, "pull_request",
           PullRequestPayload(info, 8, opened, "main", "feature", fork_head, "mallory/app").dump(), kSecret));
  int64_t fork_run = QueuedRun(from_fork);
  ASSERT_GT(branch_run, 0);
  ASSERT_GT(fork_run, 0);

  json run = AwaitRun(branch_run);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  EXPECT_EQ(Str(run, "event"), "pull_request");
  EXPECT_EQ(Int(run, "pull_request"), 7);
  EXPECT_EQ(Str(run, "head_ref"), HeadRef(forge, 7));
  EXPECT_EQ(Str(run, "no_secrets"), "false");
  EXPECT_EQ(Str(run, "branch"), "main");  // its target branch
  EXPECT_EQ(Str(run, "commit"), branch_head);
  EXPECT_TRUE(Output(branch_run, "check").starts_with("has-secret\nvars:1\npull_request|main|" + branch_head))
      << Output(branch_run, "check");

  run = AwaitRun(fork_run);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  EXPECT_EQ(Str(run, "event"), "pull_request");
  EXPECT_EQ(Int(run, "pull_request"), 8);
  EXPECT_EQ(Str(run, "no_secrets"), "true");
  EXPECT_EQ(Str(run, "commit"), fork_head);
  std::string log = Output(fork_run, "check");
  // (slipwayd may add a line saying the secrets were withheld.)
  EXPECT_TRUE(log.starts_with("no-secret\nvars:0\npull_request|main|" + fork_head)) << log;
  // The value would be masked in a log: nothing was.
  EXPECT_EQ(log.find("****"), std::string::npos) << "something was masked in the fork's log: " << log;
}

INSTANTIATE_TEST_SUITE_P(Forges, PullRequestTest, ::testing::Values("github", "gitea", "gitlab"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace slipway::testing
