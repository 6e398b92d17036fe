// /api/v1/runs through a real slipwayd (docs/api.md, "Runs"): what the
// routes refuse (400 naming the parameter or field, 404 for what does not
// exist, 409 for what has ended), and the wiring of slipwayd's RunService
// end to end: `slipway pipeline exec` on a working tree runs real steps in
// sandboxes, streams their logs and exits with the run's result; a run of a
// registered repository (a real bare git repository) can be listed, shown,
// cancelled, and holds its repository until it has ended. How runs execute
// (services, limits, crashes) is tested in tests/e2e.
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/ascii.h"
#include "tests/pipelines/git_fixture.h"
#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

class RunsApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { daemon_ = StartDaemonWithBusybox().release(); }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }
  void SetUp() override {
    if (!daemon_) GTEST_SKIP() << "slipwayd did not start";
  }

  ApiClient Api() const { return daemon_->Api(); }

  // A working tree holding `pipeline` as its .slipway.yml.
  std::string WorkTree(const std::string& pipeline) {
    std::string dir = MakeTempDir("tree");
    dirs_.push_back(dir);
    std::ofstream(dir + "/.slipway.yml") << pipeline;
    std::ofstream(dir + "/uncommitted.txt") << "from the working tree\n";
    return dir;
  }
  void TearDown() override {
    for (const std::string& d : dirs_) std::filesystem::remove_all(d);
  }

  json WaitForStatus(int64_t id, const std::string& status) { return daemon_->WaitForRun(id, status); }

  static DaemonUnderTest* daemon_;
  std::vector<std::string> dirs_;
};

DaemonUnderTest* RunsApiTest::daemon_ = nullptr;

TEST_F(RunsApiTest, ListRefusesBadParametersNamingThem) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"status=bogus", "status"},
      {"status=", "status"},
      {"event=nope", "event"},
      {"commit=xyz", "commit"},
      {"commit=abc", "commit"},
      {"commit=" + std::string(41, 'a'), "commit"},
      {"since=yesterday", "since"},
      {"since=2026-13-01T00:00:00Z", "since"},
      {"since=-5", "since"},
      {"until=2026-11-29", "until"},
      {"since=2000&until=1000", "until"},
      {"before=0", "before"},
      {"before=-1", "before"},
      {"before=x", "before"},
      {"limit=0", "limit"},
      {"limit=501", "limit"},
      {"limit=ten", "limit"},
      {"limit=99999999999999999999", "limit"},
      {"page=2", "page"},
  };
  for (const auto& [query, param] : cases) {
    HttpReply r = Api().Get("/api/v1/runs?" + query);
    EXPECT_TRUE(IsApiError(r, 400, "invalid_argument")) << query << "\n" << r;
    EXPECT_TRUE(Contains(r.Json()["error"].value("message", ""), param)) << query << " -> " << r;
  }
  HttpReply ok = Api().Get(
      "/api/v1/runs?repo=nosuch&branch=main&status=success&event=manual&commit=ABCD"
      "&since=2026-01-01T00:00:00Z&until=1900000000000&limit=500");
  ASSERT_EQ(ok.status, 200) << ok;
  EXPECT_EQ(ok.Json(), json({{"runs", json::array()}, {"next_before", nullptr}}));
}

TEST_F(RunsApiTest, UnknownRunsAndBadBodies) {
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/runs/abc"), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/runs/-1"), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/runs/0"), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/runs/999999"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/runs/999999/cancel"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/runs/999999/rerun"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/runs/999999/steps/unit/logs"), 404, "not_found"));
  EXPECT_TRUE(
      IsApiError(Api().Get("/api/v1/runs/999999/steps/unit/logs?follow=maybe"), 400, "invalid_argument"));

  HttpReply relative = Api().Post("/api/v1/runs/exec", {{"dir", "some/tree"}});
  EXPECT_TRUE(IsApiError(relative, 400, "invalid_argument")) << relative;
  EXPECT_TRUE(Contains(relative.body, "dir")) << relative;
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/runs/exec", json::object()), 400, "invalid_argument"));
  EXPECT_TRUE(
      IsApiError(Api().Post("/api/v1/runs/exec", {{"dir", "/tmp"}, {"env", "x"}}), 400, "invalid_argument"));

  HttpReply negative = Api().Post("/api/v1/runs/prune", {{"keep", -1}});
  EXPECT_TRUE(IsApiError(negative, 400, "invalid_argument")) << negative;
  EXPECT_TRUE(Contains(negative.body, "keep")) << negative;
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/runs/prune", json::object()), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/runs/prune", {{"keep", "5"}}), 400, "invalid_argument"));
  EXPECT_TRUE(
      IsApiError(Api().Post("/api/v1/runs/prune", {{"keep", 1}, {"repo", "nosuch"}}), 404, "not_found"));
}

TEST_F(RunsApiTest, ExecRunsAWorkingTreeAndExitsWithItsResult) {
  std::string passing = WorkTree(
      "steps:\n"
      "  - name: hello\n"
      "    image: busybox\n"
      "    commands: [\"cat uncommitted.txt\", \"echo to stderr >&2\"]\n");
  Outcome ok = daemon_->Cli({"pipeline", "exec", passing});
  EXPECT_EQ(ok.code, 0) << ok;
  EXPECT_TRUE(Contains(ok.out, "from the working tree\n")) << ok;
  EXPECT_TRUE(Contains(ok.err, "to stderr\n")) << ok;
  EXPECT_FALSE(Contains(ok.out, "[hello]")) << "one step: no prefix\n" << ok;
  EXPECT_TRUE(Contains(ok.err, ": success")) << ok;

  std::string failing = WorkTree(
      "steps:\n"
      "  - name: first\n"
      "    image: busybox\n"
      "    commands: [\"echo one\"]\n"
      "  - name: second\n"
      "    image: busybox\n"
      "    commands: [\"echo two\", \"exit 3\"]\n");
  Outcome bad = daemon_->Cli({"pipeline", "exec", failing});
  EXPECT_EQ(bad.code, 1) << bad;
  EXPECT_TRUE(Contains(bad.out, "[first] one\n")) << bad;
  EXPECT_TRUE(Contains(bad.out, "[second] two\n")) << bad;
  EXPECT_TRUE(Contains(bad.err, ": failure")) << bad;

  std::string broken = WorkTree("steps:\n  - name: x\n    image: busybox\n    comands: [\"true\"]\n");
  Outcome error = daemon_->Cli({"pipeline", "exec", broken});
  EXPECT_EQ(error.code, 2) << error;
  EXPECT_TRUE(Contains(error.err, ": error")) << error;

  // What exec left is listed, shown and its logs read again.
  HttpReply failures = Api().Get("/api/v1/runs?status=failure&limit=1");
  ASSERT_EQ(failures.status, 200) << failures;
  ASSERT_EQ(failures.Json()["runs"].size(), 1u) << failures;
  json failed = failures.Json()["runs"][0];
  int64_t id = failed["id"];
  EXPECT_EQ(failed["source_dir"], failing) << failed;
  EXPECT_EQ(failures.Json()["next_before"], id) << "a full page says where the next begins";

  HttpReply one = Api().Get("/api/v1/runs/" + std::to_string(id));
  ASSERT_EQ(one.status, 200) << one;
  ASSERT_TRUE(one.Json()["steps"].is_array()) << one;
  std::vector<std::string> steps;
  const json run = one.Json();
  for (const json& s : run["steps"]) steps.push_back(s.value("name", "") + ":" + s.value("status", ""));
  EXPECT_EQ(steps, (std::vector<std::string>{"_setup:success", "first:success", "second:failure"})) << one;

  Outcome logs = daemon_->Cli({"pipeline", "logs", std::to_string(id), "second"});
  EXPECT_EQ(logs.code, 0) << logs;
  EXPECT_EQ(logs.out, "two\n") << logs;
  HttpReply sse = Api().Send("GET", "/api/v1/runs/" + std::to_string(id) + "/steps/second/logs", "", "",
                             {"Accept: text/event-stream"});
  EXPECT_EQ(sse.status, 200) << sse;
  EXPECT_TRUE(Contains(sse.body, "event: stdout\ndata: two\n")) << sse;
  EXPECT_TRUE(Contains(sse.body, "event: end\ndata: {")) << sse;
  EXPECT_TRUE(
      IsApiError(Api().Get("/api/v1/runs/" + std::to_string(id) + "/steps/third/logs"), 404, "not_found"));

  Outcome show = daemon_->Cli({"pipeline", "show", std::to_string(id)});
  EXPECT_EQ(show.code, 0) << show;
  EXPECT_TRUE(Contains(show.out, "failure")) << show;
  EXPECT_TRUE(Contains(show.out, "second")) << show;
  Outcome ls = daemon_->Cli({"pipeline", "ls", "--status", "failure", "--format", "json"});
  EXPECT_EQ(ls.code, 0) << ls;
  EXPECT_EQ(json::parse(ls.out, nullptr, false)["runs"][0]["id"], id) << ls;

  // An ended run cannot be cancelled; it can be re-run.
  EXPECT_TRUE(
      IsApiError(Api().Post("/api/v1/runs/" + std::to_string(id) + "/cancel"), 409, "failed_precondition"));
  HttpReply rerun = Api().Post("/api/v1/runs/" + std::to_string(id) + "/rerun");
  ASSERT_EQ(rerun.status, 201) << rerun;
  EXPECT_EQ(rerun.Json()["source_dir"], failing) << rerun;
  int64_t again = rerun.Json()["id"];
  EXPECT_GT(again, id);
  WaitForStatus(again, "failure");

  // Paging: `before` goes on below the previous page.
  HttpReply page = Api().Get("/api/v1/runs?limit=1&before=" + std::to_string(again));
  ASSERT_EQ(page.status, 200) << page;
  const json listed = page.Json();
  for (const json& r : listed["runs"]) EXPECT_LT(r["id"].get<int64_t>(), again);
}

TEST_F(RunsApiTest, ARepositoryIsHeldWhileItsRunRuns) {
  TestRepo repo;
  repo.Commit(
      {{".slipway.yml", "steps:\n  - name: wait\n    image: busybox\n    commands: [\"sleep 300\"]\n"}},
      "a step that waits");
  repo.Push("main");
  HttpReply added = Api().Post("/api/v1/repos", {{"name", "held"}, {"url", repo.file_url()}});
  ASSERT_EQ(added.status, 201) << added;

  HttpReply triggered = Api().Post("/api/v1/repos/held/runs", {{"branch", "main"}});
  ASSERT_EQ(triggered.status, 201) << triggered;
  EXPECT_EQ(triggered.Json()["event"], "manual");
  int64_t id = triggered.Json()["id"];
  json running = WaitForStatus(id, "running");
  ASSERT_EQ(running.value("status", ""), "running");

  HttpReply refused = Api().Delete("/api/v1/repos/held");
  EXPECT_TRUE(IsApiError(refused, 409, "failed_precondition")) << refused;
  EXPECT_EQ(Api().Get("/api/v1/repos/held").status, 200);

  Outcome cancel = daemon_->Cli({"pipeline", "cancel", std::to_string(id)});
  EXPECT_EQ(cancel.code, 0) << cancel;
  json cancelled = Api().Get("/api/v1/runs/" + std::to_string(id)).Json();
  EXPECT_EQ(cancelled.value("status", ""), "cancelled") << cancelled;
  EXPECT_TRUE(
      IsApiError(Api().Post("/api/v1/runs/" + std::to_string(id) + "/cancel"), 409, "failed_precondition"));

  // A re-run of the same commit, cancelled before or while it runs.
  HttpReply rerun = Api().Post("/api/v1/runs/" + std::to_string(id) + "/rerun");
  ASSERT_EQ(rerun.status, 201) << rerun;
  EXPECT_EQ(rerun.Json()["rerun_of"], id) << rerun;
  EXPECT_EQ(rerun.Json()["commit"], cancelled["commit"]) << rerun;
  int64_t again = rerun.Json()["id"];
  HttpReply cancel_again = Api().Post("/api/v1/runs/" + std::to_string(again) + "/cancel");
  ASSERT_EQ(cancel_again.status, 200) << cancel_again;
  EXPECT_EQ(cancel_again.Json()["status"], "cancelled") << cancel_again;

  HttpReply kept = Api().Post("/api/v1/runs/prune", {{"repo", "held"}, {"keep", 0}});
  ASSERT_EQ(kept.status, 200) << kept;
  EXPECT_EQ(kept.Json(), json({{"removed", {id, again}}}));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/runs/" + std::to_string(id)), 404, "not_found"));

  EXPECT_EQ(Api().Delete("/api/v1/repos/held").status, 204);
  EXPECT_EQ(daemon_->LeftoversAfter(), "");
}

TEST_F(RunsApiTest, CtrlCCancelsTheRunOfExec) {
  std::string dir = WorkTree(
      "steps:\n  - name: wait\n    image: busybox\n    commands: [\"echo waiting\", \"sleep 300\"]\n");
  Child cli = daemon_->SpawnCli({"pipeline", "exec", dir});
  // The run is found by its working tree, and interrupted once its step runs.
  int64_t id = 0;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       id == 0 && std::chrono::steady_clock::now() < deadline;) {
    json runs = Api().Get("/api/v1/runs?status=running").Json();
    for (const json& run : runs["runs"]) {
      if (run.value("source_dir", "") != dir) continue;
      json full = Api().Get("/api/v1/runs/" + std::to_string(run["id"].get<int64_t>())).Json();
      for (const json& step : full["steps"]) {
        if (step.value("name", "") == "wait" && step.value("status", "") == "running") id = run["id"];
      }
    }
    if (id == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(id, 0) << "the run of exec never ran its step";
  ASSERT_EQ(::kill(cli.pid, SIGINT), 0);
  Outcome o = Finish(cli);
  EXPECT_EQ(o.code, 128 + SIGINT) << o;
  EXPECT_TRUE(Contains(o.out, "waiting\n")) << o;
  EXPECT_TRUE(Contains(o.err, "cancelled run " + std::to_string(id))) << o;
  json run = Api().Get("/api/v1/runs/" + std::to_string(id)).Json();
  EXPECT_EQ(run.value("status", ""), "cancelled") << run;
  EXPECT_EQ(daemon_->LeftoversAfter(), "");
}

TEST_F(RunsApiTest, RunWaitFollowsARepositoryRun) {
  TestRepo repo;
  std::string commit = repo.Commit(
      {{".slipway.yml",
        "steps:\n  - name: greet\n    image: busybox\n    commands: [\"echo from the repository\"]\n"}},
      "a step that greets");
  repo.Push("main");
  Outcome add = daemon_->Cli({"repo", "add", "greeter", "--url", repo.file_url()});
  ASSERT_EQ(add.code, 0) << add;
  Outcome run = daemon_->Cli({"pipeline", "run", "greeter", "--commit", commit, "--wait"});
  EXPECT_EQ(run.code, 0) << run;
  EXPECT_TRUE(Contains(run.out, "from the repository\n")) << run;
  EXPECT_TRUE(Contains(run.err, ": success")) << run;

  HttpReply listed = Api().Get("/api/v1/runs?repo=greeter&commit=" + commit.substr(0, 8));
  ASSERT_EQ(listed.status, 200) << listed;
  json runs = listed.Json()["runs"];
  ASSERT_EQ(runs.size(), 1u) << listed;
  EXPECT_EQ(runs[0]["commit"], commit);
  EXPECT_EQ(runs[0]["message"], "a step that greets");
  std::string id = std::to_string(runs[0]["id"].get<int64_t>());
  Outcome logs = daemon_->Cli({"pipeline", "logs", "-f", id, "greet"});
  EXPECT_EQ(logs.code, 0) << logs;
  EXPECT_EQ(logs.out, "from the repository\n") << logs;
  Outcome table = daemon_->Cli({"pipeline", "ls", "--repo", "greeter"});
  EXPECT_EQ(table.code, 0) << table;
  EXPECT_TRUE(Contains(table.out, "RUN")) << table;
  EXPECT_TRUE(Contains(table.out, commit.substr(0, 10))) << table;
  EXPECT_TRUE(Contains(table.out, "success")) << table;
  Outcome none = daemon_->Cli({"pipeline", "run", "greeter", "--branch", "no-such-branch", "--wait"});
  EXPECT_EQ(none.code, 2) << none;
  EXPECT_TRUE(Contains(none.err, ": error")) << none;
  EXPECT_EQ(daemon_->Cli({"repo", "rm", "greeter"}).code, 0);
}

// slipwayd's wiring across a crash: after kill -9 the next slipwayd's
// Reconcile() removes the run's sandbox (it ends with its caller) and its
// Recover() records the run interrupted; it can then be re-run.
TEST(RunsRestartTest, ARunGoingOnAtACrashIsInterruptedAfterRestart) {
  std::unique_ptr<DaemonUnderTest> daemon = StartDaemonWithBusybox();
  ASSERT_TRUE(daemon);
  std::string dir = MakeTempDir("tree");
  std::ofstream(dir + "/.slipway.yml")
      << "steps:\n  - name: wait\n    image: busybox\n    commands: [\"sleep 300\"]\n";
  HttpReply queued = daemon->Api().Post("/api/v1/runs/exec", {{"dir", dir}});
  ASSERT_EQ(queued.status, 201) << queued;
  const std::string path = "/api/v1/runs/" + std::to_string(queued.Json()["id"].get<int64_t>());
  bool running = false;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       !running && std::chrono::steady_clock::now() < deadline;) {
    json run = daemon->Api().Get(path).Json();
    for (const json& step : run["steps"]) running = running || step.value("status", "") == "running";
    if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(running) << daemon->Api().Get(path);

  daemon->Kill9();
  ASSERT_TRUE(daemon->Restart());
  json after = daemon->Api().Get(path).Json();
  EXPECT_EQ(after.value("status", ""), "interrupted") << after;
  for (const json& step : after["steps"]) {
    if (step.value("name", "") == "wait") EXPECT_EQ(step.value("status", ""), "interrupted") << after;
  }
  EXPECT_TRUE(Contains(daemon->Log(), "\"event\":\"runs.interrupted\"")) << daemon->Log();
  EXPECT_EQ(daemon->LeftoversAfter(), "");
  HttpReply rerun = daemon->Api().Post(path + "/rerun");
  EXPECT_EQ(rerun.status, 201) << rerun;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace slipway::testing
