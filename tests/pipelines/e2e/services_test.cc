// Services through a real slipwayd: busybox httpd as a service, reached by a
// step on localhost once its readiness check passed (a tcp check; a command
// check run in the run's network), two services in one run's network, and a
// check that never passes: the run is `error` naming the service, its steps
// never start.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/pipelines/e2e/pipeline_fixture.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

// A busybox httpd service `name` serving "<text>\n" on `port`, with the
// readiness check `ready` (YAML flow mapping).
std::string HttpdService(const std::string& name, int port, const std::string& text,
                         const std::string& ready) {
  std::string dir = "/tmp/" + name;
  return "  - name: " + name + "\n    image: busybox\n    commands:\n      - mkdir -p " + dir +
         "\n      - echo " + text + " > " + dir + "/index.html\n      - exec httpd -f -p " +
         std::to_string(port) + " -h " + dir + "\n    ready: " + ready + "\n";
}

std::string TcpReady(int port) {
  return "{tcp: " + std::to_string(port) + ", timeout: 30s}";
}
std::string CommandReady(int port) {
  return "{command: \"wget -q -O /dev/null http://localhost:" + std::to_string(port) +
         "/index.html\", timeout: 30s}";
}

// Runs `services` and one step that fetches each of `ports` once, with no
// retry: it passes only if the readiness checks really waited for them.
// The run must succeed with `expected_log` and leave nothing.
class ServicesTest : public PipelineTest {
 protected:
  void ExpectServed(const std::string& services, const std::vector<int>& ports,
                    const std::string& expected_log) {
    std::string fetch;
    for (int port : ports)
      fetch += "      - wget -q -O - http://localhost:" + std::to_string(port) + "/index.html\n";
    PipelineRepo repo;
    repo.Push("services:\n" + services + "steps:\n  - name: fetch\n    image: busybox\n    commands:\n" +
              fetch);
    ASSERT_FALSE(AddRepo("svc", repo.file_url()).is_null());
    int64_t id = Trigger("svc");
    json run = AwaitRun(id);
    EXPECT_EQ(Str(run, "status"), "success") << run.dump();
    EXPECT_EQ(Str(StepOf(run, "fetch"), "status"), "success") << run.dump();
    EXPECT_EQ(Str(StepOf(run, "fetch"), "kind"), "step") << run.dump();
    EXPECT_EQ(StepLog(id, "fetch"), expected_log);
    for (const json& s : run["steps"]) {
      if (Str(s, "name") != "fetch" && Str(s, "name") != "_setup") {
        EXPECT_EQ(Str(s, "kind"), "service") << run.dump();
      }
    }
    // The services ran until the steps were done, then went with the run.
    ExpectNothingLeft(id);
  }
};

TEST_F(ServicesTest, AStepReachesAServiceOnLocalhostAfterATcpCheck) {
  ExpectServed(HttpdService("web", 8080, "served-by-httpd", TcpReady(8080)), {8080}, "served-by-httpd\n");
}

TEST_F(ServicesTest, AStepReachesAServiceOnLocalhostAfterACommandCheck) {
  ExpectServed(HttpdService("api", 8081, "checked-by-command", CommandReady(8081)), {8081},
               "checked-by-command\n");
}

TEST_F(ServicesTest, TwoServicesShareTheRunsNetworkWithItsSteps) {
  ExpectServed(HttpdService("web", 8080, "served-by-httpd", TcpReady(8080)) +
                   HttpdService("api", 8081, "checked-by-command", CommandReady(8081)),
               {8080, 8081}, "served-by-httpd\nchecked-by-command\n");
}

TEST_F(ServicesTest, AReadinessTimeoutIsAnErrorNamingTheServiceAndStartsNoStep) {
  PipelineRepo repo;
  repo.Push(R"(
services:
  - name: silent-db
    image: busybox
    commands: ["echo silent-db-started", "exec sleep 3600"]
    ready: {tcp: 5432, timeout: 1s}
steps:
  - name: never
    image: busybox
    commands: ["echo step-ran"]
)");
  ASSERT_FALSE(AddRepo("unready", repo.file_url()).is_null());
  int64_t id = Trigger("unready");
  json run = AwaitRun(id);
  EXPECT_EQ(Str(run, "status"), "error") << run.dump();
  EXPECT_TRUE(Contains(Str(run, "error"), "silent-db")) << "the error names no service: " << run.dump();
  json never = StepOf(run, "never");
  std::string status = Str(never, "status");
  EXPECT_TRUE(status == "pending" || status == "skipped" || status == "cancelled")
      << "a step started although a service never became ready: " << never.dump();
  EXPECT_FALSE(Str(never, "container_id") != "") << never.dump();
  // The service's log is kept, for finding out why.
  EXPECT_TRUE(Contains(StepLog(id, "silent-db"), "silent-db-started")) << run.dump();
  ExpectNothingLeft(id);
}

}  // namespace
}  // namespace slipway::testing
