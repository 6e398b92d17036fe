// Container states, and the JSON of a container: the form the API returns,
// with the create request in it as the client gave it.
#include "engine/containers/container.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace slipway {
namespace {

using json = nlohmann::json;

// --- States -------------------------------------------------------------------

TEST(ContainerStateTest, NamesRoundTrip) {
  const ContainerState all[] = {ContainerState::kCreated, ContainerState::kQueued, ContainerState::kStarting,
                                ContainerState::kRunning, ContainerState::kExited, ContainerState::kFailed,
                                ContainerState::kLost};
  const char* names[] = {"created", "queued", "starting", "running", "exited", "failed", "lost"};
  for (size_t i = 0; i < std::size(all); ++i) {
    EXPECT_STREQ(ContainerStateName(all[i]), names[i]);
    auto parsed = ParseContainerState(names[i]);
    ASSERT_TRUE(parsed.ok()) << names[i];
    EXPECT_EQ(*parsed, all[i]);
  }
}

TEST(ContainerStateTest, UnknownNameIsInvalid) {
  for (const char* bad : {"", "Running", "stopped", "exited "}) {
    auto parsed = ParseContainerState(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
  }
}

TEST(ContainerStateTest, OnlyExitedFailedAndLostAreFinal) {
  EXPECT_FALSE(IsFinal(ContainerState::kCreated));
  EXPECT_FALSE(IsFinal(ContainerState::kQueued));
  EXPECT_FALSE(IsFinal(ContainerState::kStarting));
  EXPECT_FALSE(IsFinal(ContainerState::kRunning));
  EXPECT_TRUE(IsFinal(ContainerState::kExited));
  EXPECT_TRUE(IsFinal(ContainerState::kFailed));
  EXPECT_TRUE(IsFinal(ContainerState::kLost));
}

// --- Container::ToJson ----------------------------------------------------------

Container RunningContainer() {
  Container c;
  c.id = "0123456789abcdef0123456789abcdef";
  c.name = "build-1";
  c.request.name = "build-1";
  c.request.image = "docker.io/library/busybox:latest";
  c.request.command = {"make", "test"};
  c.request.limits.pids_max = 64;
  c.request.auto_remove = true;
  c.image_id = "sha256:" + std::string(64, 'a');
  c.spec.argv = {"/bin/sh", "-c", "make test"};
  c.state = ContainerState::kRunning;
  c.sandbox_id = c.id;
  c.pid = 4242;
  c.created_unix_ms = 1795337701123;  // 2026-11-22T...
  c.started_unix_ms = 1795337701500;
  return c;
}

TEST(ContainerJsonTest, RunningContainer) {
  Container c = RunningContainer();
  json j = json::parse(c.ToJson());
  EXPECT_EQ(j["id"], c.id);
  EXPECT_EQ(j["name"], "build-1");
  EXPECT_EQ(j["state"], "running");
  EXPECT_EQ(j["image"], "docker.io/library/busybox:latest");
  EXPECT_EQ(j["image_id"], c.image_id);
  EXPECT_EQ(j["rootfs"], "");
  EXPECT_EQ(j["command"], json({"/bin/sh", "-c", "make test"}));
  EXPECT_EQ(j["pid"], 4242);
  EXPECT_TRUE(j["exit_code"].is_null());
  EXPECT_TRUE(j["result"].is_null());
  EXPECT_TRUE(j["finished_at"].is_null());
  EXPECT_EQ(j["error"], "");
  EXPECT_EQ(j["auto_remove"], true);
  ASSERT_TRUE(j["request"].is_object());
  auto request = CreateRequest::FromJson(j["request"].dump());
  ASSERT_TRUE(request.ok()) << request.status().message();
  EXPECT_EQ(request->ToJson(), c.request.ToJson());
  EXPECT_EQ(j["request"]["pids_limit"], 64);
  for (const char* key :
       {"id", "name", "state", "image", "image_id", "rootfs", "command", "created_at", "started_at",
        "finished_at", "pid", "exit_code", "result", "error", "auto_remove", "labels", "request"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j.size(), 17u);
  EXPECT_TRUE(j["labels"].is_object() && j["labels"].empty()) << j["labels"];
}

TEST(ContainerJsonTest, TimestampsAreRfc3339UtcWithMilliseconds) {
  Container c = RunningContainer();
  c.created_unix_ms = 1795942501123;  // 2026-11-29T08:55:01.123Z
  c.started_unix_ms = 1795942501000;
  c.finished_unix_ms = 1795942502007;
  json j = json::parse(c.ToJson());
  EXPECT_EQ(j["created_at"], "2026-11-29T08:55:01.123Z");
  EXPECT_EQ(j["started_at"], "2026-11-29T08:55:01.000Z");
  EXPECT_EQ(j["finished_at"], "2026-11-29T08:55:02.007Z");
  c.created_unix_ms = 0;
  c.started_unix_ms = 0;
  c.finished_unix_ms = 0;
  j = json::parse(c.ToJson());
  EXPECT_TRUE(j["created_at"].is_null());
  EXPECT_TRUE(j["started_at"].is_null());
  EXPECT_TRUE(j["finished_at"].is_null());
}

TEST(ContainerJsonTest, ExitedContainerHasResultAndNoPid) {
  Container c = RunningContainer();
  c.state = ContainerState::kExited;  // the pid field may still hold the last pid
  c.finished_unix_ms = c.started_unix_ms + 1000;
  SandboxResult r;
  r.exit_code = 137;
  r.signal = 9;
  r.oom_killed = true;
  r.wall_ms = 1000;
  r.cpu_ns = 12345678;
  r.peak_memory_bytes = 64 << 20;
  c.result = r;
  json j = json::parse(c.ToJson());
  EXPECT_EQ(j["state"], "exited");
  EXPECT_EQ(j["pid"], 0);
  EXPECT_EQ(j["exit_code"], 137);
  json want = {
      {"exit_code", 137},   {"signal", 9},     {"oom_killed", true}, {"timed_out", false},
      {"cancelled", false}, {"wall_ms", 1000}, {"cpu_ns", 12345678}, {"peak_memory_bytes", 64 << 20}};
  EXPECT_EQ(j["result"], want);
}

TEST(ContainerJsonTest, FailedContainerCarriesItsError) {
  Container c;
  c.id = "ffffffffffffffffffffffffffffffff";
  c.request.rootfs = "/var/lib/rootfs/x";
  c.state = ContainerState::kFailed;
  c.error = "exec: \"make\": executable file not found in $PATH";
  c.created_unix_ms = 1;
  json j = json::parse(c.ToJson());
  EXPECT_EQ(j["state"], "failed");
  EXPECT_EQ(j["image"], "");
  EXPECT_EQ(j["rootfs"], "/var/lib/rootfs/x");
  EXPECT_EQ(j["error"], c.error);
  EXPECT_EQ(j["created_at"], "1970-01-01T00:00:00.001Z");
  EXPECT_EQ(j["command"], json::array());
}

// Paths and arguments from an image may hold any bytes; ToJson must not throw.
TEST(ContainerJsonTest, IllFormedUtf8DoesNotThrow) {
  Container c = RunningContainer();
  c.spec.argv = {"/bin/\xff\xfe"};
  c.error = "bad \xc3";
  std::string text;
  ASSERT_NO_THROW(text = c.ToJson());
  EXPECT_TRUE(json::accept(text));
}

}  // namespace
}  // namespace slipway
