// SigningKey and provenance: the key file's creation and refusals, DSSE
// envelopes, statements, and their verification against tampering, other
// keys and malformed envelopes. One test checks the signature with the
// openssl command, as any verifier without Slipway would.
#include "pipelines/provenance.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/base/base64.h"
#include "engine/base/fs.h"
#include "pipelines/signing_key.h"
#include "tests/testing/fixtures.h"

namespace slipway::pipelines {
namespace {

using json = nlohmann::ordered_json;

const std::string kSubject = "sha256:" + std::string(64, 'a');

ProvenanceFacts Facts() {
  ProvenanceFacts facts;
  facts.image = "127.0.0.1:5000/team/app";
  facts.manifest_digest = kSubject;
  facts.tags = {"latest", "1a2b3c4d"};
  facts.builder_id = "https://ci.example.com";
  facts.repo_url = "https://git.example.com/team/app.git";
  facts.run.id = 42;
  facts.run.repo = "app";
  facts.run.branch = "main";
  facts.run.commit = std::string(40, 'c');
  facts.run.event = Event::kPush;
  facts.run.status = RunStatus::kSuccess;
  facts.run.pipeline_digest = "sha256:" + std::string(64, 'd');
  facts.run.started_unix_ms = 1'700'000'000'000;
  facts.run.finished_unix_ms = 1'700'000'060'000;
  facts.run.tests = {.total = 10, .passed = 8, .failed = 0, .errors = 0, .skipped = 2};
  StepRecord build;
  build.name = "build";
  build.status = StepStatus::kSuccess;
  StepRecord test = build;
  test.name = "test";
  facts.steps = {build, test};
  return facts;
}

struct KeyDir {
  std::string dir = testing::MakeTempDir("signing-key");
  std::string path = dir + "/keys/provenance.pem";
};

SigningKey NewKey(const KeyDir& d) {
  Result<SigningKey> key = SigningKey::LoadOrCreate(d.path);
  if (!key.ok()) throw std::runtime_error(key.status().ToString());
  return std::move(key).value();
}

TEST(SigningKeyTest, CreatedOnceRootOnlyAndLoadedAgain) {
  KeyDir d;
  SigningKey first = NewKey(d);
  struct stat st;
  ASSERT_EQ(::stat(d.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat((d.dir + "/keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_TRUE(first.key_id().starts_with("sha256:"));
  EXPECT_EQ(first.key_id().size(), 7u + 64u);
  EXPECT_NE(first.PublicKeyPem().find("BEGIN PUBLIC KEY"), std::string::npos);
  EXPECT_EQ(first.PublicKeyPem().find("PRIVATE"), std::string::npos);

  SigningKey again = NewKey(d);  // the same key, not a new one
  EXPECT_EQ(again.key_id(), first.key_id());
  EXPECT_EQ(again.PublicKeyPem(), first.PublicKeyPem());
  EXPECT_TRUE(testing::ListTree(d.dir + "/keys").size() == 1) << "no temp file left";
}

TEST(SigningKeyTest, KeyIdIsSha256OfDerPublicKey) {
  KeyDir d;
  SigningKey key = NewKey(d);
  std::string out;
  ASSERT_EQ(testing::RunShell("openssl pkey -in " + d.path + " -pubout -outform DER | sha256sum", &out), 0);
  EXPECT_EQ("sha256:" + out.substr(0, 64), key.key_id());
}

TEST(SigningKeyTest, RefusesKeyReadableByOthers) {
  KeyDir d;
  NewKey(d);
  for (mode_t mode : {0640, 0604, 0660}) {
    ASSERT_EQ(::chmod(d.path.c_str(), mode), 0);
    Result<SigningKey> key = SigningKey::LoadOrCreate(d.path);
    ASSERT_FALSE(key.ok()) << std::oct << mode;
    EXPECT_EQ(key.status().code(), Code::kPermissionDenied);
    EXPECT_NE(key.status().message().find(d.path), std::string::npos) << key.status().ToString();
    EXPECT_NE(key.status().message().find("0"), std::string::npos);
  }
}

TEST(SigningKeyTest, RefusesSymlinkOtherKeyTypesAndGarbage) {
  KeyDir d;
  NewKey(d);
  const std::string link = d.dir + "/keys/link.pem";
  ASSERT_EQ(::symlink(d.path.c_str(), link.c_str()), 0);
  EXPECT_FALSE(SigningKey::LoadOrCreate(link).ok());

  const std::string rsa = d.dir + "/keys/rsa.pem";
  std::string out;
  ASSERT_EQ(
      testing::RunShell(
          "umask 077; openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out " + rsa + " 2>&1",
          &out),
      0)
      << out;
  Result<SigningKey> key = SigningKey::LoadOrCreate(rsa);
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("Ed25519"), std::string::npos) << key.status().ToString();

  const std::string garbage = d.dir + "/keys/garbage.pem";
  ASSERT_TRUE(WriteFileAtomic(garbage, "not a key", 0600).ok());
  key = SigningKey::LoadOrCreate(garbage);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().message().find("not a key"), std::string::npos) << "content never echoed";
}

TEST(SigningKeyTest, RefusesDirectoryWritableByOthers) {
  KeyDir d;
  ASSERT_EQ(::mkdir((d.dir + "/open").c_str(), 0777), 0);
  ASSERT_EQ(::chmod((d.dir + "/open").c_str(), 0777), 0);
  Result<SigningKey> key = SigningKey::LoadOrCreate(d.dir + "/open/key.pem");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), Code::kPermissionDenied);
  EXPECT_FALSE(PathExists(d.dir + "/open/key.pem"));
}

TEST(DssePaeTest, MatchesTheSpecExample) {
  // From the DSSE protocol document.
  EXPECT_EQ(DssePae("http://example.com/HelloWorld", "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  EXPECT_EQ(DssePae("", ""), "DSSEv1 0  0 ");
}

TEST(ProvenanceTest, StatementNamesRunCommitPipelineStepsAndTests) {
  json s = json::parse(ProvenanceStatement(Facts()));
  EXPECT_EQ(s["_type"], "https://in-toto.io/Statement/v1");
  EXPECT_EQ(s["predicateType"], "https://slsa.dev/provenance/v1");
  EXPECT_EQ(s["subject"][0]["name"], "127.0.0.1:5000/team/app");
  EXPECT_EQ(s["subject"][0]["digest"]["sha256"], std::string(64, 'a'));
  const json& def = s["predicate"]["buildDefinition"];
  EXPECT_EQ(def["externalParameters"]["commit"], std::string(40, 'c'));
  EXPECT_EQ(def["externalParameters"]["ref"], "refs/heads/main");
  EXPECT_EQ(def["externalParameters"]["event"], "push");
  EXPECT_EQ(def["externalParameters"]["pipelineDigest"], "sha256:" + std::string(64, 'd'));
  EXPECT_EQ(def["internalParameters"]["runId"], 42);
  EXPECT_EQ(def["resolvedDependencies"][0]["digest"]["gitCommit"], std::string(40, 'c'));
  const json& details = s["predicate"]["runDetails"];
  EXPECT_EQ(details["builder"]["id"], "https://ci.example.com");
  EXPECT_EQ(details["metadata"]["invocationId"], "42");
  EXPECT_EQ(details["metadata"]["startedOn"], "2023-11-14T22:13:20.000Z");
  const json& run = details["byproducts"][0]["annotations"];
  EXPECT_EQ(run["tests"]["passed"], 8);
  EXPECT_EQ(run["steps"][1]["name"], "test");
  EXPECT_EQ(run["steps"][1]["status"], "success");
  EXPECT_EQ(run["tags"][0], "latest");
}

TEST(ProvenanceTest, StatementNeverCarriesTheRepositoryUrlsPassword) {
  ProvenanceFacts facts = Facts();
  facts.repo_url = "https://ci:tok-9a8b7c6d5e@git.example.com/team/app.git";
  std::string statement = ProvenanceStatement(facts);
  EXPECT_EQ(statement.find("tok-9a8b7c6d5e"), std::string::npos) << statement;
  EXPECT_NE(statement.find("https://git.example.com/team/app.git"), std::string::npos) << statement;
}

TEST(ProvenanceTest, SignedEnvelopeVerifies) {
  KeyDir d;
  SigningKey key = NewKey(d);
  Result<std::string> envelope = key.SignEnvelope(kInTotoPayloadType, ProvenanceStatement(Facts()));
  ASSERT_TRUE(envelope.ok()) << envelope.status().ToString();
  json e = json::parse(*envelope);
  EXPECT_EQ(e["payloadType"], kInTotoPayloadType);
  EXPECT_EQ(e["signatures"][0]["keyid"], key.key_id());

  Result<VerifiedProvenance> v = VerifyProvenance(*envelope, key.PublicKeyPem(), kSubject);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->key_id, key.key_id());
  EXPECT_EQ(v->subject_digest, kSubject);
  EXPECT_EQ(v->run_id, 42);
  EXPECT_EQ(v->repo, "app");
  EXPECT_EQ(v->commit, std::string(40, 'c'));
  EXPECT_EQ(v->branch, "main");
  EXPECT_EQ(v->tests.total, 10);
  EXPECT_EQ(v->tests.skipped, 2);
  ASSERT_EQ(v->steps.size(), 2u);
  EXPECT_EQ(v->steps[0], std::make_pair(std::string("build"), std::string("success")));
  EXPECT_TRUE(VerifyProvenance(*envelope, key.PublicKeyPem(), "").ok());
}

TEST(ProvenanceTest, TamperedPayloadIsDenied) {
  KeyDir d;
  SigningKey key = NewKey(d);
  std::string statement = ProvenanceStatement(Facts());
  json e = json::parse(*key.SignEnvelope(kInTotoPayloadType, statement));

  // What an attacker would change: the test counts, the commit, the subject.
  for (auto [from, to] :
       std::vector<std::pair<std::string, std::string>>{{"\"failed\":0", "\"failed\":3"},
                                                        {std::string(40, 'c'), std::string(40, 'e')},
                                                        {std::string(64, 'a'), std::string(64, 'b')}}) {
    std::string altered = statement;
    size_t at = altered.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    altered.replace(at, from.size(), to);
    json t = e;
    t["payload"] = Base64Encode(altered);
    Result<VerifiedProvenance> v = VerifyProvenance(t.dump(), key.PublicKeyPem(), "");
    ASSERT_FALSE(v.ok()) << from;
    EXPECT_EQ(v.status().code(), Code::kPermissionDenied) << v.status().ToString();
  }
  // The payload type is signed too.
  json t = e;
  t["payloadType"] = "application/json";
  EXPECT_FALSE(VerifyProvenance(t.dump(), key.PublicKeyPem(), "").ok());
  // A flipped bit in the signature.
  t = e;
  std::string sig = *Base64Decode(e["signatures"][0]["sig"].get<std::string>());
  sig[5] ^= 1;
  t["signatures"][0]["sig"] = Base64Encode(sig);
  EXPECT_EQ(VerifyProvenance(t.dump(), key.PublicKeyPem(), "").status().code(), Code::kPermissionDenied);
}

TEST(ProvenanceTest, AnotherKeyIsDeniedWhateverTheKeyIdSays) {
  KeyDir d1, d2;
  SigningKey ours = NewKey(d1);
  SigningKey theirs = NewKey(d2);
  ASSERT_NE(ours.key_id(), theirs.key_id());
  json e = json::parse(*theirs.SignEnvelope(kInTotoPayloadType, ProvenanceStatement(Facts())));
  e["signatures"][0]["keyid"] = ours.key_id();  // a forged hint gains nothing
  Result<VerifiedProvenance> v = VerifyProvenance(e.dump(), ours.PublicKeyPem(), kSubject);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kPermissionDenied);
}

TEST(ProvenanceTest, WrongSubjectIsDenied) {
  KeyDir d;
  SigningKey key = NewKey(d);
  std::string envelope = *key.SignEnvelope(kInTotoPayloadType, ProvenanceStatement(Facts()));
  Result<VerifiedProvenance> v =
      VerifyProvenance(envelope, key.PublicKeyPem(), "sha256:" + std::string(64, 'b'));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kPermissionDenied);
}

TEST(ProvenanceTest, MalformedEnvelopesAreInvalid) {
  KeyDir d;
  SigningKey key = NewKey(d);
  const std::string pem = key.PublicKeyPem();
  json good = json::parse(*key.SignEnvelope(kInTotoPayloadType, ProvenanceStatement(Facts())));
  std::vector<std::string> bad = {
      "",
      "null",
      "[]",
      "{",
      std::string(5 << 20, ' '),
      R"({"payloadType":"application/vnd.in-toto+json"})",
      R"({"payloadType":1,"payload":"e30=","signatures":[]})",
  };
  json e = good;
  e["signatures"] = json::array();
  bad.push_back(e.dump());
  e = good;
  e["signatures"] = {1};
  bad.push_back(e.dump());
  e = good;
  e["payload"] = "!!!not base64";
  bad.push_back(e.dump());
  e = good;
  e["signatures"][0]["sig"] = 7;
  bad.push_back(e.dump());
  e = good;
  e.erase("signatures");
  bad.push_back(e.dump());
  for (const std::string& text : bad) {
    Result<VerifiedProvenance> v = VerifyProvenance(text, pem, "");
    ASSERT_FALSE(v.ok()) << text.substr(0, 100);
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument) << text.substr(0, 100) << v.status().ToString();
  }
  // A signed payload that is not a statement of ours is refused though its
  // signature holds.
  for (const std::string& payload : {std::string("[]"), std::string(R"({"_type":"x"})"),
                                     std::string(R"({"_type":"https://in-toto.io/Statement/v1",
                                       "predicateType":"https://slsa.dev/provenance/v1","subject":[]})")}) {
    std::string envelope = *key.SignEnvelope(kInTotoPayloadType, payload);
    Result<VerifiedProvenance> v = VerifyProvenance(envelope, pem, "");
    ASSERT_FALSE(v.ok()) << payload;
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument) << payload;
  }
  // Not a public key.
  EXPECT_EQ(VerifyProvenance(good.dump(), "garbage", "").status().code(), Code::kInvalidArgument);
}

// The signature checked by `openssl pkeyutl -verify -rawin` against the
// public key PEM: what the issue's e2e does against GET /api/v1/signing-key.
TEST(ProvenanceTest, OpensslCommandVerifiesTheSignature) {
  KeyDir d;
  SigningKey key = NewKey(d);
  std::string statement = ProvenanceStatement(Facts());
  json e = json::parse(*key.SignEnvelope(kInTotoPayloadType, statement));
  const std::string pub = d.dir + "/pub.pem", pae = d.dir + "/pae.bin", sig = d.dir + "/sig.bin";
  std::ofstream(pub) << key.PublicKeyPem();
  std::ofstream(pae, std::ios::binary)
      << DssePae(e["payloadType"].get<std::string>(), *Base64Decode(e["payload"].get<std::string>()));
  std::ofstream(sig, std::ios::binary) << *Base64Decode(e["signatures"][0]["sig"].get<std::string>());
  std::string out;
  const std::string verify =
      "openssl pkeyutl -verify -pubin -inkey " + pub + " -rawin -in " + pae + " -sigfile " + sig + " 2>&1";
  ASSERT_EQ(testing::RunShell(verify, &out), 0) << out;
  EXPECT_NE(out.find("Signature Verified Successfully"), std::string::npos) << out;

  // And the command notices a tampered statement.
  std::string altered = DssePae(kInTotoPayloadType, statement);
  altered[altered.size() - 3] ^= 1;
  std::ofstream(pae, std::ios::binary | std::ios::trunc) << altered;
  EXPECT_NE(testing::RunShell(verify, &out), 0) << out;
}

}  // namespace
}  // namespace slipway::pipelines
