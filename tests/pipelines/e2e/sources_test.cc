// Where a run's code comes from, through a real slipwayd:
// - a repository served by `git daemon` (git://) and by `git http-backend`
//   (smart http://): the pushed commit is what runs; a server that is down
//   or a branch it lacks is an `error` that starts nothing;
// - `slipway pipeline exec DIR` (and POST /api/v1/runs/exec) on a working
//   tree with uncommitted changes: the working tree is what runs, without
//   its .git, and the CLI exits with the run's result;
// - the CLI over repositories and runs: `repo add`, `repo secret set` (from
//   stdin; masked in the log `pipeline logs` prints), `pipeline run --wait`
//   (exit 0 on success, 1 on failure), `pipeline ls`, `show`, `logs`.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tests/pipelines/e2e/pipeline_fixture.h"
#include "tests/pipelines/git_fixture.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/subprocess.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

const std::string kShowCommit = R"(
steps:
  - name: show
    image: busybox
    commands: ["echo $SLIPWAY_COMMIT", "cat message.txt"]
)";

class SourcesTest : public PipelineTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(SourcesTest, RunsThePushedCommitOfARemoteRepository) {
  PipelineRepo repo;
  repo.Push(kShowCommit, {{"message.txt", "first\n"}});
  std::unique_ptr<GitDaemon> git_daemon;
  std::unique_ptr<GitHttpServer> http;
  std::string url;
  if (GetParam() == "git") {
    git_daemon = std::make_unique<GitDaemon>(repo.repo().base_dir());
    url = git_daemon->url();
  } else {
    http = std::make_unique<GitHttpServer>(repo.repo().base_dir());
    url = http->url();
  }
  ASSERT_FALSE(AddRepo("remote", url).is_null());
  int64_t first = Trigger("remote", {{"branch", "main"}});
  std::string commit = repo.Push(kShowCommit, {{"message.txt", "second\n"}});
  json run = AwaitRun(first);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  // Pushed after the trigger, before the fetch: either commit may run, but
  // the log and the record must agree.
  EXPECT_EQ(StepLog(first, "show").substr(0, 41), Str(run, "commit") + "\n");

  int64_t second = Trigger("remote", {{"commit", commit}});
  run = AwaitRun(second);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  EXPECT_EQ(Str(run, "commit"), commit) << run.dump();
  EXPECT_EQ(StepLog(second, "show"), commit + "\nsecond\n");
  ExpectNothingLeft(first);
  ExpectNothingLeft(second);
}

TEST_P(SourcesTest, AFetchThatFailsIsAnErrorAndStartsNothing) {
  // A server that is down, and a branch the server does not have.
  PipelineRepo repo;
  repo.Push(kShowCommit, {{"message.txt", "first\n"}});
  std::string down = GetParam() == "git"
                         ? "git://127.0.0.1:" + std::to_string(FreeLoopbackPort()) + "/repo.git"
                         : "http://127.0.0.1:" + std::to_string(FreeLoopbackPort()) + "/repo.git";
  ASSERT_FALSE(AddRepo("down", down).is_null());
  std::unique_ptr<GitDaemon> git_daemon;
  std::unique_ptr<GitHttpServer> http;
  if (GetParam() == "git") {
    git_daemon = std::make_unique<GitDaemon>(repo.repo().base_dir());
    ASSERT_FALSE(AddRepo("up", git_daemon->url()).is_null());
  } else {
    http = std::make_unique<GitHttpServer>(repo.repo().base_dir());
    ASSERT_FALSE(AddRepo("up", http->url()).is_null());
  }
  double started_before = daemon().Metric("slipway_sandboxes_started_total");
  for (auto [name, branch] :
       {std::pair<std::string, std::string>{"down", "main"}, {"up", "no-such-branch"}}) {
    int64_t id = Trigger(name, {{"branch", branch}});
    json run = AwaitRun(id);
    EXPECT_EQ(Str(run, "status"), "error") << run.dump();
    EXPECT_NE(Str(run, "error"), "") << run.dump();
    EXPECT_EQ(Str(run, "commit"), "") << run.dump();
    ExpectNothingLeft(id);
  }
  EXPECT_EQ(daemon().Metric("slipway_sandboxes_started_total"), started_before) << "a sandbox started";
  // The mirror was not left half-made: the same repository still runs.
  int64_t id = Trigger("up", {{"branch", "main"}});
  EXPECT_EQ(Str(AwaitRun(id), "status"), "success");
}

INSTANTIATE_TEST_SUITE_P(Transports, SourcesTest, ::testing::Values("git", "http"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

class ExecTest : public PipelineTest {};

TEST_F(ExecTest, PipelineExecRunsTheWorkingTreeWithItsUncommittedChanges) {
  PipelineRepo repo;
  repo.Push(R"(
steps:
  - name: show
    image: busybox
    commands: ["cat message.txt", "cat untracked.txt", "test ! -e .git"]
)",
            {{"message.txt", "from-the-commit\n"}});
  const std::string tree = repo.repo().work_dir();
  std::ofstream(tree + "/message.txt", std::ios::trunc) << "from-the-working-tree\n";
  std::ofstream(tree + "/untracked.txt") << "not-even-added\n";

  Outcome exec = daemon().Cli({"pipeline", "exec", tree}, {}, std::chrono::seconds(120));
  EXPECT_EQ(exec.code, 0) << exec;
  EXPECT_TRUE(Contains(exec.out + exec.err, "from-the-working-tree\nnot-even-added\n")) << exec;
  EXPECT_FALSE(Contains(exec.out + exec.err, "from-the-commit")) << exec;

  // The same through the API: a run without a repository.
  HttpReply r = Api().Post("/api/v1/runs/exec", {{"dir", tree}});
  ASSERT_EQ(r.status, 201) << r;
  int64_t id = Int(r.Json(), "id", 0);
  json run = AwaitRun(id);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  EXPECT_EQ(Str(run, "repo"), "") << run.dump();
  EXPECT_EQ(StepLog(id, "show"), "from-the-working-tree\nnot-even-added\n");
  ExpectNothingLeft(id);

  // An uncommitted change of the pipeline file itself runs too; its failure
  // is the CLI's exit code.
  std::ofstream(tree + "/.slipway.yml", std::ios::trunc) << R"(
steps:
  - name: fail
    image: busybox
    commands: ["echo failing-on-purpose", "exit 7"]
)";
  exec = daemon().Cli({"pipeline", "exec", tree}, {}, std::chrono::seconds(120));
  EXPECT_EQ(exec.code, 1) << exec;
  EXPECT_TRUE(Contains(exec.out + exec.err, "failing-on-purpose")) << exec;

  // Not a directory with a pipeline: refused, nothing queued.
  HttpReply relative = Api().Post("/api/v1/runs/exec", {{"dir", "relative/path"}});
  EXPECT_EQ(relative.status, 400) << relative;
}

TEST_F(ExecTest, CliAddsRepositoriesRunsPipelinesAndExitsWithTheResult) {
  PipelineRepo repo;
  repo.Push(R"(
steps:
  - name: greet
    image: busybox
    secrets: [CLI_TOKEN]
    commands: ["echo greetings-from-the-cli", "echo \"token $CLI_TOKEN\""]
)",
            {}, "main");
  repo.Push(R"(
steps:
  - name: greet
    image: busybox
    commands: ["echo about-to-fail", "false"]
)",
            {}, "broken");
  Outcome add = daemon().Cli({"repo", "add", "cli", "--url", repo.file_url()});
  ASSERT_EQ(add.code, 0) << add;
  Outcome ls = daemon().Cli({"repo", "ls"});
  EXPECT_EQ(ls.code, 0) << ls;
  EXPECT_TRUE(Contains(ls.out, "cli")) << ls;
  // The value comes on stdin, as `repo secret set` reads it.
  const std::string secret = "cli-secret-Vb7q-never-shown";
  std::vector<std::string> env = daemon().Env();
  env.push_back("SECRET=" + secret);
  env.push_back("CLI=" + Binaries().cli);
  Outcome set =
      Execute({"/bin/sh", "-c", "printf %s \"$SECRET\" | \"$CLI\" repo secret set cli CLI_TOKEN"}, env);
  ASSERT_EQ(set.code, 0) << set;
  Outcome names = daemon().Cli({"repo", "secret", "ls", "cli"});
  EXPECT_EQ(names.code, 0) << names;
  EXPECT_TRUE(Contains(names.out, "CLI_TOKEN")) << names;
  EXPECT_FALSE(Contains(names.out + names.err, secret)) << names;

  Outcome pass =
      daemon().Cli({"pipeline", "run", "cli", "--branch", "main", "--wait"}, {}, std::chrono::seconds(120));
  EXPECT_EQ(pass.code, 0) << pass;
  EXPECT_FALSE(Contains(pass.out + pass.err, secret)) << pass;
  Outcome fail =
      daemon().Cli({"pipeline", "run", "cli", "--branch", "broken", "--wait"}, {}, std::chrono::seconds(120));
  EXPECT_EQ(fail.code, 1) << fail;

  HttpReply list = Api().Get("/api/v1/runs?repo=cli");
  ASSERT_EQ(list.status, 200) << list;
  json runs = list.Json()["runs"];
  ASSERT_EQ(runs.size(), 2u) << list;
  // Newest first.
  std::string failed = Str(runs[0], "id"), passed = Str(runs[1], "id");
  EXPECT_EQ(Str(runs[0], "status"), "failure") << list;
  EXPECT_EQ(Str(runs[1], "status"), "success") << list;

  Outcome pls = daemon().Cli({"pipeline", "ls", "--repo", "cli", "--format", "json"});
  EXPECT_EQ(pls.code, 0) << pls;
  EXPECT_TRUE(Contains(pls.out, "failure") && Contains(pls.out, "success")) << pls;
  Outcome show = daemon().Cli({"pipeline", "show", failed});
  EXPECT_EQ(show.code, 0) << show;
  EXPECT_TRUE(Contains(show.out, "greet")) << show;
  Outcome show_json = daemon().Cli({"pipeline", "show", passed, "--format", "json"});
  EXPECT_FALSE(Contains(show_json.out, secret)) << show_json;
  Outcome logs = daemon().Cli({"pipeline", "logs", passed, "greet"});
  EXPECT_EQ(logs.code, 0) << logs;
  EXPECT_EQ(logs.out, "greetings-from-the-cli\ntoken ****\n") << logs;
  Outcome rm = daemon().Cli({"repo", "rm", "cli"});
  EXPECT_EQ(rm.code, 0) << rm;
  EXPECT_EQ(Api().Get("/api/v1/repos/cli").status, 404);
}

}  // namespace
}  // namespace slipway::testing
