// /api/v1/repos through a real slipwayd (docs/api.md, "Repositories"), over
// HTTP and through the slipway CLI: registering, listing, showing and
// removing repositories; what is refused and how (400 naming the field,
// 409 for a name in use); secrets set from stdin and listed by name only.
// Credentials and secret values are looked for, as an attacker would, in
// every answer, in slipwayd's log and in the bytes of its database files:
// they must be in none of them.
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/base/ascii.h"
#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

// Values that must never come back: each distinctive enough that finding it
// anywhere is a leak, never a coincidence.
constexpr char kUrlPassword[] = "urlpw-5f1d9c2e7a";
constexpr char kToken[] = "tok-8b3e61d04fa9c7";
constexpr char kBasicPassword[] = "basicpw-2c7f0e9b15";
constexpr char kSecretValue[] = "secret-value-d41c88e2b7";
constexpr char kApiSecretValue[] = "api-secret-0e5a7b93c1";

class ReposApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The event log goes to a file, at its most talkative level: what is
    // searched for leaks is what an operator would keep.
    log_dir_ = MakeTempDir("repos-log");
    daemon_ = StartDaemon({"--log-file", log_dir_ + "/slipwayd.log", "--log-level", "debug"}).release();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
    std::filesystem::remove_all(log_dir_);
  }
  void SetUp() override {
    if (!daemon_ || !daemon_->running()) GTEST_SKIP() << "slipwayd did not start";
  }

  // Every answer is kept, to be searched for leaks at the end.
  HttpReply Get(const std::string& path) { return Keep(daemon_->Api().Get(path)); }
  HttpReply Post(const std::string& path, const json& body) { return Keep(daemon_->Api().Post(path, body)); }
  HttpReply Delete(const std::string& path) { return Keep(daemon_->Api().Delete(path)); }
  HttpReply Put(const std::string& path, const std::string& body, const std::string& type = "") {
    return Keep(daemon_->Api().Send("PUT", path, body, type));
  }
  HttpReply Keep(HttpReply r) {
    answers_ += r.body + "\n";
    return r;
  }
  Outcome Cli(const std::vector<std::string>& args) {
    Outcome o = daemon_->Cli(args);
    answers_ += o.out + o.err + "\n";
    return o;
  }
  // `slipway ARGS` with `input` on its stdin.
  Outcome CliWithInput(const std::string& input, const std::string& args) {
    std::vector<std::string> env = daemon_->Env();
    env.push_back("INPUT=" + input);
    Outcome o = Execute({"/bin/sh", "-c", "printf '%s' \"$INPUT\" | " + Binaries().cli + " " + args}, env);
    answers_ += o.out + o.err + "\n";
    return o;
  }

  // None of `values` in any answer so far, in slipwayd's log or in the
  // database's bytes (the main file, its WAL).
  void ExpectNowhere(const std::vector<std::string>& values) {
    std::string db;
    for (const char* suffix : {"", "-wal", "-shm"})
      db += ReadFileOrEmpty(daemon_->data_dir() + "/slipway.db" + suffix);
    ASSERT_FALSE(db.empty());
    const std::string log = ReadFileOrEmpty(log_dir_ + "/slipwayd.log") + daemon_->Log();
    ASSERT_TRUE(Contains(log, "\"event\":\"api.request\"")) << "the debug log is not in " << log_dir_;
    for (const std::string& v : values) {
      EXPECT_FALSE(Contains(answers_, v)) << v << " came back in an answer";
      EXPECT_FALSE(Contains(log, v)) << v << " is in slipwayd's log";
      EXPECT_FALSE(Contains(db, v)) << v << " is in the database in plain text";
    }
  }

  static DaemonUnderTest* daemon_;
  static std::string log_dir_;
  static std::string answers_;
};

DaemonUnderTest* ReposApiTest::daemon_ = nullptr;
std::string ReposApiTest::log_dir_;
std::string ReposApiTest::answers_;

TEST_F(ReposApiTest, AddListShowRemoveOverHttp) {
  HttpReply added =
      Post("/api/v1/repos",
           {{"name", "crud"},
            {"url", "https://git.example.com/team/crud.git"},
            {"branch_filter", "release/*"},
            {"defaults", {{"timeout", "10m"}, {"memory", "512m"}, {"cpus", 1.5}, {"pids", 256}}}});
  ASSERT_EQ(added.status, 201) << added;
  json repo = added.Json();
  EXPECT_EQ(repo["name"], "crud");
  EXPECT_EQ(repo["url"], "https://git.example.com/team/crud.git");
  EXPECT_EQ(repo["branch_filter"], "release/*");
  EXPECT_TRUE(repo["credential"].is_null()) << repo;
  EXPECT_EQ(repo["defaults"],
            json({{"timeout_ms", 600000}, {"memory_bytes", 512 << 20}, {"millicpus", 1500}, {"pids", 256}}));
  EXPECT_TRUE(repo["created_at"].is_string());

  HttpReply list = Get("/api/v1/repos");
  ASSERT_EQ(list.status, 200) << list;
  bool listed = false;
  const json all = list.Json();
  for (const json& r : all["repos"]) listed = listed || r == repo;
  EXPECT_TRUE(listed) << list;

  HttpReply one = Get("/api/v1/repos/crud");
  ASSERT_EQ(one.status, 200) << one;
  EXPECT_EQ(one.Json(), repo);

  EXPECT_TRUE(
      IsApiError(Post("/api/v1/repos", {{"name", "crud"}, {"url", "https://other.example.com/x.git"}}), 409,
                 "already_exists"));
  EXPECT_EQ(Get("/api/v1/repos/crud").Json(), repo) << "a refused add changed the repository";

  HttpReply removed = Delete("/api/v1/repos/crud");
  EXPECT_EQ(removed.status, 204) << removed;
  EXPECT_TRUE(IsApiError(Get("/api/v1/repos/crud"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Delete("/api/v1/repos/crud"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Get("/api/v1/repos/crud/secrets"), 404, "not_found"));
}

TEST_F(ReposApiTest, AddListShowRemoveThroughTheCli) {
  Outcome add =
      Cli({"repo", "add", "clirepo", "--url", "git://git.example.com/cli.git", "--branch-filter", "main"});
  ASSERT_EQ(add.code, 0) << add;
  EXPECT_EQ(add.out, "clirepo\n");

  Outcome ls = Cli({"repo", "ls"});
  ASSERT_EQ(ls.code, 0) << ls;
  EXPECT_TRUE(Contains(ls.out, "NAME")) << ls;
  EXPECT_TRUE(Contains(ls.out, "clirepo")) << ls;
  EXPECT_TRUE(Contains(ls.out, "git://git.example.com/cli.git")) << ls;

  Outcome quiet = Cli({"repo", "ls", "-q"});
  EXPECT_TRUE(Contains(quiet.out, "clirepo\n")) << quiet;

  Outcome ls_json = Cli({"repo", "ls", "--format", "json"});
  ASSERT_EQ(ls_json.code, 0) << ls_json;
  json repos = json::parse(ls_json.out, nullptr, false);
  ASSERT_TRUE(repos.is_array()) << ls_json;
  bool found = false;
  for (const json& r : repos) found = found || r.value("name", "") == "clirepo";
  EXPECT_TRUE(found) << ls_json;

  Outcome show = Cli({"repo", "show", "clirepo"});
  ASSERT_EQ(show.code, 0) << show;
  EXPECT_TRUE(Contains(show.out, "Branch filter:  main")) << show;
  Outcome show_json = Cli({"repo", "show", "clirepo", "--format", "json"});
  ASSERT_EQ(show_json.code, 0) << show_json;
  json shown = json::parse(show_json.out, nullptr, false);
  EXPECT_EQ(shown.value("url", ""), "git://git.example.com/cli.git") << show_json;
  EXPECT_EQ(shown["secrets"], json::array()) << show_json;

  Outcome again = Cli({"repo", "add", "clirepo", "--url", "git://git.example.com/cli.git"});
  EXPECT_EQ(again.code, 125) << again;
  EXPECT_TRUE(Contains(again.err, "clirepo")) << again;

  Outcome rm = Cli({"repo", "rm", "clirepo"});
  EXPECT_EQ(rm.code, 0) << rm;
  Outcome gone = Cli({"repo", "show", "clirepo"});
  EXPECT_EQ(gone.code, 125) << gone;
  Outcome rm_again = Cli({"repo", "rm", "clirepo"});
  EXPECT_EQ(rm_again.code, 1) << rm_again;
}

TEST_F(ReposApiTest, BadInputsAreRefusedNamingTheField) {
  const std::string url = "https://git.example.com/x.git";
  struct Case {
    json body;
    std::string names;  // what the message must mention
  };
  const std::vector<Case> cases = {
      {{{"url", url}}, "name"},
      {{{"name", "ok"}}, "url"},
      {{{"name", "../etc"}, {"url", url}}, "repository name"},
      {{{"name", "a b"}, {"url", url}}, "repository name"},
      {{{"name", "-dash"}, {"url", url}}, "repository name"},
      {{{"name", std::string(101, 'a')}, {"url", url}}, "repository name"},
      {{{"name", "ok"}, {"url", url}, {"brnach_filter", "x"}}, "brnach_filter"},
      {{{"name", "ok"}, {"url", 5}}, "url"},
      {{{"name", "ok"}, {"url", "/srv/git/x.git"}}, "URL"},
      {{{"name", "ok"}, {"url", "ext::sh -c touch% /tmp/pwned"}}, "URL"},
      {{{"name", "ok"}, {"url", url}, {"defaults", {{"memory", "lots"}}}}, "defaults.memory"},
      {{{"name", "ok"}, {"url", url}, {"defaults", {{"cpus", -1}}}}, "defaults.cpus"},
      {{{"name", "ok"}, {"url", url}, {"defaults", {{"pids", "many"}}}}, "defaults.pids"},
      {{{"name", "ok"}, {"url", url}, {"defaults", {{"timeout", "soon"}}}}, "defaults.timeout"},
      {{{"name", "ok"}, {"url", url}, {"defaults", {{"timout", "1m"}}}}, "defaults.timout"},
      {{{"name", "ok"}, {"url", url}, {"defaults", "fast"}}, "defaults"},
      {{{"name", "ok"}, {"url", url}, {"credential", {{"kind", "token"}, {"pasword", kToken}}}},
       "credential.pasword"},
      {{{"name", "ok"}, {"url", url}, {"credential", {{"password", kToken}}}}, "credential.kind"},
      {{{"name", "ok"}, {"url", url}, {"credential", {{"kind", "telepathy"}, {"password", kToken}}}}, "kind"},
      {{{"name", "ok"}, {"url", url}, {"credential", 7}}, "credential"},
  };
  for (const Case& c : cases) {
    HttpReply r = Post("/api/v1/repos", c.body);
    EXPECT_TRUE(IsApiError(r, 400, "invalid_argument")) << c.body << "\n" << r;
    std::string message = r.Json()["error"].value("message", "");
    EXPECT_TRUE(Contains(Lower(message), Lower(c.names))) << c.body << " -> " << message;
  }
  EXPECT_TRUE(IsApiError(Get("/api/v1/repos/ok"), 404, "not_found")) << "a refused add registered something";
  ExpectNowhere({kToken});
}

TEST_F(ReposApiTest, CredentialsAreRefusedWithoutEchoingThem) {
  // A password in the URL: refused, and named without its userinfo.
  HttpReply in_url = Post(
      "/api/v1/repos",
      {{"name", "pw"}, {"url", std::string("https://deploy:") + kUrlPassword + "@git.example.com/pw.git"}});
  EXPECT_TRUE(IsApiError(in_url, 400, "invalid_argument")) << in_url;
  // A credential of a kind the URL's scheme cannot use.
  HttpReply ssh_on_https =
      Post("/api/v1/repos", {{"name", "pw"},
                             {"url", "https://git.example.com/pw.git"},
                             {"credential",
                              {{"kind", "ssh"},
                               {"ssh_key", std::string("-----BEGIN OPENSSH PRIVATE KEY-----\n") + kToken +
                                               "\n-----END OPENSSH PRIVATE KEY-----\n"},
                               {"known_hosts", "git.example.com ssh-ed25519 AAAA"}}}});
  EXPECT_TRUE(IsApiError(ssh_on_https, 400, "invalid_argument")) << ssh_on_https;
  EXPECT_TRUE(Contains(ssh_on_https.body, "ssh")) << ssh_on_https;
  HttpReply token_on_ssh = Post("/api/v1/repos", {{"name", "pw"},
                                                  {"url", "ssh://git@git.example.com/pw.git"},
                                                  {"credential", {{"kind", "token"}, {"password", kToken}}}});
  EXPECT_TRUE(IsApiError(token_on_ssh, 400, "invalid_argument")) << token_on_ssh;
  HttpReply token_on_file =
      Post("/api/v1/repos",
           {{"name", "pw"},
            {"url", "file:///srv/git/pw.git"},
            {"credential", {{"kind", "basic"}, {"username", "u"}, {"password", kBasicPassword}}}});
  EXPECT_TRUE(IsApiError(token_on_file, 400, "invalid_argument")) << token_on_file;
  // A control character inside a credential: refused naming the field only.
  HttpReply control = Post(
      "/api/v1/repos", {{"name", "pw"},
                        {"url", "https://git.example.com/pw.git"},
                        {"credential", {{"kind", "token"}, {"password", std::string(kToken) + "\x1b[2J"}}}});
  EXPECT_TRUE(IsApiError(control, 400, "invalid_argument")) << control;
  EXPECT_TRUE(IsApiError(Get("/api/v1/repos/pw"), 404, "not_found"));
  ExpectNowhere({kUrlPassword, kToken, kBasicPassword});
}

TEST_F(ReposApiTest, AcceptedCredentialsAreSealedAndNeverShown) {
  HttpReply token = Post("/api/v1/repos", {{"name", "withtoken"},
                                           {"url", "https://git.example.com/t.git"},
                                           {"credential", {{"kind", "token"}, {"password", kToken}}}});
  ASSERT_EQ(token.status, 201) << token;
  EXPECT_EQ(token.Json()["credential"], "token");
  EXPECT_FALSE(token.Json().contains("credential_sealed")) << token;
  // The credential file's text, as `repo add --credential FILE` sends it.
  std::string dir = MakeTempDir("cred");
  std::string file = dir + "/cred.yaml";
  std::ofstream(file) << "username: deploy\npassword: " << kBasicPassword << "\n";
  Outcome add =
      Cli({"repo", "add", "withbasic", "--url", "https://git.example.com/b.git", "--credential", file});
  EXPECT_EQ(add.code, 0) << add;
  HttpReply basic = Get("/api/v1/repos/withbasic");
  ASSERT_EQ(basic.status, 200) << basic;
  EXPECT_EQ(basic.Json()["credential"], "basic") << basic;
  // A credential file with a mistake: the daemon's reader names the key.
  std::ofstream(file) << "username: deploy\npasword: " << kBasicPassword << "\n";
  Outcome bad =
      Cli({"repo", "add", "badfile", "--url", "https://git.example.com/b.git", "--credential", file});
  EXPECT_EQ(bad.code, 125) << bad;
  EXPECT_TRUE(Contains(bad.err, "pasword")) << bad;
  std::filesystem::remove_all(dir);

  Get("/api/v1/repos");
  Get("/api/v1/repos/withtoken");
  Cli({"repo", "ls", "--format", "json"});
  Cli({"repo", "show", "withtoken", "--format", "json"});
  ExpectNowhere({kToken, kBasicPassword});
  EXPECT_EQ(Delete("/api/v1/repos/withtoken").status, 204);
  EXPECT_EQ(Delete("/api/v1/repos/withbasic").status, 204);
}

TEST_F(ReposApiTest, SecretsSetFromStdinAreListedByNameOnly) {
  ASSERT_EQ(Post("/api/v1/repos", {{"name", "sec"}, {"url", "https://git.example.com/sec.git"}}).status, 201);

  Outcome set = CliWithInput(std::string(kSecretValue) + "\n", "repo secret set sec NPM_TOKEN");
  ASSERT_EQ(set.code, 0) << set;
  EXPECT_EQ(set.out, "NPM_TOKEN\n");
  // The API takes the raw bytes, whatever Content-Type says.
  HttpReply put = Put("/api/v1/repos/sec/secrets/API_KEY", kApiSecretValue, "text/plain");
  EXPECT_EQ(put.status, 204) << put;
  HttpReply put_json = Put("/api/v1/repos/sec/secrets/JSONISH", "{\"not\": \"parsed\"}", "application/json");
  EXPECT_EQ(put_json.status, 204) << put_json;

  HttpReply names = Get("/api/v1/repos/sec/secrets");
  ASSERT_EQ(names.status, 200) << names;
  EXPECT_EQ(names.Json(), json({{"secrets", {"API_KEY", "JSONISH", "NPM_TOKEN"}}}));
  Outcome ls = Cli({"repo", "secret", "ls", "sec"});
  EXPECT_EQ(ls.code, 0) << ls;
  EXPECT_EQ(ls.out, "API_KEY\nJSONISH\nNPM_TOKEN\n");
  Outcome ls_json = Cli({"repo", "secret", "ls", "sec", "--format", "json"});
  EXPECT_EQ(json::parse(ls_json.out, nullptr, false), json({"API_KEY", "JSONISH", "NPM_TOKEN"})) << ls_json;
  Cli({"repo", "show", "sec"});
  Cli({"repo", "show", "sec", "--format", "json"});
  Get("/api/v1/repos/sec");

  // Bad keys and places: refused without the value.
  EXPECT_TRUE(IsApiError(Put("/api/v1/repos/sec/secrets/1BAD", kApiSecretValue), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Put("/api/v1/repos/sec/secrets/CI", kApiSecretValue), 400, "invalid_argument"));
  EXPECT_TRUE(
      IsApiError(Put("/api/v1/repos/sec/secrets/SLIPWAY_X", kApiSecretValue), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Put("/api/v1/repos/nosuch/secrets/KEY", kApiSecretValue), 404, "not_found"));
  EXPECT_TRUE(
      IsApiError(Put("/api/v1/repos/sec/secrets/BIG", std::string(65 * 1024, 'x')), 400, "invalid_argument"));
  Outcome bad_cli = CliWithInput(kSecretValue, "repo secret set sec 'BAD-KEY'");
  EXPECT_EQ(bad_cli.code, 125) << bad_cli;

  Outcome rm = Cli({"repo", "secret", "rm", "sec", "JSONISH"});
  EXPECT_EQ(rm.code, 0) << rm;
  EXPECT_TRUE(IsApiError(Delete("/api/v1/repos/sec/secrets/JSONISH"), 404, "not_found"));
  EXPECT_EQ(Get("/api/v1/repos/sec/secrets").Json(), json({{"secrets", {"API_KEY", "NPM_TOKEN"}}}));

  ExpectNowhere({kSecretValue, kApiSecretValue});

  // The repository goes with its secrets.
  EXPECT_EQ(Delete("/api/v1/repos/sec").status, 204);
  ASSERT_EQ(Post("/api/v1/repos", {{"name", "sec"}, {"url", "https://git.example.com/sec.git"}}).status, 201);
  EXPECT_EQ(Get("/api/v1/repos/sec/secrets").Json(), json({{"secrets", json::array()}}));
  EXPECT_EQ(Delete("/api/v1/repos/sec").status, 204);
}

TEST_F(ReposApiTest, HostilePathsAndValues) {
  ASSERT_EQ(Post("/api/v1/repos", {{"name", "host"}, {"url", "https://git.example.com/host.git"}}).status,
            201);
  // Names and keys in the path are decoded once and checked: no way out of
  // the repository through them.
  for (const char* path : {"/api/v1/repos/..%2Fhost", "/api/v1/repos/host%2F..%2Fother",
                           "/api/v1/repos/%2e%2e", "/api/v1/repos/host%0a"}) {
    HttpReply r = Get(path);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << path << "\n" << r;
  }
  for (const char* key : {"..%2FKEY", "KEY%00", "KEY%0A", "%2e%2e", "K%20EY", "K%C3%A9Y"}) {
    HttpReply r = Put(std::string("/api/v1/repos/host/secrets/") + key, kApiSecretValue);
    EXPECT_TRUE(IsApiError(r, 400, "invalid_argument")) << key << "\n" << r;
  }
  // A value is bytes: binary and JSON-looking values are kept as they are,
  // only NUL (which no environment variable can hold) is refused.
  EXPECT_EQ(
      Put("/api/v1/repos/host/secrets/BINARY", std::string("\xff\xfe\x01binary") + kApiSecretValue).status,
      204);
  EXPECT_TRUE(IsApiError(Put("/api/v1/repos/host/secrets/NUL", std::string("a\0b", 3) + kApiSecretValue), 400,
                         "invalid_argument"));
  EXPECT_EQ(Get("/api/v1/repos/host/secrets").Json(), json({{"secrets", {"BINARY"}}}));
  // The wrong method on a secret is refused, and reading one is not a route.
  EXPECT_EQ(Get("/api/v1/repos/host/secrets/BINARY").status, 405);
  ExpectNowhere({kApiSecretValue});
  EXPECT_EQ(Delete("/api/v1/repos/host").status, 204);
}

TEST_F(ReposApiTest, TriggerChecksItsBody) {
  EXPECT_TRUE(IsApiError(Post("/api/v1/repos/nosuch/runs", json::object()), 404, "not_found"));
  ASSERT_EQ(Post("/api/v1/repos", {{"name", "trig"}, {"url", "https://git.example.com/trig.git"}}).status,
            201);
  HttpReply both = Post("/api/v1/repos/trig/runs", {{"branch", "main"}, {"tag", "v1"}});
  EXPECT_TRUE(IsApiError(both, 400, "invalid_argument")) << both;
  HttpReply unknown = Post("/api/v1/repos/trig/runs", {{"brnch", "main"}});
  EXPECT_TRUE(IsApiError(unknown, 400, "invalid_argument")) << unknown;
  EXPECT_TRUE(Contains(unknown.body, "brnch")) << unknown;
  Outcome cli = Cli({"pipeline", "run", "trig", "--branch", "main", "--commit", "abcd"});
  EXPECT_EQ(cli.code, 125) << cli;
  EXPECT_EQ(Delete("/api/v1/repos/trig").status, 204);
}

}  // namespace
}  // namespace slipway::testing
