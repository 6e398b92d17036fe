// The create request's one JSON codec: everything it accepts round-trips,
// and the decoder is strict about every field, as an API body from anyone
// must be.
#include "engine/containers/create_request.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace slipway {
namespace {

using json = nlohmann::json;

CreateRequest FullRequest() {
  CreateRequest r;
  r.name = "build-1";
  r.image = "docker.io/library/busybox:latest";
  r.entrypoint = std::vector<std::string>{"/bin/sh", "-c"};
  r.command = {"echo \"hi\"\nexit 3", "tab\there", "unicode é"};
  r.env = {"A=1", "MULTI=line1\nline2"};
  r.workdir = "/src";
  r.user = "1000:1000";
  r.hostname = "builder";
  r.limits.memory_bytes = 64 << 20;
  r.limits.memory_swap_bytes = -1;
  r.limits.cpu_millis = 500;
  r.limits.pids_max = 64;
  r.storage_bytes = int64_t{1} << 30;
  r.timeout_ms = 30000;
  r.network = "container:db";
  r.binds = {"/host/src:/src:ro", "/tmp/out:/out"};
  r.cap_add = {"NET_ADMIN"};
  r.cap_drop = {"CHOWN", "SETUID"};
  r.auto_remove = true;
  r.stop_signal = "SIGQUIT";
  return r;
}

void ExpectSameRequest(const CreateRequest& want, const CreateRequest& got) {
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.image, want.image);
  EXPECT_EQ(got.rootfs, want.rootfs);
  EXPECT_EQ(got.entrypoint, want.entrypoint);
  EXPECT_EQ(got.command, want.command);
  EXPECT_EQ(got.env, want.env);
  EXPECT_EQ(got.workdir, want.workdir);
  EXPECT_EQ(got.user, want.user);
  EXPECT_EQ(got.hostname, want.hostname);
  EXPECT_EQ(got.limits.memory_bytes, want.limits.memory_bytes);
  EXPECT_EQ(got.limits.memory_swap_bytes, want.limits.memory_swap_bytes);
  EXPECT_EQ(got.limits.cpu_millis, want.limits.cpu_millis);
  EXPECT_EQ(got.limits.pids_max, want.limits.pids_max);
  EXPECT_EQ(got.storage_bytes, want.storage_bytes);
  EXPECT_EQ(got.timeout_ms, want.timeout_ms);
  EXPECT_EQ(got.network, want.network);
  EXPECT_EQ(got.binds, want.binds);
  EXPECT_EQ(got.cap_add, want.cap_add);
  EXPECT_EQ(got.cap_drop, want.cap_drop);
  EXPECT_EQ(got.auto_remove, want.auto_remove);
  EXPECT_EQ(got.stop_signal, want.stop_signal);
}

// FromJson must fail with kInvalidArgument and exactly `message`.
void ExpectRejected(const std::string& body, const std::string& message) {
  SCOPED_TRACE(body);
  auto r = CreateRequest::FromJson(body);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), message);
}

// {"image": "busybox", <field>: <value>}, or with rootfs when field is image.
std::string With(const std::string& field, const std::string& value_json) {
  std::string base = field == "image" ? R"("rootfs": "/r")" : R"("image": "busybox")";
  return "{" + base + ", \"" + field + "\": " + value_json + "}";
}

// --- CreateRequest: what is accepted --------------------------------------------

TEST(CreateRequestTest, FullRequestRoundTrips) {
  CreateRequest want = FullRequest();
  auto got = CreateRequest::FromJson(want.ToJson());
  ASSERT_TRUE(got.ok()) << got.status().message();
  ExpectSameRequest(want, *got);
}

// The decoder keeps the network as given; BuildSandboxSpec() checks it.
TEST(CreateRequestTest, EveryNetworkFormRoundTrips) {
  for (const char* network : {"none", "host", "container:db"}) {
    auto got = CreateRequest::FromJson(With("network", json(network).dump()));
    ASSERT_TRUE(got.ok()) << network << ": " << got.status().message();
    EXPECT_EQ(got->network, network);
    EXPECT_EQ(json::parse(got->ToJson())["network"], network);
  }
}

TEST(CreateRequestTest, RootfsRequestRoundTrips) {
  CreateRequest want;
  want.rootfs = "/var/lib/rootfs/busybox";
  want.command = {"ls"};
  auto got = CreateRequest::FromJson(want.ToJson());
  ASSERT_TRUE(got.ok()) << got.status().message();
  ExpectSameRequest(want, *got);
}

TEST(CreateRequestTest, ToJsonUsesTheApiFieldNames) {
  json j = json::parse(FullRequest().ToJson());
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  std::vector<std::string> want = {
      "auto_remove", "binds",   "cap_add",    "cap_drop", "command",       "cpu_millis",
      "entrypoint",  "env",     "hostname",   "image",    "memory_bytes",  "memory_swap_bytes",
      "name",        "network", "pids_limit", "rootfs",   "storage_bytes", "timeout_ms",
      "user",        "workdir", "stop_signal"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(keys, want);
  EXPECT_EQ(j["pids_limit"], 64);
  EXPECT_EQ(j["memory_swap_bytes"], -1);
  EXPECT_TRUE(j["entrypoint"].is_array());
  CreateRequest plain;
  plain.image = "busybox";
  EXPECT_TRUE(json::parse(plain.ToJson())["entrypoint"].is_null());
}

TEST(CreateRequestTest, MinimalRequestKeepsDefaults) {
  auto r = CreateRequest::FromJson(R"({"image": "busybox"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->image, "busybox");
  EXPECT_FALSE(r->entrypoint.has_value());
  EXPECT_TRUE(r->command.empty());
  EXPECT_EQ(r->network, "none");
  EXPECT_EQ(r->limits.memory_bytes, 0);
  EXPECT_EQ(r->limits.pids_max, 0);
  EXPECT_FALSE(r->auto_remove);
}

TEST(CreateRequestTest, EntrypointNullAbsentOrEmpty) {
  auto null = CreateRequest::FromJson(With("entrypoint", "null"));
  ASSERT_TRUE(null.ok()) << null.status().message();
  EXPECT_FALSE(null->entrypoint.has_value());
  // An empty entrypoint is a request too: run the command without the image's.
  auto empty = CreateRequest::FromJson(With("entrypoint", "[]"));
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  ASSERT_TRUE(empty->entrypoint.has_value());
  EXPECT_TRUE(empty->entrypoint->empty());
}

TEST(CreateRequestTest, IntegerBoundsThatAreAccepted) {
  auto r = CreateRequest::FromJson(With("memory_swap_bytes", "-1"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->limits.memory_swap_bytes, -1);
  r = CreateRequest::FromJson(With("memory_bytes", "9223372036854775807"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->limits.memory_bytes, INT64_MAX);
  r = CreateRequest::FromJson(With("timeout_ms", "0"));
  ASSERT_TRUE(r.ok()) << r.status().message();
}

TEST(CreateRequestTest, ControlCharactersAreFineInArgumentsAndEnvironment) {
  auto r = CreateRequest::FromJson(R"({"image": "busybox", "command": ["sh", "-c", "a\n\tb\u001b"],
                                      "env": ["X=1\n2"], "name": "caf\u00e9"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->command[2], "a\n\tb\x1b");
  EXPECT_EQ(r->name, "caf\xc3\xa9");
}

// --- CreateRequest: what is refused ---------------------------------------------

TEST(CreateRequestTest, MalformedJson) {
  for (const char* body : {"", "{", "{\"image\": \"busybox\",}", "{image: 1}", "{\"image\": \"busybox\"} x",
                           "{\"image\": \"\xff\"}"}) {
    SCOPED_TRACE(body);
    auto r = CreateRequest::FromJson(body);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind("malformed JSON: ", 0), 0u) << r.status().message();
    EXPECT_EQ(r.status().message().find("last read"), std::string::npos) << r.status().message();
  }
}

TEST(CreateRequestTest, BodyMustBeAnObject) {
  for (const char* body : {"[]", "null", "\"busybox\"", "42", "true", "[{\"image\": \"busybox\"}]"}) {
    ExpectRejected(body, "the request body must be a JSON object");
  }
}

TEST(CreateRequestTest, UnknownField) {
  ExpectRejected(R"({"image": "busybox", "memory": 1})", "unknown field \"memory\"");
  ExpectRejected(R"({"Image": "busybox"})", "unknown field \"Image\"");
  ExpectRejected(R"({"image": "busybox", "pids_max": 5})", "unknown field \"pids_max\"");
}

TEST(CreateRequestTest, DuplicateField) {
  ExpectRejected(R"({"image": "busybox", "memory_bytes": 1, "memory_bytes": 2})",
                 "duplicate field \"memory_bytes\"");
}

TEST(CreateRequestTest, ExactlyOneOfImageAndRootfs) {
  const std::string msg = "exactly one of \"image\" and \"rootfs\" is required";
  ExpectRejected("{}", msg);
  ExpectRejected(R"({"command": ["ls"]})", msg);
  ExpectRejected(R"({"image": "", "rootfs": ""})", msg);
  ExpectRejected(R"({"image": "busybox", "rootfs": "/r"})", msg);
}

TEST(CreateRequestTest, IntegersOfTheWrongTypeOrRange) {
  for (const char* field : {"memory_bytes", "cpu_millis", "pids_limit", "storage_bytes", "timeout_ms"}) {
    const std::string msg = std::string("field \"") + field + "\": expected a non-negative integer";
    for (const char* bad : {"-1", "1.5", "1.0", "1e3", "\"64m\"", "true", "null", "[]", "{}",
                            "9223372036854775808", "18446744073709551615"}) {
      ExpectRejected(With(field, bad), msg);
    }
  }
  const std::string swap = "field \"memory_swap_bytes\": expected an integer >= -1";
  for (const char* bad : {"-2", "-9223372036854775808", "0.5", "\"-1\"", "null", "9223372036854775808"}) {
    ExpectRejected(With("memory_swap_bytes", bad), swap);
  }
}

TEST(CreateRequestTest, StringsOfTheWrongType) {
  for (const char* field : {"name", "image", "rootfs", "workdir", "user", "hostname", "network"}) {
    const std::string msg = std::string("field \"") + field + "\": expected a string";
    for (const char* bad : {"1", "null", "true", "[\"x\"]", "{}"}) ExpectRejected(With(field, bad), msg);
  }
}

TEST(CreateRequestTest, ControlCharactersInSingleLineStrings) {
  for (const char* field : {"name", "image", "rootfs", "workdir", "user", "hostname", "network"}) {
    const std::string msg = std::string("field \"") + field + "\": must not contain control characters";
    for (const char* bad : {R"("a\u0000b")", R"("a\nb")", R"("\t")", R"("a\rb")", R"("\u001b[31m")",
                            R"("a\u007fb")", R"("a\u0085b")", R"("a\u009fb")"}) {
      ExpectRejected(With(field, bad), msg);
    }
  }
}

TEST(CreateRequestTest, ArraysOfTheWrongTypeOrWithNul) {
  for (const char* field : {"entrypoint", "command", "env", "binds", "cap_add", "cap_drop"}) {
    const std::string msg = std::string("field \"") + field + "\": expected an array of strings";
    for (const char* bad : {"\"ls\"", "1", "{}", "[1]", "[\"a\", null]", "[[\"a\"]]", "true"}) {
      ExpectRejected(With(field, bad), msg);
    }
    ExpectRejected(With(field, R"(["ok", "a\u0000b"])"),
                   std::string("field \"") + field + "\": must not contain NUL characters");
  }
  // null means "absent" only for the entrypoint.
  for (const char* field : {"command", "env", "binds", "cap_add", "cap_drop"}) {
    ExpectRejected(With(field, "null"), std::string("field \"") + field + "\": expected an array of strings");
  }
}

TEST(CreateRequestTest, BooleanOfTheWrongType) {
  for (const char* bad : {"1", "0", "\"true\"", "null", "[]"}) {
    ExpectRejected(With("auto_remove", bad), "field \"auto_remove\": expected a boolean");
  }
}

}  // namespace
}  // namespace slipway
