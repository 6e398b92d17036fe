// Test results through a real slipwayd (docs/api.md, "Test results"): a
// `pipeline exec` run whose step writes a JUnit report, its cases listed by
// status and page, one case whole; and what the routes refuse: 400 naming
// the parameter, 404 for a run, repository or test that does not exist.
// How runs of repositories make history and flaky tests is tested end to
// end in tests/pipelines/e2e/test_results_test.cc.
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/pipelines/git_fixture.h"
#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

// Three cases, one failed with output, one skipped.
constexpr char kReport[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="calc" tests="3" failures="1" skipped="1">
    <testcase classname="calc.AddTest" name="adds" time="0.012"/>
    <testcase classname="calc.AddTest" name="carries" time="0.250" file="calc/add_test.py" line="17">
      <failure message="expected 10, got 0" type="AssertionError">Traceback: carries()</failure>
      <system-out>carry=0</system-out>
    </testcase>
    <testcase classname="calc.AddTest" name="overflows"><skipped message="not yet"/></testcase>
  </testsuite>
</testsuites>
)";

class TestsApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemon_ = StartDaemonWithBusybox().release();
    if (!daemon_) return;
    // One exec run that wrote the report, shared by the tests below.
    dir_ = new std::string(MakeTempDir("tree"));
    std::ofstream(*dir_ + "/.slipway.yml")
        << "steps:\n"
           "  - name: unit\n"
           "    image: busybox\n"
           "    commands: [\"mkdir -p out\", \"cp report.xml out/junit.xml\"]\n"
           "reports: [\"out/*.xml\"]\n";
    std::ofstream(*dir_ + "/report.xml") << kReport;
    HttpReply r = daemon_->Api().Post("/api/v1/runs/exec", {{"dir", *dir_}});
    run_ = r.status == 201 ? r.Json().value("id", int64_t{0}) : 0;
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
         run_ && std::chrono::steady_clock::now() < deadline;) {
      json run = daemon_->Api().Get("/api/v1/runs/" + std::to_string(run_)).Json();
      if (run.value("status", "") == "success" || run.value("status", "") == "failure") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
    if (dir_) std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  void SetUp() override {
    if (!daemon_) GTEST_SKIP() << "slipwayd did not start";
    ASSERT_NE(run_, 0) << "the exec run was not queued";
  }

  ApiClient Api() const { return daemon_->Api(); }
  std::string Tests(const std::string& query = "") const {
    return "/api/v1/runs/" + std::to_string(run_) + "/tests" + query;
  }

  static DaemonUnderTest* daemon_;
  static std::string* dir_;
  static int64_t run_;
};

DaemonUnderTest* TestsApiTest::daemon_ = nullptr;
std::string* TestsApiTest::dir_ = nullptr;
int64_t TestsApiTest::run_ = 0;

TEST_F(TestsApiTest, ARunsCasesByStatusAndPage) {
  json run = Api().Get("/api/v1/runs/" + std::to_string(run_)).Json();
  // A failed case does not fail the run: the steps decide.
  EXPECT_EQ(run.value("status", ""), "success") << run;
  EXPECT_EQ(run["tests"], json({{"total", 3}, {"passed", 1}, {"failed", 1}, {"errors", 0}, {"skipped", 1}}))
      << run;
  EXPECT_EQ(run["warnings"], json::array()) << run;

  HttpReply all = Api().Get(Tests());
  ASSERT_EQ(all.status, 200) << all;
  json body = all.Json();
  EXPECT_EQ(body["total"], 3);
  EXPECT_EQ(body["next_offset"], nullptr);
  ASSERT_EQ(body["tests"].size(), 3u) << body;
  EXPECT_EQ(body["tests"][0]["test"]["class_name"], "calc.AddTest");
  EXPECT_EQ(body["tests"][0]["test"]["name"], "adds");
  EXPECT_EQ(body["tests"][0]["duration_us"], 12000);
  EXPECT_EQ(body["tests"][1]["status"], "failed");
  EXPECT_EQ(body["tests"][1]["message"], "expected 10, got 0");
  EXPECT_EQ(body["tests"][1]["file"], "calc/add_test.py");
  EXPECT_EQ(body["tests"][1]["line"], 17);
  EXPECT_EQ(body["tests"][1]["step"], "unit") << "the file's mtime is within step unit's run";
  EXPECT_EQ(body["tests"][1].count("system_out"), 0u) << "a listing leaves the long texts out";
  EXPECT_EQ(body["reports"], json::array({{{"file", "out/junit.xml"}, {"step", "unit"}, {"cases", 3}}}));

  json failed = Api().Get(Tests("?status=failed,error")).Json();
  EXPECT_EQ(failed["total"], 1) << failed;
  ASSERT_EQ(failed["tests"].size(), 1u) << failed;
  EXPECT_EQ(failed["tests"][0]["index"], 1);

  json page = Api().Get(Tests("?limit=2")).Json();
  EXPECT_EQ(page["tests"].size(), 2u) << page;
  EXPECT_EQ(page["next_offset"], 2) << page;
  json rest = Api().Get(Tests("?limit=2&offset=2")).Json();
  ASSERT_EQ(rest["tests"].size(), 1u) << rest;
  EXPECT_EQ(rest["tests"][0]["test"]["name"], "overflows");
  EXPECT_EQ(rest["tests"][0]["message"], "not yet");

  json whole = Api().Get(Tests("/1")).Json();
  EXPECT_EQ(whole["details"], "Traceback: carries()") << whole;
  EXPECT_EQ(whole["system_out"], "carry=0") << whole;
  EXPECT_TRUE(IsApiError(Api().Get(Tests("/3")), 404, "not_found"));

  // The setup log says which reports were read.
  Outcome log = daemon_->Cli({"pipeline", "logs", std::to_string(run_), "_setup"});
  EXPECT_TRUE(Contains(log.out + log.err, "report out/junit.xml: 3 test cases (step unit)")) << log;
  Outcome cli = daemon_->Cli({"tests", std::to_string(run_), "--failed"});
  EXPECT_EQ(cli.code, 0) << cli;
  EXPECT_TRUE(Contains(cli.out, "calc.AddTest.carries")) << cli;
  EXPECT_FALSE(Contains(cli.out, "calc.AddTest.adds")) << cli;
  EXPECT_TRUE(Contains(cli.out, "3 tests: 1 passed, 1 failed, 0 errors, 1 skipped")) << cli;
  Outcome show = daemon_->Cli({"pipeline", "show", std::to_string(run_)});
  EXPECT_TRUE(Contains(show.out, "1 passed, 1 failed, 1 skipped")) << show;
  Outcome ls = daemon_->Cli({"pipeline", "ls"});
  EXPECT_TRUE(Contains(ls.out, "TESTS")) << ls;
  EXPECT_TRUE(Contains(ls.out, "1/3 passed")) << ls;
}

TEST_F(TestsApiTest, BadParametersAreRefusedNamingThem) {
  const std::vector<std::pair<std::string, std::string>> run_cases = {
      {"?status=bogus", "status"}, {"?status=", "status"},   {"?status=failed,", "status"},
      {"?limit=0", "limit"},       {"?limit=1001", "limit"}, {"?offset=-1", "offset"},
      {"?offset=x", "offset"},     {"?page=2", "page"},
  };
  for (const auto& [query, param] : run_cases) {
    HttpReply r = Api().Get(Tests(query));
    EXPECT_TRUE(IsApiError(r, 400, "invalid_argument")) << query << "\n" << r;
    EXPECT_TRUE(Contains(r.Json()["error"].value("message", ""), param)) << query << " -> " << r;
  }
  TestRepo repo;
  repo.Commit({{".slipway.yml", "steps: [{name: a, image: busybox, commands: [true]}]\n"}}, "init");
  repo.Push("main");
  ASSERT_EQ(Api().Post("/api/v1/repos", {{"name", "tapp"}, {"url", repo.file_url()}}).status, 201);
  const std::vector<std::pair<std::string, std::string>> repo_cases = {
      {"flaky?runs=0", "runs"},           {"flaky?runs=1001", "runs"}, {"flaky?min_flips=0", "min_flips"},
      {"flaky?min_flips=x", "min_flips"}, {"flaky?branch=", "branch"}, {"flaky?limit=3", "limit"},
      {"slowest?limit=0", "limit"},       {"slowest?runs=-1", "runs"}, {"1/history?runs=abc", "runs"},
  };
  for (const auto& [path, param] : repo_cases) {
    HttpReply r = Api().Get("/api/v1/repos/tapp/tests/" + path);
    EXPECT_TRUE(IsApiError(r, 400, "invalid_argument")) << path << "\n" << r;
    EXPECT_TRUE(Contains(r.Json()["error"].value("message", ""), param)) << path << " -> " << r;
  }
  HttpReply none = Api().Get("/api/v1/repos/tapp/tests/flaky");
  ASSERT_EQ(none.status, 200) << none;
  EXPECT_EQ(none.Json()["tests"], json::array());
  EXPECT_EQ(Api().Get("/api/v1/repos/tapp/tests/slowest").Json()["tests"], json::array());

  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/runs/999999/tests"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/runs/abc/tests"), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Get(Tests("/x")), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/repos/nosuch/tests/flaky"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/repos/nosuch/tests/slowest"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/repos/tapp/tests/123456/history"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/repos/tapp/tests/no.such.test/history"), 404, "not_found"));
  // An exec run's tests are its own: not the repository's.
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/repos/tapp/tests/calc.AddTest.adds/history"), 404, "not_found"));
  Outcome cli = daemon_->Cli({"tests", "flaky", "tapp", "--runs", "0"});
  EXPECT_EQ(cli.code, 125) << cli;
  EXPECT_TRUE(Contains(cli.err, "runs")) << cli;
  EXPECT_EQ(Api().Delete("/api/v1/repos/tapp").status, 204);
}

}  // namespace
}  // namespace slipway::testing
