// The dashboard end to end in a real browser (docs/dashboard.md): a real
// slipwayd (tests/testing/daemon_fixture.h) running real pipelines from real
// git repositories, and headless Chromium driven by Selenium from
// dashboard_browser.py, one case of it per test here. This file prepares
// what each case needs (repository, runs, access tokens) and checks the
// outcome on the server's side; the script checks what the page shows and
// writes a screenshot of each view to $TEST_UNDECLARED_OUTPUTS_DIR.
//
// Arguments: slipwayd, slipway-monitor, slipway (daemon_fixture.h), then the
// script.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/pipelines/e2e/pipeline_fixture.h"
#include "tests/testing/daemon_fixture.h"
#include "tests/testing/subprocess.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

std::string g_script;  // dashboard_browser.py

// Three steps: build prints coloured lines; unit writes a JUnit report with
// a failure (and waits for build); lint waits only for build, so it runs
// beside unit in the graph.
const std::string kMainPipeline =
    "steps:\n"
    "  - name: build\n"
    "    image: busybox\n"
    "    commands: [" +
    Q("for i in 1 2 3; do printf '\\033[32mok\\033[0m build %s\\n' $i; done") +
    "]\n"
    "  - name: unit\n"
    "    image: busybox\n"
    "    commands:\n"
    "      - " +
    Q("mkdir -p out && printf '%s\\n' '<testsuites><testsuite name=\"ci\">"
      "<testcase classname=\"ci.Calc\" name=\"adds\" time=\"0.5\"/>"
      "<testcase classname=\"ci.Calc\" name=\"divides\" time=\"0.25\">"
      "<failure message=\"division by zero\" type=\"ZeroDivisionError\">trace</failure></testcase>"
      "</testsuite></testsuites>' > out/unit.xml") +
    "\n"
    "      - " +
    Q("printf '\\033[1;31mFAIL\\033[0m ci.Calc.divides\\n'") +
    "\n"
    "  - name: lint\n"
    "    image: busybox\n"
    "    depends_on: [build]\n"
    "    commands: [\"echo lint ok\"]\n"
    "reports: [\"out/*.xml\"]\n";

// One step printing a coloured line (with markup that must stay text) each
// second until the test releases it (at most two minutes).
const std::string kTickPipeline =
    "steps:\n"
    "  - name: tick\n"
    "    image: busybox\n"
    "    commands: [" +
    Q("i=0; while [ ! -e release ]; do i=$((i+1)); [ $i -le 120 ]; "
      "printf '\\033[32mtick\\033[0m %s <b>&amp;\\n' $i; sleep 1; done") +
    "]\n";

// One step that runs until released (HoldCommand).
const std::string kHoldPipeline =
    "steps:\n"
    "  - name: hold\n"
    "    image: busybox\n"
    "    commands: [" +
    Q(HoldCommand()) + "]\n";

class DashboardBrowserTest : public PipelineTest {
 protected:
  // The script's case `name` against this slipwayd; its output on failure.
  void Browse(const std::string& name, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {"/usr/bin/python3", g_script,        name, "--url", daemon().Url(),
                                     "--control",        daemon().Token()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Outcome o = Execute(argv, {}, std::chrono::seconds(240));
    EXPECT_EQ(o.code, 0) << "dashboard_browser.py " << name << ":\n" << o;
  }

  // POST /api/v1/tokens: a new access token of `scope`.
  std::string MakeToken(const std::string& name, const std::string& scope) {
    HttpReply r = Api().Post("/api/v1/tokens", {{"name", name}, {"scope", scope}});
    EXPECT_EQ(r.status, 201) << r;
    return Str(r.Json(), "token");
  }

  // The repository "app" with `pipeline` on main.
  void AddApp(PipelineRepo& repo, const std::string& pipeline) {
    repo.Push(pipeline, {}, "main");
    ASSERT_FALSE(AddRepo("app", repo.file_url()).is_null());
  }
};

TEST_F(DashboardBrowserTest, PagesNeedNoTokenAndCarryTheirHeaders) {
  Browse("page_headers");
}

TEST_F(DashboardBrowserTest, NoTokenShowsTheLoginPage) {
  Browse("login");
}

TEST_F(DashboardBrowserTest, RunsListShowsANewRunWithoutReload) {
  PipelineRepo repo;
  AddApp(repo, kMainPipeline);
  const std::string token = MakeToken("viewer", "read");
  Browse("runs_live", {"--token", token, "--repo", "app"});
}

TEST_F(DashboardBrowserTest, StepLogShowsWhileWrittenWithColours) {
  PipelineRepo repo;
  AddApp(repo, kTickPipeline);
  const std::string token = MakeToken("viewer", "read");
  int64_t id = Trigger("app", {{"branch", "main"}});
  AwaitStep(id, "tick", "running");
  Browse("log_live", {"--token", token, "--run", std::to_string(id)});
  Release(id);
  EXPECT_EQ(Str(AwaitRun(id, std::chrono::seconds(120)), "status"), "success");
}

TEST_F(DashboardBrowserTest, FailedTestIsListedWithItsMessage) {
  PipelineRepo repo;
  AddApp(repo, kMainPipeline);
  const std::string token = MakeToken("viewer", "read");
  int64_t id = Trigger("app", {{"branch", "main"}});
  json run = AwaitRun(id);
  ASSERT_EQ(Str(run, "status"), "success") << run.dump();
  // A second run, so that the history strip has two cells.
  AwaitRun(Trigger("app", {{"branch", "main"}}));
  Browse("failed_test", {"--token", token, "--run", std::to_string(id), "--repo", "app"});
}

TEST_F(DashboardBrowserTest, CancelFromThePageStopsTheRun) {
  PipelineRepo repo;
  AddApp(repo, kHoldPipeline);
  const std::string token = MakeToken("operator", "operate");
  int64_t id = Trigger("app", {{"branch", "main"}});
  AwaitStep(id, "hold", "running");
  ProcessRef proc = StepProcess(id, "hold");
  Browse("cancel", {"--token", token, "--run", std::to_string(id)});
  json run = AwaitRun(id);
  EXPECT_EQ(Str(run, "status"), "cancelled") << run.dump();
  EXPECT_TRUE(WaitUntil([&] { return !proc.Alive(); }, std::chrono::seconds(20))) << "the step still runs";
  ExpectNothingLeft(id);
}

TEST_F(DashboardBrowserTest, ReadTokenCannotCancel) {
  PipelineRepo repo;
  AddApp(repo, kHoldPipeline);
  const std::string token = MakeToken("viewer", "read");
  int64_t id = Trigger("app", {{"branch", "main"}});
  AwaitStep(id, "hold", "running");
  Browse("read_cannot_cancel", {"--token", token, "--run", std::to_string(id)});
  // The API itself, with the token as a bearer: refused too.
  HttpReply r = Api().WithToken(token).Post("/api/v1/runs/" + std::to_string(id) + "/cancel");
  EXPECT_TRUE(IsApiError(r, 403, "permission_denied")) << r;
  EXPECT_EQ(Str(GetRun(id), "status"), "running");
  Release(id);
  EXPECT_EQ(Str(AwaitRun(id), "status"), "success");
}

TEST_F(DashboardBrowserTest, StoppedSlipwaydShowsTheUnreachableBanner) {
  const std::string token = MakeToken("viewer", "read");
  Browse("unreachable", {"--token", token, "--pid", std::to_string(daemon().pid())});
  // The script sent SIGTERM to this slipwayd (by its pid): it exits cleanly.
  EXPECT_EQ(daemon().WaitForExit(), 0) << daemon().Log();
}

}  // namespace
}  // namespace slipway::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!slipway::testing::InitDaemonBinaries(argc, argv)) return 2;
  if (argc < 5) {
    fprintf(stderr, "usage: %s SLIPWAYD MONITOR SLIPWAY DASHBOARD_BROWSER_PY\n", argv[0]);
    return 2;
  }
  slipway::testing::g_script = argv[4];
  return RUN_ALL_TESTS();
}
