// The dashboard's server side through a real slipwayd (docs/dashboard.md):
// access tokens (API and `slipway token`), who may do what with them, the
// session cookie with its CSRF and Origin checks, public reading, hostile
// login bodies, and that no token is ever kept or logged in plain text.
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/pipelines/git_fixture.h"
#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

class DashboardApiTest : public ::testing::Test {
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

  // A new access token of `scope`; "" (and a failure) if it could not be made.
  std::string MakeToken(const std::string& name, const std::string& scope) {
    HttpReply r = Api().Post("/api/v1/tokens", {{"name", name}, {"scope", scope}});
    EXPECT_EQ(r.status, 201) << r;
    return r.Json().value("token", "");
  }

  // A registered repository `name` whose pipeline is one step that sleeps,
  // and a run of it that is running; its id.
  int64_t StartSleepingRun(const std::string& name) {
    repos_.push_back(std::make_unique<TestRepo>());
    TestRepo& repo = *repos_.back();
    repo.Commit(
        {{".slipway.yml", "steps:\n  - name: nap\n    image: busybox\n    commands: [\"sleep 120\"]\n"}},
        "a step that sleeps");
    repo.Push("main");
    EXPECT_EQ(Api().Post("/api/v1/repos", {{"name", name}, {"url", repo.file_url()}}).status, 201);
    HttpReply run = Api().Post("/api/v1/repos/" + name + "/runs", {{"branch", "main"}});
    EXPECT_EQ(run.status, 201) << run;
    int64_t id = run.Json().value("id", int64_t{0});
    WaitForStatus(id, "running");
    return id;
  }

  json WaitForStatus(int64_t id, const std::string& status) { return daemon_->WaitForRun(id, status); }

  static DaemonUnderTest* daemon_;
  std::vector<std::unique_ptr<TestRepo>> repos_;
};

DaemonUnderTest* DashboardApiTest::daemon_ = nullptr;

std::string CookieHeader(const std::string& token) {
  return "Cookie: slipway_session=" + token;
}

TEST_F(DashboardApiTest, TokensAreMadeListedAndRevokedByName) {
  HttpReply made = Api().Post("/api/v1/tokens", {{"name", "alice"}, {"scope", "read"}});
  ASSERT_EQ(made.status, 201) << made;
  const std::string token = made.Json().value("token", "");
  EXPECT_TRUE(std::regex_match(token, std::regex("slw_[0-9a-f]{64}"))) << token;
  EXPECT_EQ(made.Json()["name"], "alice");
  EXPECT_EQ(made.Json()["scope"], "read");
  EXPECT_TRUE(made.Json()["created_at"].is_string());

  EXPECT_TRUE(IsApiError(Api().Post("/api/v1/tokens", {{"name", "alice"}, {"scope", "operate"}}), 409,
                         "already_exists"));
  for (const json& bad :
       {json{{"name", ""}, {"scope", "read"}}, json{{"name", "a/b"}, {"scope", "read"}},
        json{{"name", "-x"}, {"scope", "read"}}, json{{"name", std::string(65, 'a')}, {"scope", "read"}},
        json{{"name", "bob"}, {"scope", "admin"}}, json{{"name", "bob"}},
        json{{"name", "bob"}, {"scope", "read"}, {"extra", 1}}}) {
    EXPECT_TRUE(IsApiError(Api().Post("/api/v1/tokens", bad), 400, "invalid_argument")) << bad;
  }

  // Usable at once, and its last use shows.
  EXPECT_EQ(Api().WithToken(token).Get("/api/v1/runs").status, 200);
  HttpReply list = Api().Get("/api/v1/tokens");
  ASSERT_EQ(list.status, 200) << list;
  json alice;
  for (const json& t : list.Json())
    if (t["name"] == "alice") alice = t;
  EXPECT_EQ(alice["scope"], "read") << list;
  EXPECT_TRUE(alice["last_used_at"].is_string()) << list;
  EXPECT_FALSE(alice.contains("token")) << list;
  EXPECT_FALSE(Contains(list.body, token)) << list;

  // A token cannot manage tokens, whatever its scope.
  std::string operate = MakeToken("alice-ops", "operate");
  EXPECT_TRUE(IsApiError(Api().WithToken(operate).Get("/api/v1/tokens"), 403, "permission_denied"));
  EXPECT_TRUE(IsApiError(Api().WithToken(operate).Delete("/api/v1/tokens/alice"), 403, "permission_denied"));

  ASSERT_EQ(Api().Delete("/api/v1/tokens/alice").status, 204);
  EXPECT_TRUE(IsApiError(Api().Delete("/api/v1/tokens/alice"), 404, "not_found"));
  // Revoked: refused at once, as any wrong token.
  EXPECT_TRUE(IsApiError(Api().WithToken(token).Get("/api/v1/runs"), 401, "unauthenticated"));
  EXPECT_TRUE(
      IsApiError(Api().WithToken("slw_" + std::string(64, '0')).Get("/api/v1/runs"), 401, "unauthenticated"));
  EXPECT_TRUE(IsApiError(Api().WithToken("slw_nothex").Get("/api/v1/runs"), 401, "unauthenticated"));
}

TEST_F(DashboardApiTest, TheCliMakesListsAndRevokesTokens) {
  Outcome made = daemon_->Cli({"token", "create", "carol", "--scope", "operate"});
  ASSERT_EQ(made.code, 0) << made;
  std::string token = made.out.substr(0, made.out.find('\n'));
  EXPECT_TRUE(std::regex_match(token, std::regex("slw_[0-9a-f]{64}"))) << made;
  EXPECT_EQ(made.out, token + "\n") << "stdout holds the token alone";
  EXPECT_EQ(Api().WithToken(token).Get("/api/v1/session").Json()["scope"], "operate");

  Outcome ls = daemon_->Cli({"token", "ls"});
  ASSERT_EQ(ls.code, 0) << ls;
  EXPECT_TRUE(Contains(ls.out, "NAME")) << ls;
  EXPECT_TRUE(Contains(ls.out, "carol")) << ls;
  EXPECT_TRUE(Contains(ls.out, "operate")) << ls;
  EXPECT_FALSE(Contains(ls.out, token)) << ls;

  Outcome bad_scope = daemon_->Cli({"token", "create", "dave", "--scope", "root"});
  EXPECT_NE(bad_scope.code, 0) << bad_scope;
  Outcome again = daemon_->Cli({"token", "create", "carol"});
  EXPECT_EQ(again.code, 125) << again;

  Outcome rm = daemon_->Cli({"token", "rm", "carol"});
  ASSERT_EQ(rm.code, 0) << rm;
  EXPECT_EQ(Api().WithToken(token).Get("/api/v1/session").status, 401);
  Outcome rm_again = daemon_->Cli({"token", "rm", "carol"});
  EXPECT_EQ(rm_again.code, 125) << rm_again;
  EXPECT_TRUE(Contains(rm_again.err, "not found")) << rm_again;
}

TEST_F(DashboardApiTest, AReadTokenReadsAndChangesNothing) {
  const int64_t run = StartSleepingRun("readable");
  const std::string id = std::to_string(run);
  ApiClient reader = Api().WithToken(MakeToken("reader", "read"));
  for (const std::string& path : std::vector<std::string>{
           "/api/v1/info", "/api/v1/runs", "/api/v1/runs/" + id, "/api/v1/repos", "/api/v1/repos/readable",
           "/api/v1/promotions", "/api/v1/runs/" + id + "/tests"}) {
    HttpReply r = reader.Get(path);
    EXPECT_EQ(r.status, 200) << path << "\n" << r;
  }
  json session = reader.Get("/api/v1/session").Json();
  EXPECT_EQ(session["name"], "reader");
  EXPECT_EQ(session["scope"], "read");
  EXPECT_EQ(session["csrf"].get<std::string>().size(), 64u) << session;
  EXPECT_EQ(Api().Get("/api/v1/session").Json(),
            json({{"name", "control"}, {"scope", "admin"}, {"csrf", ""}}));

  for (const std::string& path :
       std::vector<std::string>{"/api/v1/runs/" + id + "/cancel", "/api/v1/runs/" + id + "/rerun",
                                "/api/v1/runs/" + id + "/promote", "/api/v1/images/prune"}) {
    EXPECT_TRUE(IsApiError(reader.Post(path), 403, "permission_denied")) << path;
  }
  for (const std::string& path :
       std::vector<std::string>{"/api/v1/containers", "/api/v1/images", "/api/v1/repos/readable/secrets",
                                "/api/v1/registries", "/api/v1/tokens"}) {
    EXPECT_TRUE(IsApiError(reader.Get(path), 403, "permission_denied")) << path;
  }
  EXPECT_TRUE(IsApiError(reader.Delete("/api/v1/repos/readable"), 403, "permission_denied"));
  // Its body is not even read: only credentials that may change something send one.
  EXPECT_TRUE(IsApiError(reader.Post("/api/v1/repos", {{"name", "x"}, {"url", "file:///x"}}), 400,
                         "invalid_argument"));
  // Unknown routes stay 404 for it.
  EXPECT_TRUE(IsApiError(reader.Get("/api/v1/nosuch"), 404, "not_found"));
  EXPECT_EQ(WaitForStatus(run, "running")["status"], "running");
  ASSERT_EQ(Api().Post("/api/v1/runs/" + id + "/cancel").status, 200);
}

TEST_F(DashboardApiTest, AnOperateTokenCancelsButManagesNothingElse) {
  const int64_t run = StartSleepingRun("operable");
  const std::string id = std::to_string(run);
  ApiClient op = Api().WithToken(MakeToken("operator", "operate"));
  EXPECT_TRUE(IsApiError(op.Get("/api/v1/containers"), 403, "permission_denied"));
  EXPECT_TRUE(
      IsApiError(op.Post("/api/v1/repos", {{"name", "x"}, {"url", "file:///x"}}), 403, "permission_denied"));
  EXPECT_TRUE(IsApiError(op.Post("/api/v1/images/pull", {{"ref", "busybox"}}), 403, "permission_denied"));
  HttpReply cancelled = op.Post("/api/v1/runs/" + id + "/cancel");
  ASSERT_EQ(cancelled.status, 200) << cancelled;
  EXPECT_EQ(WaitForStatus(run, "cancelled")["status"], "cancelled");
}

TEST_F(DashboardApiTest, TheLoginSetsAStrictCookieAndChangesNeedTheCsrfHeader) {
  const std::string token = MakeToken("browser", "operate");
  // A form login: 303 to the page, the cookie HttpOnly and SameSite=Strict.
  HttpReply form =
      Api().WithoutToken().Send("POST", "/ui/login", "token=" + token, "application/x-www-form-urlencoded");
  ASSERT_EQ(form.status, 303) << form;
  EXPECT_EQ(form.Header("Location"), "/ui/");
  const std::string cookie = form.Header("Set-Cookie");
  EXPECT_TRUE(cookie.starts_with("slipway_session=" + token + ";")) << cookie;
  EXPECT_TRUE(Contains(cookie, "; HttpOnly")) << cookie;
  EXPECT_TRUE(Contains(cookie, "; SameSite=Strict")) << cookie;
  EXPECT_TRUE(Contains(cookie, "; Path=/")) << cookie;
  EXPECT_FALSE(Contains(cookie, "Secure")) << "public_url is http: " << cookie;
  // A JSON login: 204.
  HttpReply as_json =
      Api().WithoutToken().Send("POST", "/ui/login", json({{"token", token}}).dump(), "application/json");
  EXPECT_EQ(as_json.status, 204) << as_json;
  EXPECT_TRUE(as_json.Header("Set-Cookie").starts_with("slipway_session=" + token + ";"));
  // A wrong token, or the control token, is no login.
  for (const std::string& wrong :
       std::vector<std::string>{"slw_" + std::string(64, 'a'), daemon_->Token(), std::string("x")}) {
    EXPECT_TRUE(IsApiError(
        Api().WithoutToken().Send("POST", "/ui/login", json({{"token", wrong}}).dump(), "application/json"),
        401, "unauthenticated"));
  }

  ApiClient browser = Api().WithoutToken();
  HttpReply session = browser.Send("GET", "/api/v1/session", "", "", {CookieHeader(token)});
  ASSERT_EQ(session.status, 200) << session;
  EXPECT_EQ(session.Json()["name"], "browser");
  EXPECT_EQ(session.Json()["scope"], "operate");
  const std::string csrf = session.Json().value("csrf", "");
  EXPECT_TRUE(std::regex_match(csrf, std::regex("[0-9a-f]{64}"))) << session;
  // The same for the token's whole life, useless without the cookie.
  EXPECT_EQ(browser.Send("GET", "/api/v1/session", "", "", {CookieHeader(token)}).Json()["csrf"], csrf);

  const int64_t run = StartSleepingRun("clicked");
  const std::string cancel = "/api/v1/runs/" + std::to_string(run) + "/cancel";
  EXPECT_TRUE(
      IsApiError(browser.Send("POST", cancel, "", "", {CookieHeader(token)}), 403, "permission_denied"));
  EXPECT_TRUE(IsApiError(
      browser.Send("POST", cancel, "", "", {CookieHeader(token), "X-Slipway-CSRF: " + std::string(64, '0')}),
      403, "permission_denied"));
  EXPECT_TRUE(IsApiError(browser.Send("POST", cancel, "", "", {CookieHeader(token), "X-Slipway-CSRF: "}), 403,
                         "permission_denied"));
  EXPECT_EQ(WaitForStatus(run, "running")["status"], "running");
  // Another origin is refused even with the header.
  EXPECT_TRUE(IsApiError(
      browser.Send("POST", cancel, "", "",
                   {CookieHeader(token), "X-Slipway-CSRF: " + csrf, "Origin: http://evil.example"}),
      403, "permission_denied"));
  HttpReply ok = browser.Send("POST", cancel, "", "",
                              {CookieHeader(token), "X-Slipway-CSRF: " + csrf,
                               "Origin: http://127.0.0.1:" + std::to_string(daemon_->port())});
  ASSERT_EQ(ok.status, 200) << ok;
  EXPECT_EQ(WaitForStatus(run, "cancelled")["status"], "cancelled");

  // Reads need no CSRF header, but a foreign Origin is refused for them too.
  EXPECT_EQ(browser.Send("GET", "/api/v1/runs", "", "", {CookieHeader(token)}).status, 200);
  EXPECT_TRUE(IsApiError(browser.Send("GET", "/api/v1/runs", "", "", {CookieHeader(token), "Origin: null"}),
                         403, "permission_denied"));
  EXPECT_TRUE(IsApiError(
      browser.Send("GET", "/api/v1/runs", "", "", {CookieHeader(token), "Origin: http://127.0.0.1:1"}), 403,
      "permission_denied"));
  // A login posted from another origin is refused (no login CSRF).
  EXPECT_TRUE(IsApiError(browser.Send("POST", "/ui/login", "token=" + token,
                                      "application/x-www-form-urlencoded", {"Origin: https://evil.example"}),
                         403, "permission_denied"));
  // The logout needs the header too, and clears the cookie.
  EXPECT_TRUE(IsApiError(browser.Send("POST", "/ui/logout", "", "", {CookieHeader(token)}), 403,
                         "permission_denied"));
  HttpReply out =
      browser.Send("POST", "/ui/logout", "", "", {CookieHeader(token), "X-Slipway-CSRF: " + csrf});
  EXPECT_EQ(out.status, 204) << out;
  EXPECT_TRUE(Contains(out.Header("Set-Cookie"), "slipway_session=;")) << out.Header("Set-Cookie");
  EXPECT_TRUE(Contains(out.Header("Set-Cookie"), "Max-Age=0")) << out.Header("Set-Cookie");
  // A revoked token's cookie is no session.
  ASSERT_EQ(Api().Delete("/api/v1/tokens/browser").status, 204);
  EXPECT_TRUE(IsApiError(browser.Send("GET", "/api/v1/session", "", "", {CookieHeader(token)}), 401,
                         "unauthenticated"));
}

TEST_F(DashboardApiTest, HostileLoginBodiesAreRefusedCleanly) {
  ApiClient nobody = Api().WithoutToken();
  const std::string token = MakeToken("hostile-target", "read");
  // Larger than a login: 413 before a byte of it is read.
  HttpReply huge = nobody.SendRaw("POST", "/ui/login", std::string(1 << 20, 'a'),
                                  {"Content-Type: application/x-www-form-urlencoded"});
  EXPECT_TRUE(IsApiError(huge, 413, "payload_too_large")) << huge;
  HttpReply declared = nobody.SendRaw("POST", "/ui/login", "", {"Content-Length: 999999999999"});
  EXPECT_TRUE(IsApiError(declared, 413, "payload_too_large")) << declared;
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"token=%zz", "application/x-www-form-urlencoded"},
      {"", "application/x-www-form-urlencoded"},
      {"token=", "application/x-www-form-urlencoded"},
      {"token=" + token + "&token=" + token, "application/x-www-form-urlencoded"},
      {"user=root&token=" + token, "application/x-www-form-urlencoded"},
      {"{", "application/json"},
      {"[\"" + token + "\"]", "application/json"},
      {"{\"token\": 5}", "application/json"},
      {"{\"token\": \"" + token + "\", \"admin\": true}", "application/json"},
      {"{\"token\": \"a\\u0000b\"}", "application/json"},
  };
  for (const auto& [body, type] : bad) {
    HttpReply r = nobody.Send("POST", "/ui/login", body, type);
    EXPECT_TRUE(IsApiError(r, 400, "invalid_argument")) << body << "\n" << r;
    EXPECT_FALSE(Contains(r.body, token)) << r;
  }
  EXPECT_TRUE(IsApiError(nobody.Send("POST", "/ui/login", "token=" + token, "text/plain"), 415,
                         "unsupported_media_type"));
  // Without a credential, no body anywhere else is read.
  HttpReply api =
      nobody.SendRaw("POST", "/api/v1/repos", std::string(1000, '{'), {"Content-Type: application/json"});
  EXPECT_TRUE(IsApiError(api, 401, "unauthenticated")) << api;
  // And slipwayd still serves.
  EXPECT_EQ(Api().Get("/api/v1/runs").status, 200);
}

TEST_F(DashboardApiTest, NoTokenIsKeptOrLoggedInPlainText) {
  const std::string token = MakeToken("secretive", "operate");
  EXPECT_EQ(Api().WithToken(token).Get("/api/v1/runs").status, 200);
  EXPECT_EQ(Api().WithToken(token).Get("/api/v1/containers").status, 403);
  EXPECT_EQ(Api()
                .WithoutToken()
                .Send("POST", "/ui/login", "token=" + token, "application/x-www-form-urlencoded")
                .status,
            303);
  EXPECT_EQ(Api().WithoutToken().Send("GET", "/api/v1/runs", "", "", {CookieHeader(token)}).status, 200);
  EXPECT_EQ(
      Api()
          .WithoutToken()
          .Send("POST", "/ui/login", "token=" + token.substr(0, 40), "application/x-www-form-urlencoded")
          .status,
      401);
  const std::string hex = token.substr(4);
  for (const std::string& file : std::vector<std::string>{"slipway.db", "slipway.db-wal"}) {
    std::string bytes = ReadFileOrEmpty(daemon_->data_dir() + "/" + file);
    EXPECT_FALSE(Contains(bytes, hex)) << file << " holds the token";
  }
  EXPECT_TRUE(Contains(ReadFileOrEmpty(daemon_->data_dir() + "/slipway.db") +
                           ReadFileOrEmpty(daemon_->data_dir() + "/slipway.db-wal"),
                       "secretive"))
      << "the token's record is not in the database at all";
  EXPECT_FALSE(Contains(daemon_->Log(), hex)) << "the daemon's log holds the token";
  EXPECT_TRUE(Contains(daemon_->Log(), "secretive")) << "the log names tokens by name";
}

TEST_F(DashboardApiTest, BadgesTellTheNewestRunOfABranchAndEscapeNames) {
  repos_.push_back(std::make_unique<TestRepo>());
  TestRepo& repo = *repos_.back();
  auto pipeline = [](const std::string& command) {
    return std::map<std::string, std::string>{
        {".slipway.yml", "steps:\n  - name: s\n    image: busybox\n    commands: [\"" + command + "\"]\n"}};
  };
  repo.Commit(pipeline("true"), "passes");
  repo.Push("main");
  repo.WorkGit("checkout -q -b broken");
  repo.Commit(pipeline("false"), "fails");
  repo.Push("broken");
  repo.WorkGit("checkout -q -b slow");
  repo.Commit(pipeline("sleep 120"), "sleeps");
  repo.Push("slow");
  ASSERT_EQ(Api().Post("/api/v1/repos", {{"name", "badged"}, {"url", repo.file_url()}}).status, 201);
  auto run_on = [&](const std::string& branch) {
    HttpReply r = Api().Post("/api/v1/repos/badged/runs", {{"branch", branch}});
    EXPECT_EQ(r.status, 201) << r;
    return r.Json().value("id", int64_t{0});
  };
  WaitForStatus(run_on("main"), "success");
  WaitForStatus(run_on("broken"), "failure");
  const int64_t slow = run_on("slow");
  WaitForStatus(slow, "running");

  auto badge = [&](const std::string& branch) { return Api().Get("/badge/badged/" + branch + ".svg"); };
  auto message_of = [](const HttpReply& r) {
    std::smatch m;
    return std::regex_search(r.body, m, std::regex(R"(<title>badged \S* ?[^:<]*: ([a-z]+)</title>)"))
               ? m[1].str()
               : "";
  };
  HttpReply main = badge("main");
  ASSERT_EQ(main.status, 200) << main;
  EXPECT_TRUE(main.content_type.starts_with("image/svg+xml")) << main;
  EXPECT_EQ(main.Header("Cache-Control"), "no-cache");
  EXPECT_TRUE(main.body.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"")) << main.body;
  EXPECT_EQ(message_of(main), "passing") << main.body;
  EXPECT_EQ(message_of(badge("broken")), "failing");
  EXPECT_EQ(message_of(badge("slow")), "running");
  EXPECT_EQ(message_of(badge("never-run")), "unknown");
  ASSERT_EQ(Api().Post("/api/v1/runs/" + std::to_string(slow) + "/cancel").status, 200);
  WaitForStatus(slow, "cancelled");
  EXPECT_EQ(message_of(badge("slow")), "cancelled");

  // A hostile branch name is text, never markup.
  HttpReply hostile = Api().Get("/badge/badged/%3Cscript%3Ealert(1)%3Cb%3E%26%22'.svg");
  ASSERT_EQ(hostile.status, 200) << hostile;
  EXPECT_FALSE(Contains(hostile.body, "<script")) << hostile.body;
  EXPECT_TRUE(Contains(hostile.body, "&lt;script&gt;alert(1)")) << hostile.body;
  HttpReply quoted = Api().Get("/badge/badged/a%22%20onload%3D%22x%26%27.svg");
  ASSERT_EQ(quoted.status, 200) << quoted;
  EXPECT_FALSE(Contains(quoted.body, "\" onload")) << quoted.body;
  EXPECT_TRUE(Contains(quoted.body, "a&quot; onload=&quot;x&amp;&apos;")) << quoted.body;

  EXPECT_TRUE(IsApiError(Api().Get("/badge/nosuch/main.svg"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Get("/badge/badged/main.png"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Api().Get("/badge/badged/.svg"), 404, "not_found"));
  // The read rule: a read token or the cookie, else 401.
  EXPECT_TRUE(IsApiError(Api().WithoutToken().Get("/badge/badged/main.svg"), 401, "unauthenticated"));
  const std::string reader = MakeToken("badge-reader", "read");
  EXPECT_EQ(Api().WithToken(reader).Get("/badge/badged/main.svg").status, 200);
  EXPECT_EQ(Api().WithoutToken().Send("GET", "/badge/badged/main.svg", "", "", {CookieHeader(reader)}).status,
            200);
}

// dashboard_public_read: anyone reads, nobody operates without a token.
TEST(DashboardPublicReadTest, AnonymousReadsButNeverOperates) {
  std::unique_ptr<DaemonUnderTest> daemon = StartDaemonWithBusybox({"--dashboard-public-read", "true"});
  ASSERT_TRUE(daemon);
  ApiClient anyone = daemon->Api().WithoutToken();
  EXPECT_EQ(anyone.Get("/api/v1/runs").status, 200);
  EXPECT_EQ(anyone.Get("/api/v1/repos").status, 200);
  EXPECT_TRUE(IsApiError(anyone.Get("/badge/nosuch/main.svg"), 404, "not_found"));  // past the read rule
  EXPECT_EQ(anyone.Get("/api/v1/session").Json(), json({{"name", ""}, {"scope", "read"}, {"csrf", ""}}));
  EXPECT_TRUE(IsApiError(anyone.Post("/api/v1/runs/1/cancel"), 403, "permission_denied"));
  EXPECT_TRUE(IsApiError(anyone.Post("/api/v1/runs/1/rerun"), 403, "permission_denied"));
  EXPECT_TRUE(IsApiError(anyone.Post("/api/v1/runs/1/promote"), 403, "permission_denied"));
  EXPECT_TRUE(IsApiError(anyone.Get("/api/v1/containers"), 403, "permission_denied"));
  EXPECT_TRUE(IsApiError(anyone.Get("/api/v1/tokens"), 403, "permission_denied"));
  // A wrong token is still wrong: no falling back to anonymous.
  EXPECT_TRUE(
      IsApiError(anyone.WithToken("wrong-token-of-some-length").Get("/api/v1/runs"), 401, "unauthenticated"));
  // Bodies stay the credentials' own.
  HttpReply body = anyone.SendRaw("POST", "/api/v1/runs/1/cancel", "{}", {"Content-Type: application/json"});
  EXPECT_TRUE(IsApiError(body, 400, "invalid_argument")) << body;
}

TEST(DashboardOffTest, TheLoginIsNotServed) {
  std::unique_ptr<DaemonUnderTest> daemon = StartDaemonWithBusybox({"--dashboard", "false"});
  ASSERT_TRUE(daemon);
  HttpReply login =
      daemon->Api().WithoutToken().Send("POST", "/ui/login", "token=x", "application/x-www-form-urlencoded");
  EXPECT_TRUE(IsApiError(login, 400, "invalid_argument") || IsApiError(login, 404, "not_found")) << login;
}

}  // namespace
}  // namespace slipway::testing
