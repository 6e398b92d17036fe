// Test results end to end (docs/tests.md): real repositories, a real
// slipwayd, steps in sandboxes writing JUnit reports into the workspace.
//   - failed cases keep a run green (the steps decide) unless the file says
//     reports_fail_run; counts in the run, cases by step (a step's own
//     `reports`, or the top-level ones by mtime);
//   - one commit run five times with a test that fails on odd run ids: its
//     history across the five runs, and the flaky view lists it (same
//     commit, four flips while nothing else failed), by API and CLI;
//   - hostile reports (a billion laughs, 8 MB of nesting over the cap,
//     binary junk, a symlink out of the workspace, an empty file, a glob
//     matching nothing) each become a warning naming the file, and the run
//     still succeeds.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/pipelines/e2e/pipeline_fixture.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

// A shell command writing a JUnit report to `path`: `cases` are
// <testcase> elements.
std::string WriteReport(const std::string& path, const std::string& cases) {
  return "mkdir -p $(dirname " + path + ") && printf '%s\\n' '<testsuites><testsuite name=\"ci\">" + cases +
         "</testsuite></testsuites>' > " + path;
}

constexpr char kPass[] = "<testcase classname=\"ci.Calc\" name=\"adds\" time=\"0.5\"/>";
constexpr char kFail[] =
    "<testcase classname=\"ci.Calc\" name=\"divides\" time=\"0.25\">"
    "<failure message=\"division by zero\" type=\"ZeroDivisionError\">trace</failure></testcase>";

class TestResultsTest : public PipelineTest {
 protected:
  std::vector<std::string> DaemonArgs() const override { return {"--reports-max-bytes", "1m"}; }

  json Tests(int64_t run, const std::string& query = "") const {
    HttpReply r = Api().Get("/api/v1/runs/" + std::to_string(run) + "/tests" + query);
    EXPECT_EQ(r.status, 200) << r;
    return r.Json();
  }
};

TEST_F(TestResultsTest, FailedCasesKeepTheRunGreenUnlessReportsFailRun) {
  PipelineRepo repo;
  const std::string steps =
      "steps:\n"
      "  - name: unit\n"
      "    image: busybox\n"
      "    commands: [" +
      Q(WriteReport("out/unit.xml", std::string(kPass) + kFail)) +
      "]\n"
      "  - name: lint\n"
      "    image: busybox\n"
      "    reports: [\"lint/*.xml\"]\n"
      "    commands: [" +
      Q(WriteReport("lint/lint.xml", "<testcase classname=\"ci.Lint\" name=\"style\"/>")) +
      "]\n"
      "reports: [\"out/*.xml\", \"lint/*.xml\"]\n";
  repo.Push(steps, {}, "main");
  repo.Push(steps + "reports_fail_run: true\n", {}, "strict");
  ASSERT_FALSE(AddRepo("app", repo.file_url()).is_null());

  int64_t green = Trigger("app", {{"branch", "main"}});
  json run = AwaitRun(green);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  EXPECT_EQ(run["tests"], json({{"total", 3}, {"passed", 2}, {"failed", 1}, {"errors", 0}, {"skipped", 0}}))
      << run.dump();
  EXPECT_EQ(run["warnings"], json::array()) << run.dump();
  json failed = Tests(green, "?status=failed");
  ASSERT_EQ(failed["tests"].size(), 1u) << failed.dump();
  EXPECT_EQ(failed["tests"][0]["test"]["name"], "divides");
  EXPECT_EQ(failed["tests"][0]["message"], "division by zero");
  // lint names its own reports; unit's file is told by its mtime (within
  // unit's run only: lint runs after it). The file both globs match is read
  // once.
  json all = Tests(green);
  EXPECT_EQ(all["total"], 3) << all.dump();
  for (const json& c : all["tests"]) {
    EXPECT_EQ(c["step"], c["test"]["class_name"] == "ci.Lint" ? "lint" : "unit") << c.dump();
  }
  EXPECT_EQ(all["reports"].size(), 2u) << all.dump();
  ExpectNothingLeft(green);

  int64_t strict = Trigger("app", {{"branch", "strict"}});
  run = AwaitRun(strict);
  EXPECT_EQ(Str(run, "status"), "failure") << run.dump();
  EXPECT_EQ(Str(run, "error"), "1 test case failed") << run.dump();
  EXPECT_EQ(Str(StepOf(run, "unit"), "status"), "success") << run.dump();
}

TEST_F(TestResultsTest, ATestThatFlipsOnOneCommitIsFlaky) {
  PipelineRepo repo;
  // "divides" fails on odd run ids, passes on even ones; "adds" always passes.
  const std::string flip =
      "if [ $((SLIPWAY_RUN_ID % 2)) = 1 ]; then " + WriteReport("out/r.xml", std::string(kPass) + kFail) +
      "; else " +
      WriteReport("out/r.xml",
                  std::string(kPass) + "<testcase classname=\"ci.Calc\" name=\"divides\" time=\"0.2\"/>") +
      "; fi";
  std::string commit = repo.Push(
      "steps:\n"
      "  - name: unit\n"
      "    image: busybox\n"
      "    commands: [" +
      Q(flip) +
      "]\n"
      "reports: [\"out/r.xml\"]\n");
  ASSERT_FALSE(AddRepo("app", repo.file_url()).is_null());
  std::vector<int64_t> ids = {Trigger("app", {{"branch", "main"}})};
  AwaitRun(ids[0]);
  for (int i = 1; i < 5; ++i) {
    HttpReply rerun = Api().Post("/api/v1/runs/" + std::to_string(ids[0]) + "/rerun");
    ASSERT_EQ(rerun.status, 201) << rerun;
    ids.push_back(rerun.Json().value("id", int64_t{0}));
    json run = AwaitRun(ids.back());
    EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  }

  HttpReply h = Api().Get("/api/v1/repos/app/tests/ci.Calc.divides/history");
  ASSERT_EQ(h.status, 200) << h;
  json history = h.Json()["history"];
  ASSERT_EQ(history.size(), 5u) << h;
  for (size_t i = 0; i < 5; ++i) {
    const json& e = history[i];
    int64_t id = ids[4 - i];  // newest first
    EXPECT_EQ(e["run"], id) << e.dump();
    EXPECT_EQ(e["status"], id % 2 ? "failed" : "passed") << e.dump();
    EXPECT_EQ(e["commit"], commit) << e.dump();
    EXPECT_EQ(e["branch"], "main") << e.dump();
  }
  const int64_t test_id = h.Json()["test"]["id"];
  EXPECT_EQ(Api().Get("/api/v1/repos/app/tests/" + std::to_string(test_id) + "/history").Json()["history"],
            history);

  HttpReply f = Api().Get("/api/v1/repos/app/tests/flaky");
  ASSERT_EQ(f.status, 200) << f;
  json flaky = f.Json()["tests"];
  ASSERT_EQ(flaky.size(), 1u) << f;  // "adds" never failed
  EXPECT_EQ(flaky[0]["test"]["name"], "divides");
  EXPECT_EQ(flaky[0]["commits"], json::array({commit}));
  EXPECT_EQ(flaky[0]["flips"], 4);
  EXPECT_EQ(flaky[0]["runs"], 5);
  EXPECT_EQ(flaky[0]["failures"], ids[0] % 2 ? 3 : 2);
  EXPECT_EQ(flaky[0]["last_failure"]["message"], "division by zero");
  EXPECT_EQ(Api().Get("/api/v1/repos/app/tests/flaky?min_flips=5&branch=main").Json()["tests"].size(), 1u)
      << "listed for its commit, whatever its flips";

  Outcome cli = daemon().Cli({"tests", "flaky", "app"});
  EXPECT_EQ(cli.code, 0) << cli;
  EXPECT_TRUE(Contains(cli.out, "ci.Calc.divides")) << cli;
  EXPECT_TRUE(Contains(cli.out, "division by zero")) << cli;
  Outcome hist = daemon().Cli({"tests", "history", "app", "ci.Calc.divides"});
  EXPECT_EQ(hist.code, 0) << hist;
  EXPECT_TRUE(Contains(hist.out, commit.substr(0, 10))) << hist;
  Outcome slow = daemon().Cli({"tests", "slowest", "app", "--format", "json"});
  EXPECT_EQ(slow.code, 0) << slow;
  json slowest = json::parse(slow.out, nullptr, false);
  ASSERT_TRUE(slowest.is_object()) << slow;
  EXPECT_EQ(slowest["tests"][0]["test"]["name"], "adds") << slow;
  EXPECT_EQ(slowest["tests"][0]["median_us"], 500000) << slow;
}

TEST_F(TestResultsTest, HostileReportsWarnAndTheRunStillSucceeds) {
  PipelineRepo repo;
  const std::string laughs =
      "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">"
      "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\">]><testsuite name=\"x\"><testcase name=\"&c;\"/></testsuite>";
  repo.Push(
      "steps:\n"
      "  - name: unit\n"
      "    image: busybox\n"
      "    commands:\n"
      "      - " +
      Q(WriteReport("out/good.xml", kPass)) +
      "\n"
      "      - " +
      Q("printf '%s' " + Q(laughs) + " > out/laughs.xml") +
      "\n"
      "      - " +
      Q("yes '<testsuite>' | head -n 1000000 > out/deep.xml") +
      "\n"
      "      - " +
      Q("head -c 4096 /bin/busybox > out/junk.xml") +
      "\n"
      "      - " +
      Q("ln -s /etc/passwd out/passwd.xml") +
      "\n"
      "      - " +
      Q(": > out/empty.xml") +
      "\n"
      "reports: [\"out/*.xml\", \"missing/*.xml\"]\n");
  ASSERT_FALSE(AddRepo("app", repo.file_url()).is_null());
  int64_t id = Trigger("app", {{"branch", "main"}});
  json run = AwaitRun(id);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  EXPECT_EQ(run["tests"]["total"], 1) << run.dump();
  std::string warnings = run["warnings"].dump();
  for (const char* file :
       {"laughs.xml", "deep.xml", "junk.xml", "passwd.xml", "empty.xml", "missing/*.xml"}) {
    EXPECT_TRUE(Contains(warnings, file)) << file << ": " << warnings;
  }
  EXPECT_FALSE(Contains(warnings, "root:")) << "nothing of /etc/passwd: " << warnings;
  EXPECT_TRUE(Contains(StepLog(id, "_setup"), "report warning: ")) << StepLog(id, "_setup");
  // slipwayd is still there, and answers.
  EXPECT_EQ(Api().Get("/api/v1/info").status, 200);
  ExpectNothingLeft(id);
}

TEST_F(TestResultsTest, ManyStepsDoNotMultiplyWhatIsRead) {
  // Six steps, each naming its own ~0.9 MB report (reports_max_bytes is 1m
  // here): a run reads at most four caps in all, so the first four are read
  // and the last two refused, whatever each CollectReports call allows.
  const std::string name(200, 'n');
  std::string pipeline = "steps:\n";
  for (int i = 1; i <= 6; ++i) {
    std::string file = "r" + std::to_string(i) + ".xml";
    pipeline += "  - name: s" + std::to_string(i) +
                "\n"
                "    image: busybox\n"
                "    reports: [\"" +
                file +
                "\"]\n"
                "    commands: [" +
                Q("(echo '<testsuite name=\"s\">'; yes '<testcase name=\"" + name +
                  "\"/>' | head -n 4000; "
                  "echo '</testsuite>') > " +
                  file) +
                "]\n";
  }
  PipelineRepo repo;
  repo.Push(pipeline);
  ASSERT_FALSE(AddRepo("app", repo.file_url()).is_null());
  int64_t id = Trigger("app", {{"branch", "main"}});
  json run = AwaitRun(id);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  EXPECT_EQ(run["tests"]["total"], 4 * 4000) << run["tests"].dump();
  std::string warnings = run["warnings"].dump();
  EXPECT_TRUE(Contains(warnings, "r5.xml")) << warnings;
  EXPECT_TRUE(Contains(warnings, "r6.xml")) << warnings;
  EXPECT_FALSE(Contains(warnings, "r4.xml")) << warnings;
  json reports = Tests(id, "?limit=1")["reports"];
  EXPECT_EQ(reports.size(), 4u) << reports.dump();
}

TEST_F(TestResultsTest, OneFileNamedByManyStepsCountsEachTime) {
  // Eight steps name the same ~0.9 MB file: it is read (and counted) once
  // per step until the run's four caps are nearly spent; then not read.
  const std::string name(200, 'n');
  std::string pipeline = "steps:\n";
  for (int i = 1; i <= 8; ++i) {
    pipeline += "  - name: s" + std::to_string(i) +
                "\n    image: busybox\n    reports: [big.xml]\n    commands: [" +
                Q(i == 1 ? "(echo '<testsuite name=\"s\">'; yes '<testcase name=\"" + name +
                               "\"/>' | head -n 4000; echo '</testsuite>') > big.xml"
                         : "true") +
                "]\n";
  }
  PipelineRepo repo;
  repo.Push(pipeline);
  ASSERT_FALSE(AddRepo("app", repo.file_url()).is_null());
  int64_t id = Trigger("app", {{"branch", "main"}});
  json run = AwaitRun(id);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  EXPECT_EQ(run["tests"]["total"], 4000) << "the file's cases once: " << run["tests"].dump();
  // s2..s4 read it again (counted, not recorded twice); s5..s8 find the
  // run's bound nearly spent: their cap is below the file's size, so it is
  // refused by its size, unread.
  ASSERT_EQ(run["warnings"].size(), 4u) << run["warnings"].dump();
  for (const json& w : run["warnings"])
    EXPECT_TRUE(Contains(w.get<std::string>(), "big.xml: 880034 bytes; at most")) << w;
}

}  // namespace
}  // namespace slipway::testing
