// Where a run's code comes from, through a real slipwayd:
// - a repository served by `git daemon` (git://) and by `git http-backend`
//   (smart http://): the pushed commit is what runs;
// - `slipway pipeline exec DIR` (and POST /api/v1/runs/exec) on a working
//   tree with uncommitted changes: the working tree is what runs, without
//   its .git, and the CLI exits with the run's result;
// - the CLI over repositories and runs: `repo add`, `pipeline run --wait`
//   (exit 0 on success, 1 on failure), `pipeline ls`, `show`, `logs`.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/pipelines/e2e/pipeline_fixture.h"
#include "tests/pipelines/git_fixture.h"

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
    commands: ["echo greetings-from-the-cli"]
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

  Outcome pass =
      daemon().Cli({"pipeline", "run", "cli", "--branch", "main", "--wait"}, {}, std::chrono::seconds(120));
  EXPECT_EQ(pass.code, 0) << pass;
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
  Outcome logs = daemon().Cli({"pipeline", "logs", passed, "greet"});
  EXPECT_EQ(logs.code, 0) << logs;
  EXPECT_EQ(logs.out, "greetings-from-the-cli\n") << logs;
  Outcome rm = daemon().Cli({"repo", "rm", "cli"});
  EXPECT_EQ(rm.code, 0) << rm;
  EXPECT_EQ(Api().Get("/api/v1/repos/cli").status, 404);
}

}  // namespace
}  // namespace slipway::testing
