// Services through a real slipwayd: busybox httpd as a service, reached by a
// step on localhost once its readiness check passed (a tcp check, and a
// command check run in the service's container), and a check that never
// passes: the run is `error` naming the service, its steps never start.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/pipelines/e2e/pipeline_fixture.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

class ServicesTest : public PipelineTest {};

TEST_F(ServicesTest, StepsReachServicesOnLocalhostOnceTheyAreReady) {
  // The step fetches once, with no retry: it passes only if the readiness
  // checks really waited for both servers.
  PipelineRepo repo;
  repo.Push(R"(
services:
  - name: web
    image: busybox
    commands:
      - mkdir -p /tmp/www
      - echo served-by-httpd > /tmp/www/index.html
      - exec httpd -f -p 8080 -h /tmp/www
    ready: {tcp: 8080, timeout: 30s}
  - name: api
    image: busybox
    commands:
      - mkdir -p /tmp/api
      - echo api-checked-by-command > /tmp/api/index.html
      - exec httpd -f -p 8081 -h /tmp/api
    ready: {command: "wget -q -O /dev/null http://localhost:8081/index.html", timeout: 30s}
steps:
  - name: fetch
    image: busybox
    commands:
      - wget -q -O - http://localhost:8080/index.html
      - wget -q -O - http://localhost:8081/index.html
)");
  ASSERT_FALSE(AddRepo("svc", repo.file_url()).is_null());
  int64_t id = Trigger("svc");
  json run = AwaitRun(id);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  EXPECT_EQ(Str(StepOf(run, "fetch"), "status"), "success") << run.dump();
  EXPECT_EQ(StepLog(id, "fetch"), "served-by-httpd\napi-checked-by-command\n");
  EXPECT_EQ(Str(StepOf(run, "web"), "kind"), "service") << run.dump();
  EXPECT_EQ(Str(StepOf(run, "api"), "kind"), "service") << run.dump();
  EXPECT_EQ(Str(StepOf(run, "fetch"), "kind"), "step") << run.dump();
  // The services ran until the steps were done, then went with the run.
  ExpectNothingLeft(id);
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
