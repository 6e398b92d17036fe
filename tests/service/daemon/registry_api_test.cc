// Promotion's registry side through a real slipwayd: registry logins
// (/api/v1/registries, `slipway registry login|ls|logout`) against a
// docker-registry behind htpasswd, used by slipwayd's own pushes, kept
// across a restart and never shown (looked for in every answer, the log and
// the database's bytes); the signing key (GET /api/v1/signing-key, its file);
// and `slipway verify` of an image whose provenance sits in the registry
// under the sha256-<hex> tag scheme: verified, missing, tampered, another key.
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/base/base64.h"
#include "engine/registry/client.h"
#include "engine/registry/referrers.h"
#include "pipelines/provenance.h"
#include "pipelines/signing_key.h"
#include "tests/engine/registry/registry_fixture.h"
#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

constexpr char kUser[] = "promoter";
constexpr char kPassword[] = "regpw-7d2a91c4e0b3";

class RegistryApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_dir_ = MakeTempDir("registry-api-log");
    registry_ = std::make_unique<TestRegistry>(TestRegistryOptions{kUser, kPassword});
    daemon_ = std::make_unique<DaemonUnderTest>(
        std::vector<std::string>{"--log-file", log_dir_ + "/slipwayd.log", "--log-level", "debug"});
    auto started = daemon_->Start();
    ASSERT_TRUE(started) << started.message();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "slipwayd's log:\n" << ReadFileOrEmpty(log_dir_ + "/slipwayd.log") << "\n";
    daemon_.reset();
    registry_.reset();
    std::filesystem::remove_all(log_dir_);
  }

  Outcome Cli(const std::vector<std::string>& args) {
    Outcome o = daemon_->Cli(args);
    answers_ += o.out + o.err + "\n";
    return o;
  }
  Outcome CliWithInput(const std::string& input, const std::string& args) {
    std::vector<std::string> env = daemon_->Env();
    env.push_back("INPUT=" + input);
    Outcome o = Execute({"/bin/sh", "-c", "printf '%s\\n' \"$INPUT\" | " + Binaries().cli + " " + args}, env);
    answers_ += o.out + o.err + "\n";
    return o;
  }
  HttpReply Api(const std::string& method, const std::string& path, const json& body = nullptr) {
    HttpReply r = method == "GET"      ? daemon_->Api().Get(path)
                  : method == "DELETE" ? daemon_->Api().Delete(path)
                                       : daemon_->Api().Post(path, body);
    answers_ += r.body + "\n";
    return r;
  }

  void ExpectNowhere(const std::string& value) {
    std::string db;
    for (const char* suffix : {"", "-wal"})
      db += ReadFileOrEmpty(daemon_->data_dir() + "/slipway.db" + suffix);
    ASSERT_FALSE(db.empty());
    const std::string log = ReadFileOrEmpty(log_dir_ + "/slipwayd.log") + daemon_->Log();
    ASSERT_TRUE(Contains(log, "registry.login")) << "the log is not in " << log_dir_;
    EXPECT_FALSE(Contains(answers_, value)) << "came back in an answer";
    EXPECT_FALSE(Contains(log, value)) << "is in slipwayd's log";
    EXPECT_FALSE(Contains(db, value)) << "is in the database in plain text";
    EXPECT_FALSE(Contains(db, Base64Encode(std::string(kUser) + ":" + value))) << "base64 in the database";
  }

  std::string log_dir_;
  std::unique_ptr<TestRegistry> registry_;
  std::unique_ptr<DaemonUnderTest> daemon_;
  std::string answers_;
};

TEST_F(RegistryApiTest, LoginIsCheckedStoredUsedKeptAndNeverShown) {
  const std::string host = registry_->host();
  ASSERT_FALSE(daemon_->ImportBusybox("busybox").empty());
  // Without a login the private registry refuses the push.
  ASSERT_EQ(Cli({"tag", "busybox", host + "/team/app:1"}).code, 0);
  Outcome refused = Cli({"push", host + "/team/app:1"});
  EXPECT_NE(refused.code, 0) << refused;

  // A wrong password is refused by the registry, and nothing is stored.
  HttpReply wrong = Api("POST", "/api/v1/registries/" + host + "/login",
                        {{"username", kUser}, {"password", "not-the-password"}});
  EXPECT_TRUE(IsApiError(wrong, 403, "permission_denied")) << wrong;
  EXPECT_EQ(Api("GET", "/api/v1/registries").Json()["registries"].size(), 0u);

  Outcome login = CliWithInput(kPassword, "registry login " + host + " -u " + kUser + " --password-stdin");
  ASSERT_EQ(login.code, 0) << login;
  EXPECT_TRUE(Contains(login.out, "succeeded")) << login;
  HttpReply list = Api("GET", "/api/v1/registries");
  ASSERT_EQ(list.status, 200) << list;
  ASSERT_EQ(list.Json()["registries"].size(), 1u) << list;
  EXPECT_EQ(list.Json()["registries"][0]["host"], host);
  EXPECT_EQ(list.Json()["registries"][0]["username"], kUser);
  Outcome ls = Cli({"registry", "ls"});
  EXPECT_TRUE(Contains(ls.out, host) && Contains(ls.out, kUser)) << ls;

  // slipwayd's own pushes use it.
  Outcome pushed = Cli({"push", host + "/team/app:1"});
  EXPECT_EQ(pushed.code, 0) << pushed;

  // Kept across a restart: sealed in the database, opened at start.
  ASSERT_EQ(daemon_->Terminate(), 0);
  ASSERT_TRUE(daemon_->Restart());
  ASSERT_EQ(Cli({"tag", "busybox", host + "/team/again:1"}).code, 0);
  pushed = Cli({"push", host + "/team/again:1"});
  EXPECT_EQ(pushed.code, 0) << pushed;

  // Logout: gone, and the push is refused again; a second logout is 404.
  EXPECT_EQ(Cli({"registry", "logout", host}).code, 0);
  EXPECT_EQ(Api("GET", "/api/v1/registries").Json()["registries"].size(), 0u);
  ASSERT_EQ(Cli({"tag", "busybox", host + "/team/third:1"}).code, 0);
  EXPECT_NE(Cli({"push", host + "/team/third:1"}).code, 0);
  EXPECT_TRUE(IsApiError(Api("DELETE", "/api/v1/registries/" + host), 404, "not_found"));

  ExpectNowhere(kPassword);
}

TEST_F(RegistryApiTest, HostileLoginsAreRefused) {
  for (const std::string& host : {std::string("a%20b"), std::string("..%2Fetc"), std::string("-x"),
                                  std::string("h%0Ax"), std::string(300, 'a')}) {
    HttpReply r =
        Api("POST", "/api/v1/registries/" + host + "/login", {{"username", "u"}, {"password", "p"}});
    EXPECT_TRUE(IsApiError(r, 400, "invalid_argument")) << host << " " << r;
  }
  const std::string path = "/api/v1/registries/" + registry_->host() + "/login";
  for (const json& body : {json{{"username", "u"}}, json{{"password", kPassword}},
                           json{{"username", "a:b"}, {"password", kPassword}, {"verify", false}},
                           json{{"username", "u"}, {"password", ""}, {"verify", false}},
                           json{{"username", "u"}, {"password", kPassword}, {"extra", 1}}}) {
    HttpReply r = Api("POST", path, body);
    EXPECT_TRUE(IsApiError(r, 400, "invalid_argument")) << body.dump() << " " << r;
    EXPECT_FALSE(Contains(r.body, kPassword));
  }
  // The password is only ever read from stdin.
  Outcome o = Cli({"registry", "login", registry_->host(), "-u", kUser});
  EXPECT_NE(o.code, 0);
  EXPECT_TRUE(Contains(o.err, "--password-stdin")) << o;
}

TEST_F(RegistryApiTest, SigningKeyIsCreatedRootOnlyAndServed) {
  const std::string path = daemon_->data_dir() + "/keys/provenance.pem";
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat((daemon_->data_dir() + "/keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  auto key = pipelines::SigningKey::LoadOrCreate(path);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  HttpReply served = Api("GET", "/api/v1/signing-key");
  ASSERT_EQ(served.status, 200) << served;
  EXPECT_EQ(served.Json()["algorithm"], "ed25519");
  EXPECT_EQ(served.Json()["key_id"], key->key_id());
  EXPECT_EQ(served.Json()["public_key"], key->PublicKeyPem());
  EXPECT_FALSE(Contains(served.body, "PRIVATE"));
  // The same key after a restart.
  ASSERT_EQ(daemon_->Terminate(), 0);
  ASSERT_TRUE(daemon_->Restart());
  EXPECT_EQ(Api("GET", "/api/v1/signing-key").Json()["key_id"], key->key_id());
  // Only with the token.
  EXPECT_EQ(daemon_->Api().WithoutToken().Get("/api/v1/signing-key").status, 401);
}

// `slipway verify` against images whose provenance this test attaches the
// way promotion does (signed with slipwayd's key, which the test reads from
// slipwayd's data directory), in a registry without the referrers API.
TEST_F(RegistryApiTest, VerifyFindsChecksAndRefuses) {
  TestRegistry open_registry;  // anonymous: the CLI needs no credentials
  const std::string host = open_registry.host();
  TestImage good = TestImage::Busybox("amd64");
  TestImage bare = TestImage::Busybox("arm64");
  TestImage forged = TestImage::Busybox("ppc64le");
  SkopeoPush(good, host + "/team/app:1");
  SkopeoPush(bare, host + "/team/app:2");
  SkopeoPush(forged, host + "/team/app:3");
  Reference repo = open_registry.Ref("team/app:1");

  auto key = pipelines::SigningKey::LoadOrCreate(daemon_->data_dir() + "/keys/provenance.pem");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  auto statement = [&](const Digest& subject) {
    pipelines::ProvenanceFacts facts;
    facts.image = host + "/team/app";
    facts.manifest_digest = subject.str();
    facts.builder_id = daemon_->Url();
    facts.run.id = 42;
    facts.run.repo = "app";
    facts.run.branch = "main";
    facts.run.commit = std::string(40, 'c');
    facts.run.pipeline_digest = "sha256:" + std::string(64, 'd');
    facts.run.tests = {.total = 7, .passed = 6, .failed = 0, .errors = 0, .skipped = 1};
    pipelines::StepRecord step;
    step.name = "unit";
    step.status = pipelines::StepStatus::kSuccess;
    facts.steps = {step};
    return pipelines::ProvenanceStatement(facts);
  };
  RegistryOptions options;
  options.retries = 1;
  RegistryClient client(options);
  auto attach = [&](const Digest& subject, const std::string& envelope) {
    auto report = AttachArtifact(client, repo, subject, pipelines::kProvenanceArtifactType,
                                 pipelines::kDsseMediaType, envelope);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->tag_scheme);
  };
  attach(good.manifest_digest,
         *key->SignEnvelope(pipelines::kInTotoPayloadType, statement(good.manifest_digest)));
  // A statement altered after signing: more tests passed than ran.
  json tampered =
      json::parse(*key->SignEnvelope(pipelines::kInTotoPayloadType, statement(forged.manifest_digest)));
  std::string payload = *Base64Decode(tampered["payload"].get<std::string>());
  payload.replace(payload.find("\"failed\":0"), 10, "\"failed\":9");
  tampered["payload"] = Base64Encode(payload);
  attach(forged.manifest_digest, tampered.dump());

  const std::string good_ref = host + "/team/app@" + good.manifest_digest.str();
  Outcome ok = Cli({"verify", good_ref});
  ASSERT_EQ(ok.code, 0) << ok;
  EXPECT_TRUE(Contains(ok.out, "Verified " + good_ref)) << ok.out;
  EXPECT_TRUE(Contains(ok.out, "42 of repository app")) << ok.out;
  EXPECT_TRUE(Contains(ok.out, std::string(40, 'c'))) << ok.out;
  EXPECT_TRUE(Contains(ok.out, "branch:       main")) << ok.out;
  EXPECT_TRUE(Contains(ok.out, "unit success")) << ok.out;
  EXPECT_TRUE(Contains(ok.out, "7 total, 6 passed, 0 failed, 0 errors, 1 skipped")) << ok.out;
  EXPECT_TRUE(Contains(ok.out, key->key_id())) << ok.out;

  Outcome as_json = Cli({"verify", good_ref, "--format", "json"});
  ASSERT_EQ(as_json.code, 0) << as_json;
  json doc = json::parse(as_json.out);
  EXPECT_EQ(doc["run"], 42);
  EXPECT_EQ(doc["tests"]["passed"], 6);
  EXPECT_EQ(doc["statement"]["subject"][0]["digest"]["sha256"], good.manifest_digest.hex());

  // With the key given as a file, slipwayd is not asked at all.
  const std::string pem = log_dir_ + "/slipwayd.pub";
  std::ofstream(pem) << key->PublicKeyPem();
  Outcome offline =
      Execute({Binaries().cli, "--host", "http://127.0.0.1:1", "verify", good_ref, "--key", pem});
  EXPECT_EQ(offline.code, 0) << offline;

  Outcome missing = Cli({"verify", host + "/team/app@" + bare.manifest_digest.str()});
  EXPECT_EQ(missing.code, 1) << missing;
  EXPECT_TRUE(Contains(missing.err, "no provenance attestation")) << missing;
  EXPECT_TRUE(Contains(missing.err, ReferrersTag(bare.manifest_digest))) << missing;

  Outcome altered = Cli({"verify", host + "/team/app@" + forged.manifest_digest.str()});
  EXPECT_EQ(altered.code, 1) << altered;
  EXPECT_TRUE(Contains(altered.err, "does not verify")) << altered;
  EXPECT_FALSE(Contains(altered.out, "Verified")) << altered;

  // Another key: a good signature, but not by the key trusted.
  const std::string other_dir = MakeTempDir("other-key");
  auto other = pipelines::SigningKey::LoadOrCreate(other_dir + "/k/key.pem");
  ASSERT_TRUE(other.ok());
  std::ofstream(other_dir + "/other.pub") << other->PublicKeyPem();
  Outcome wrong_key = Cli({"verify", good_ref, "--key", other_dir + "/other.pub"});
  EXPECT_EQ(wrong_key.code, 1) << wrong_key;
  EXPECT_TRUE(Contains(wrong_key.err, "does not verify")) << wrong_key;
  std::filesystem::remove_all(other_dir);

  // A tag instead of a digest is a usage error.
  Outcome by_tag = Cli({"verify", host + "/team/app:1"});
  EXPECT_EQ(by_tag.code, 125) << by_tag;
  EXPECT_TRUE(Contains(by_tag.err, "by digest")) << by_tag;
}

}  // namespace
}  // namespace slipway::testing
