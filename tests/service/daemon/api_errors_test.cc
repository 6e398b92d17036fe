// Every kind of bad request to slipwayd's REST API (docs/api.md): each gets
// its status, the error JSON ({"error": {"code", "message"}}) with the
// documented code, and changes nothing: the containers, their states and the
// images are as they were, and no sandbox was made.
//
// One daemon serves the whole file; it holds the busybox image, a created
// container and a running one, which bad requests must leave alone.
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

// What a bad request must not change.
struct Snapshot {
  std::map<std::string, std::string> containers;  // id -> state
  std::vector<std::string> images;                // ids and tags
  std::string sandboxes;                          // the state directory's sandboxes, cgroups
  bool operator==(const Snapshot&) const = default;
};

void PrintTo(const Snapshot& s, std::ostream* os) {
  for (const auto& [id, state] : s.containers) *os << "\n  container " << id << " " << state;
  for (const auto& i : s.images) *os << "\n  image " << i;
  *os << "\n  " << s.sandboxes;
}

class ApiErrorsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // No sandbox pool: each test compares the whole state directory before
    // and after, and a pool refilling in the background (after the start of
    // `running` below took a prepared sandbox) would change it meanwhile.
    daemon_ = StartDaemonWithBusybox({"--sandbox-pool-size", "0"}).release();
    if (!daemon_) return;
    created_ = daemon_->Create({{"image", "busybox"}, {"name", "created"}, {"command", {"true"}}});
    running_ =
        daemon_->CreateAndStart({{"image", "busybox"}, {"name", "running"}, {"command", {"sleep", "300"}}});
    daemon_->WaitForState(running_, "running");
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(daemon_ != nullptr && daemon_->running()) << "slipwayd did not start";
    ASSERT_FALSE(running_.empty());
    before_ = Take();
  }
  void TearDown() override {
    if (daemon_ != nullptr && daemon_->running()) {
      EXPECT_EQ(Take(), before_) << "a bad request changed something";
    }
  }

  static Snapshot Take() {
    Snapshot s;
    for (const json& c : daemon_->List(true)) s.containers[c.value("id", "")] = c.value("state", "");
    json images = daemon_->Api().Get("/api/v1/images").Json();
    for (const json& i : images.value("images", json::array())) {
      s.images.push_back(i.value("id", ""));
      for (const json& t : i.value("tags", json::array())) s.images.push_back(t.get<std::string>());
    }
    s.sandboxes = daemon_->Leftovers();
    return s;
  }

  static ApiClient Api() { return daemon_->Api(); }
  // A valid create request, to spoil one field of.
  static json GoodCreate() { return {{"image", "busybox"}, {"command", {"true"}}}; }

  static DaemonUnderTest* daemon_;
  static std::string created_, running_;
  Snapshot before_;
};

DaemonUnderTest* ApiErrorsTest::daemon_ = nullptr;
std::string ApiErrorsTest::created_;
std::string ApiErrorsTest::running_;

// --- Authentication -----------------------------------------------------------------

TEST_F(ApiErrorsTest, EveryApiRouteWantsTheToken) {
  struct Call {
    std::string method, path;
    json body;
  };
  std::vector<Call> calls = {
      {"GET", "/api/v1/info", nullptr},
      {"GET", "/api/v1/containers?all=true", nullptr},
      {"POST", "/api/v1/containers", GoodCreate()},
      {"GET", "/api/v1/containers/running", nullptr},
      {"GET", "/api/v1/containers/running/logs", nullptr},
      {"POST", "/api/v1/containers/created/start", nullptr},
      {"POST", "/api/v1/containers/running/kill?signal=KILL", nullptr},
      {"POST", "/api/v1/containers/running/stop?timeout=0", nullptr},
      {"DELETE", "/api/v1/containers/running?force=true", nullptr},
      {"GET", "/api/v1/images", nullptr},
      {"POST", "/api/v1/images/tag", {{"source", "busybox"}, {"target", "stolen:1"}}},
      {"DELETE", "/api/v1/images?ref=busybox&force=true", nullptr},
      {"POST", "/api/v1/images/prune", nullptr},
      // Not even which routes exist is told without the token.
      {"GET", "/api/v1/no-such-route", nullptr},
  };
  std::string right = daemon_->Token();
  std::vector<std::pair<std::string, ApiClient>> clients = {
      {"no token", Api().WithoutToken()},
      {"wrong token", Api().WithToken(std::string(right.size(), 'f'))},
      {"a prefix of the token", Api().WithToken(right.substr(0, right.size() - 1))},
      {"the token and more", Api().WithToken(right + "0")},
  };
  for (const auto& [what, client] : clients) {
    for (const Call& call : calls) {
      std::string body = call.body.is_null() ? "" : call.body.dump();
      HttpReply r = client.Send(call.method, call.path, body, body.empty() ? "" : "application/json");
      EXPECT_TRUE(IsApiError(r, 401, "unauthenticated")) << what << ": " << call.method << " " << call.path;
    }
  }
  HttpReply basic =
      Api().WithoutToken().Send("GET", "/api/v1/info", "", "", {"Authorization: Basic " + right});
  EXPECT_TRUE(IsApiError(basic, 401, "unauthenticated")) << "another scheme";
}

TEST_F(ApiErrorsTest, HealthAndMetricsNeedNoToken) {
  EXPECT_EQ(Api().WithoutToken().Get("/healthz").status, 200);
  HttpReply metrics = Api().WithoutToken().Get("/metrics");
  EXPECT_EQ(metrics.status, 200) << metrics;
  EXPECT_TRUE(Contains(metrics.body, "slipway_sandboxes_running")) << metrics;
}

// --- Bodies ---------------------------------------------------------------------------

struct BadBody {
  std::string name;
  std::string body;     // for POST /api/v1/containers, Content-Type application/json
  std::string mention;  // what the message must name ("" : anything)
};

void PrintTo(const BadBody& b, std::ostream* os) {
  *os << b.name << ": " << b.body.substr(0, 200);
}

class BadCreateTest : public ApiErrorsTest, public ::testing::WithParamInterface<BadBody> {};

TEST_P(BadCreateTest, Is400InvalidArgument) {
  HttpReply r = Api().Send("POST", "/api/v1/containers", GetParam().body, "application/json");
  EXPECT_TRUE(IsApiError(r, 400, "invalid_argument")) << GetParam().body;
  std::string message = r.Json()["error"].value("message", "");
  EXPECT_TRUE(Contains(message, GetParam().mention))
      << "want \"" << GetParam().mention << "\" in: " << message;
}

std::string With(const std::string& key, const json& value) {
  json body = {{"image", "busybox"}, {"command", {"true"}}};
  body[key] = value;
  return body.dump();
}

INSTANTIATE_TEST_SUITE_P(
    ApiErrors, BadCreateTest,
    ::testing::Values(
        BadBody{"MalformedJson", R"({"image": "busybox",)", ""},
        BadBody{"TrailingGarbage", R"({"image": "busybox"} x)", ""}, BadBody{"Empty", "", ""},
        BadBody{"Array", R"(["busybox", "true"])", "object"}, BadBody{"String", R"("busybox")", "object"},
        BadBody{"Null", "null", "object"}, BadBody{"Number", "42", "object"},
        BadBody{"UnknownField", With("memroy_bytes", 1 << 26), "memroy_bytes"},
        BadBody{"NeitherImageNorRootfs", R"({"command": ["true"]})", ""},
        BadBody{"BothImageAndRootfs", With("rootfs", "/"), "rootfs"},
        BadBody{"RelativeRootfs", R"({"rootfs": "relative/dir", "command": ["true"]})", "rootfs"},
        BadBody{"MemoryAsString", With("memory_bytes", "64m"), "memory_bytes"},
        BadBody{"MemoryNegative", With("memory_bytes", -1), "memory_bytes"},
        BadBody{"PidsLimitNegative", With("pids_limit", -1), "pids_limit"},
        BadBody{"CpuAsFloat", With("cpu_millis", 0.5), "cpu_millis"},
        BadBody{"TimeoutNegative", With("timeout_ms", -5), "timeout_ms"},
        BadBody{"CommandAsString", With("command", "echo hi"), "command"},
        BadBody{"CommandOfNumbers", With("command", {1, 2}), "command"},
        BadBody{"EnvAsObject", With("env", {{"A", "B"}}), "env"},
        BadBody{"EnvWithoutEquals", With("env", {"JUSTANAME"}), "JUSTANAME"},
        BadBody{"AutoRemoveAsString", With("auto_remove", "yes"), "auto_remove"},
        BadBody{"ImageAsNumber", R"({"image": 7, "command": ["true"]})", "image"},
        BadBody{"NameAsNumber", With("name", 5), "name"},
        BadBody{"NameWithSlash", With("name", "a/b"), "a/b"}, BadBody{"NameDotDot", With("name", ".."), ".."},
        BadBody{"NameStartingWithDash", With("name", "-x"), "-x"},
        BadBody{"NameWithControlCharacter", With("name", std::string{'a', 1, 'b'}), "name"},
        BadBody{"NameWithNewline", With("name", "a\nb"), "name"},
        BadBody{"NameTooLong", With("name", std::string(129, 'n')), "name"},
        BadBody{"HostnameWithControlCharacter", With("hostname", "h\x07"), "hostname"},
        BadBody{"WorkdirRelative", With("workdir", "relative"), "relative"},
        BadBody{"BindRelative", With("binds", {"relative:/x"}), "relative:/x"},
        BadBody{"NetworkBridge", With("network", "bridge"), "bridge"},
        BadBody{"NetworkListsTheAcceptedForms", With("network", "hostnet"),
                "use none, host or container:NAME"},
        BadBody{"UnknownCapability", With("cap_add", {"NOT_A_CAP"}), "NOT_A_CAP"}),
    [](const ::testing::TestParamInfo<BadBody>& info) { return info.param.name; });

TEST_F(ApiErrorsTest, BodyOverOneMebibyteIs413) {
  std::string body = With("env", {"BIG=" + std::string((1 << 20) + 1, 'x')});
  HttpReply r = Api().Send("POST", "/api/v1/containers", body, "application/json");
  EXPECT_TRUE(IsApiError(r, 413, "payload_too_large"));
}

TEST_F(ApiErrorsTest, BodyJustUnderTheLimitIsAccepted) {
  // A control: the limit is about size, not about large fields.
  std::string big(1000 * 1000, 'x');
  HttpReply r = Api().Post("/api/v1/containers", {{"image", "busybox"}, {"command", {"echo", big}}});
  EXPECT_EQ(r.status, 201) << r;
  std::string id = r.Json().value("id", "");
  EXPECT_EQ(Api().Delete("/api/v1/containers/" + id + "?force=true").status, 204);
}

TEST_F(ApiErrorsTest, BodyWithoutJsonContentTypeIs415) {
  std::string body = GoodCreate().dump();
  HttpReply missing = Api().SendRaw("POST", "/api/v1/containers", body);
  EXPECT_TRUE(IsApiError(missing, 415, "unsupported_media_type")) << "no Content-Type";
  for (const char* type :
       {"text/plain", "application/x-www-form-urlencoded", "application/merge-patch+json"}) {
    HttpReply r = Api().Send("POST", "/api/v1/containers", body, type);
    EXPECT_TRUE(IsApiError(r, 415, "unsupported_media_type")) << type;
  }
}

// A Content-Type header that does not even parse as a media type gets the
// same JSON error as any other that is not JSON.
// Pistache refuses a Content-Type it cannot parse before any handler sees the
// request, so the body is its own plain text, not the JSON error
// (docs/api.md says so); the status and "nothing changed" still hold.
TEST_F(ApiErrorsTest, UnparseableContentTypeIs415) {
  std::string body = GoodCreate().dump();
  for (const char* type : {"garbage", "application/jsonx"}) {
    HttpReply r = Api().Send("POST", "/api/v1/containers", body, type);
    EXPECT_EQ(r.status, 415) << type << ": " << r;
  }
}

TEST_F(ApiErrorsTest, JsonWithACharsetIsAccepted) {
  HttpReply r =
      Api().Send("POST", "/api/v1/containers", GoodCreate().dump(), "application/json; charset=utf-8");
  EXPECT_EQ(r.status, 201) << r;
  EXPECT_EQ(Api().Delete("/api/v1/containers/" + r.Json().value("id", "") + "?force=true").status, 204);
}

TEST_F(ApiErrorsTest, NameOf128CharactersIsAccepted) {
  std::string name(128, 'n');
  HttpReply r =
      Api().Post("/api/v1/containers", {{"image", "busybox"}, {"command", {"true"}}, {"name", name}});
  EXPECT_EQ(r.status, 201) << r;
  EXPECT_EQ(r.Json().value("name", ""), name);
  EXPECT_EQ(Api().Delete("/api/v1/containers/" + name + "?force=true").status, 204);
}

TEST_F(ApiErrorsTest, BodyOnARouteThatTakesNoneIs400) {
  HttpReply r = Api().Post("/api/v1/containers/running/stop", {{"timeout", 1}});
  EXPECT_TRUE(IsApiError(r, 400, "invalid_argument"));
}

// --- Routes, methods, parameters -----------------------------------------------------------

TEST_F(ApiErrorsTest, UnknownRouteIs404) {
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/nothing-here"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v2/containers"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/containers/running/nothing"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().WithoutToken().Get("/nothing-here"), 404, "not_found"));
}

TEST_F(ApiErrorsTest, WrongMethodIs405) {
  EXPECT_TRUE(IsApiError(Api().Send("PUT", "/api/v1/containers", "", ""), 405, "method_not_allowed"));
  EXPECT_TRUE(IsApiError(Api().Delete("/api/v1/info"), 405, "method_not_allowed"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/containers/created/start"), 405, "method_not_allowed"));
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/containers/running/stats"), 405, "method_not_allowed"));
  EXPECT_TRUE(IsApiError(Api().Send("PATCH", "/api/v1/images", "", ""), 405, "method_not_allowed"));
}

TEST_F(ApiErrorsTest, UnknownOrBadQueryParameterIs400) {
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/containers?al=true"), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/containers?all=maybe"), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Delete("/api/v1/containers/running?force=yes"), 400, "invalid_argument"));
  EXPECT_TRUE(
      IsApiError(Api().Post("/api/v1/containers/running/stop?timeout=soon"), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/containers/running/stop?timeout=-1"), 400, "invalid_argument"));
}

TEST_F(ApiErrorsTest, BadIdentifierInThePathIs400) {
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/containers/a%01b"), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/containers/%2e%2e"), 400, "invalid_argument"));
}

// --- Containers in the wrong state, or missing ------------------------------------------

TEST_F(ApiErrorsTest, StartingTwiceIs409) {
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/containers/running/start"), 409, "failed_precondition"));
}

TEST_F(ApiErrorsTest, RemovingARunningContainerWithoutForceIs409) {
  EXPECT_TRUE(IsApiError(Api().Delete("/api/v1/containers/running"), 409, "failed_precondition"));
  EXPECT_TRUE(IsApiError(Api().Delete("/api/v1/containers/running?force=false"), 409, "failed_precondition"));
}

TEST_F(ApiErrorsTest, KillWithABadSignalIs400) {
  for (const char* signal : {"", "NOPE", "SIGNOPE", "999", "-1", "0x9", "KILL9"}) {
    HttpReply r = Api().Post(std::string("/api/v1/containers/running/kill?signal=") + signal);
    EXPECT_TRUE(IsApiError(r, 400, "invalid_argument")) << "signal=" << signal;
  }
}

TEST_F(ApiErrorsTest, KillOrStatsOfAContainerThatDoesNotRunIs409) {
  EXPECT_TRUE(
      IsApiError(Api().Post("/api/v1/containers/created/kill?signal=KILL"), 409, "failed_precondition"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/containers/created/stats"), 409, "failed_precondition"));
}

TEST_F(ApiErrorsTest, NameTakenIs409) {
  json body = GoodCreate();
  body["name"] = "running";
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/containers", body), 409, "already_exists"));
}

TEST_F(ApiErrorsTest, NonexistentContainerIs404) {
  const std::string c = "/api/v1/containers/no-such-container";
  EXPECT_TRUE(IsApiError(Api().Get(c), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Post(c + "/start"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Post(c + "/wait"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Post(c + "/attach"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Post(c + "/stop"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Post(c + "/kill?signal=KILL"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Get(c + "/logs"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Get(c + "/stats"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Delete(c + "?force=true"), 404, "not_found"));
  // An id of the right form that names nothing.
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/containers/ffffffffffffffffffffffffffffffff"), 404, "not_found"));
}

TEST_F(ApiErrorsTest, CreateWithANonexistentImageIs404) {
  HttpReply r = Api().Post("/api/v1/containers", {{"image", "not-pulled:1"}, {"command", {"true"}}});
  EXPECT_TRUE(IsApiError(r, 404, "not_found"));
  EXPECT_TRUE(Contains(r.body, "not-pulled")) << r;
}

TEST_F(ApiErrorsTest, BindOfAMissingHostPathIsRefused) {
  json body = GoodCreate();
  body["binds"] = {"/nonexistent-slipway-bind:/x"};
  HttpReply r = Api().Post("/api/v1/containers", body);
  EXPECT_TRUE(IsApiError(r, 400, "invalid_argument"));
  EXPECT_TRUE(Contains(r.body, "/nonexistent-slipway-bind")) << r;
}

// --- Images -----------------------------------------------------------------------------

TEST_F(ApiErrorsTest, ImageRefThatDoesNotParseIs400) {
  EXPECT_TRUE(
      IsApiError(Api().Post("/api/v1/images/pull", {{"ref", "UPPER/Case"}}), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/images/pull", {{"ref", "a:b:c"}}), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/images/tag", {{"source", "busybox"}, {"target", "Bad Ref"}}),
                         400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/images/push", {{"ref", "busybox"}, {"target", "x::y"}}), 400,
                         "invalid_argument"));
  // Where a reference names an image to look up, too.
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/images/inspect?ref=a:b:c"), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Delete("/api/v1/images?ref=UPPER/Case"), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/containers", {{"image", "UPPER/Case:x"}, {"command", {"true"}}}),
                         400, "invalid_argument"));
}

// A tag named like an image id could never be referred to (lookups read
// "sha256:..." as an id) and a 64-hex name would shadow the image whose id
// it is: refused as Docker refuses them, before anything is written.
TEST_F(ApiErrorsTest, NamesThatLookLikeImageIdsAreRefused) {
  std::string id = daemon_->Inspect(created_).value("image_id", "");
  std::string hex(64, 'a');
  if (id.starts_with("sha256:")) hex = id.substr(7);
  for (const std::string& name :
       {"sha256:" + hex, "sha256:" + std::string(64, 'f'), hex, std::string("sha256:1")}) {
    HttpReply tag = Api().Post("/api/v1/images/tag", {{"source", "busybox"}, {"target", name}});
    EXPECT_TRUE(IsApiError(tag, 400, "invalid_argument")) << name << ": " << tag;
    EXPECT_TRUE(Contains(tag.body, name)) << tag;
    HttpReply import = Api().Post("/api/v1/images/import", {{"path", "/etc/passwd"}, {"name", name}});
    EXPECT_TRUE(IsApiError(import, 400, "invalid_argument")) << name << ": " << import;
    EXPECT_TRUE(Contains(import.body, "refusing"))
        << "refused for the name, before the file is read: " << import;
  }
}

TEST_F(ApiErrorsTest, NonexistentImageIs404) {
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/images/inspect?ref=not-here:1"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Delete("/api/v1/images?ref=not-here:1"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/images/tag", {{"source", "not-here:1"}, {"target", "t:1"}}), 404,
                         "not_found"));
}

TEST_F(ApiErrorsTest, RemovingAnImageAnActiveContainerUsesIs409) {
  EXPECT_TRUE(IsApiError(Api().Delete("/api/v1/images?ref=busybox"), 409, "failed_precondition"));
  EXPECT_TRUE(IsApiError(Api().Delete("/api/v1/images?ref=busybox&force=true"), 409, "failed_precondition"));
}

TEST_F(ApiErrorsTest, ImageRequestsWithBadFields) {
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/images/pull", {{"ref", "busybox"}, {"tag", "x"}}), 400,
                         "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/images/pull", json::object()), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/images/import", {{"path", "relative.tar"}, {"name", "x:1"}}),
                         400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/images/save", {{"refs", "busybox"}, {"path", "/tmp/x.tar"}}),
                         400, "invalid_argument"));
}

// Import and load read a file on slipwayd's host that the caller names. One
// that is no archive, a truncated one, a directory, a FIFO nobody writes
// to, a device that never ends, or nothing at all is the caller's mistake:
// 400 naming the file, never a 500, a hung worker or a layer written until
// the disk is full.
TEST_F(ApiErrorsTest, ImportOrLoadOfAFileThatIsNoArchiveIs400) {
  std::string dir = MakeTempDir("slipway-not-archives");
  std::string fifo = dir + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string truncated = dir + "/truncated.tar.gz";
  std::ofstream(truncated) << std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xed", 11);
  for (const std::string& path :
       {std::string("/etc/passwd"), truncated, dir, fifo, std::string("/dev/zero"), dir + "/missing.tar"}) {
    HttpReply load = Api().Post("/api/v1/images/load", {{"path", path}});
    EXPECT_TRUE(IsApiError(load, 400, "invalid_argument")) << path << ": " << load;
    EXPECT_TRUE(Contains(load.body, path)) << load;
    HttpReply import = Api().Post("/api/v1/images/import", {{"path", path}, {"name", "not-an-archive:1"}});
    EXPECT_TRUE(IsApiError(import, 400, "invalid_argument")) << path << ": " << import;
    EXPECT_TRUE(Contains(import.body, path)) << import;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace slipway::testing
