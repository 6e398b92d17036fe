// Promotion end to end, with real parts: a repository pushed with git, a
// real slipwayd that builds the pipeline's image (Dockerfile) and runs its
// steps, and a real docker-registry behind htpasswd basic auth (its
// credentials given to slipwayd in a registry_auth file). What the registry
// then holds is read back with skopeo and curl, not with Slipway's client;
// the provenance's signature is checked with `openssl pkeyutl -verify`
// against the key slipwayd serves.
//
// Cases: a run that passes is promoted (same digest, tags as configured,
// provenance found by its sha256-<hex> tag, signed, naming the run; the
// audit lists it); promoting again changes nothing; a failing run is not
// promoted and the manual call is 409; a branch the policy refuses is
// "refused" and 403; a registry that is down gives "failed" with no tag set,
// and after it is back a manual retry promotes.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/base/base64.h"
#include "engine/oci/digest.h"
#include "tests/engine/registry/registry_fixture.h"
#include "tests/pipelines/e2e/pipeline_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

constexpr char kUser[] = "ci-bot";
constexpr char kPassword[] = "s3cret-Registry-pw";

std::string CurlCreds() {
  return std::string(kUser) + ":" + kPassword;
}

// Runs `command`, failing the test (and returning "") if it fails.
std::string Sh(const std::string& command) {
  try {
    return RunOrThrow(command);
  } catch (const std::exception& e) {
    ADD_FAILURE() << command << ": " << e.what();
    return "";
  }
}

// Whether `command` succeeds.
bool ShOk(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

class PromotionTest : public PipelineTest {
 protected:
  void SetUp() override {
    registry_ = std::make_unique<TestRegistry>(TestRegistryOptions{kUser, kPassword});
    dir_ = MakeTempDir("slipway-promotion-e2e");
    // Docker's config.json form, as `docker login` writes it.
    std::ofstream(dir_ + "/auth.json")
        << json{{"auths", {{registry_->host(), {{"auth", Base64Encode(CurlCreds())}}}}}}.dump();
    PipelineTest::SetUp();
  }
  std::vector<std::string> DaemonArgs() const override {
    return {"--insecure-registry", registry_->host(),
            "--registry-auth",     dir_ + "/auth.json",
            "--promotion-retries", "1",
            "--promotion-backoff", "100ms"};
  }

  std::string Target() const { return registry_->host() + "/team/app"; }

  // The pipeline: build an image from the repository's Dockerfile, test it,
  // promote it to Target() with `policy` lines added to promote.
  std::string Pipeline(const std::string& step_command, const std::string& policy = "  branches: [main]\n") {
    return "build: {dockerfile: Dockerfile}\n"
           "steps:\n"
           "  - name: test\n"
           "    commands: [" +
           Q(step_command) +
           "]\n"
           "promote:\n"
           "  to: " +
           Target() +
           "\n"
           "  tags: [\"{short_sha}\", \"{branch}\", latest]\n"
           "  immutable: [\"{short_sha}\"]\n" +
           policy;
  }
  std::map<std::string, std::string> Files(const std::string& marker) {
    return {{"Dockerfile", "FROM busybox\nRUN echo " + marker + " > /marker\n"}};
  }

  // Waits (bounded) until the run's promotion status is `status`.
  json AwaitPromotion(int64_t id, const std::string& status) {
    json run;
    bool ok = WaitUntil(
        [&] {
          run = GetRun(id);
          return run["promotion"]["status"] == status;
        },
        std::chrono::seconds(120));
    EXPECT_TRUE(ok) << "run " << id << " promotion: " << run["promotion"].dump() << "\n" << daemon().Log();
    return run;
  }

  // skopeo inspect of TARGET:tag over http with the registry's credentials.
  json Inspect(const std::string& tag, bool raw = false) {
    std::string out = Skopeo(std::string("inspect ") + (raw ? "--raw " : "") + "--tls-verify=false --creds " +
                             CurlCreds() + " docker://" + Target() + ":" + tag);
    return json::parse(out, nullptr, false);
  }
  bool TagExists(const std::string& tag) {
    return ShOk("curl -sf -u " + CurlCreds() + " -o /dev/null http://" + registry_->host() +
                "/v2/team/app/manifests/" + tag);
  }
  std::string Fetch(const std::string& path, const std::string& accept = "") {
    return Sh("curl -sf -u " + CurlCreds() + (accept.empty() ? "" : " -H 'Accept: " + accept + "'") +
              " http://" + registry_->host() + "/v2/team/app/" + path);
  }

  std::unique_ptr<TestRegistry> registry_;
  std::string dir_;
};

TEST_F(PromotionTest, APassingRunIsPromotedWithSignedProvenance) {
  PipelineRepo repo;
  std::string commit = repo.Push(Pipeline("test \"$(cat /marker)\" = built-one"), Files("built-one"));
  AddRepo("app", repo.file_url());
  int64_t id = Trigger("app", {{"branch", "main"}});
  json run = AwaitRun(id, std::chrono::seconds(180));
  ASSERT_EQ(Str(run, "status"), "success") << run.dump(2) << StepLog(id, "_setup");
  run = AwaitPromotion(id, "promoted");

  // The audit names the promotion: the run, its image, digest, tags.
  auto listed = Api().Get("/api/v1/promotions?run=" + std::to_string(id));
  ASSERT_EQ(listed.status, 200) << listed;
  json promotions = listed.Json()["promotions"];
  ASSERT_EQ(promotions.size(), 1u) << promotions.dump(2);
  json p = promotions[0];
  EXPECT_EQ(Str(p, "result"), "promoted");
  EXPECT_EQ(Str(p, "started_by"), "auto");
  EXPECT_EQ(Str(p, "repo"), "app");
  EXPECT_EQ(Str(p, "image_id"), Str(run, "image_id"));
  const std::string digest = Str(p, "manifest_digest");
  ASSERT_EQ(digest.size(), 71u) << p.dump(2);
  const std::string short_sha = commit.substr(0, 8);
  EXPECT_EQ(p["tags"], json({short_sha, "main", "latest"}));

  // What the registry serves, read by skopeo: each tag at that digest.
  for (const std::string& tag : {short_sha, std::string("main"), std::string("latest")}) {
    json inspected = Inspect(tag);
    EXPECT_EQ(Str(inspected, "Digest"), digest) << tag << ": " << inspected.dump(2);
  }
  // And the image pulls back whole: skopeo copies it out by digest.
  Sh("skopeo copy --src-tls-verify=false --src-creds " + CurlCreds() + " docker://" + Target() + "@" +
     digest + " oci:" + dir_ + "/pulled:x >/dev/null");

  // The provenance: found by the tag scheme (docker-registry 2.8 has no
  // referrers API), an artifact whose subject is the image.
  const std::string scheme_tag = "sha256-" + digest.substr(7);
  json index = json::parse(Fetch("manifests/" + scheme_tag, "application/vnd.oci.image.index.v1+json"),
                           nullptr, false);
  ASSERT_TRUE(index.is_object() && index["manifests"].size() == 1) << index.dump(2);
  const std::string artifact_digest = index["manifests"][0]["digest"];
  EXPECT_EQ(artifact_digest, Str(p, "provenance_digest"));
  json artifact = json::parse(
      Fetch("manifests/" + artifact_digest, "application/vnd.oci.image.manifest.v1+json"), nullptr, false);
  ASSERT_TRUE(artifact.is_object()) << artifact;
  EXPECT_EQ(artifact["subject"]["digest"], digest);
  EXPECT_EQ(artifact["layers"][0]["mediaType"], "application/vnd.dsse.envelope.v1+json");
  json envelope =
      json::parse(Fetch("blobs/" + artifact["layers"][0]["digest"].get<std::string>()), nullptr, false);
  ASSERT_TRUE(envelope.is_object()) << envelope;

  // Its signature, checked by openssl against the key slipwayd serves.
  auto key = Api().Get("/api/v1/signing-key");
  ASSERT_EQ(key.status, 200) << key;
  std::string pem = key.Json().is_object() ? Str(key.Json(), "public_key") : key.body;
  std::ofstream(dir_ + "/key.pem") << pem;
  auto payload = Base64Decode(envelope["payload"].get<std::string>());
  auto sig = Base64Decode(envelope["signatures"][0]["sig"].get<std::string>());
  ASSERT_TRUE(payload && sig);
  const std::string type = envelope["payloadType"];
  // DSSE's pre-authentication encoding, written out here from the spec.
  std::string pae = "DSSEv1 " + std::to_string(type.size()) + " " + type + " " +
                    std::to_string(payload->size()) + " " + *payload;
  std::ofstream(dir_ + "/pae.bin", std::ios::binary) << pae;
  std::ofstream(dir_ + "/sig.bin", std::ios::binary) << *sig;
  const std::string verify = "openssl pkeyutl -verify -pubin -inkey " + dir_ + "/key.pem -rawin -in " + dir_ +
                             "/pae.bin -sigfile " + dir_ + "/sig.bin";
  EXPECT_TRUE(ShOk(verify)) << verify;
  // A statement changed by one byte does not verify.
  std::string tampered = pae;
  tampered[tampered.size() - 2] ^= 1;
  std::ofstream(dir_ + "/pae.bin", std::ios::binary | std::ios::trunc) << tampered;
  EXPECT_FALSE(ShOk(verify));

  // The statement names the image, the run, its commit and steps.
  json statement = json::parse(*payload, nullptr, false);
  ASSERT_TRUE(statement.is_object()) << *payload;
  EXPECT_EQ(statement["subject"][0]["digest"]["sha256"], digest.substr(7));
  EXPECT_NE(payload->find("\"runId\":" + std::to_string(id)), std::string::npos) << *payload;
  EXPECT_NE(payload->find(commit), std::string::npos);
  EXPECT_NE(payload->find("\"test\""), std::string::npos);

  // `slipway verify` agrees, naming the run; and refuses the statement once
  // it is altered in the registry's storage (signature kept).
  const std::string ref = Target() + "@" + digest;
  Outcome verified =
      daemon().Cli({"verify", ref, "--registry-auth", dir_ + "/auth.json", "--format", "json"});
  EXPECT_EQ(verified.code, 0) << verified;
  json said = json::parse(verified.out, nullptr, false);
  EXPECT_EQ(said["verified"], true) << verified;
  EXPECT_EQ(said["run"], id) << verified;
  EXPECT_EQ(said["commit"], commit) << verified;

  // Promoting again changes nothing, and says so.
  auto again = Api().Post("/api/v1/runs/" + std::to_string(id) + "/promote");
  ASSERT_EQ(again.status, 200) << again;
  EXPECT_EQ(Str(again.Json(), "result"), "unchanged") << again.body;
  EXPECT_EQ(Str(again.Json(), "manifest_digest"), digest);
  EXPECT_EQ(Str(again.Json(), "started_by"), "api");
  EXPECT_EQ(Str(Inspect("latest"), "Digest"), digest);
  json index_again = json::parse(Fetch("manifests/" + scheme_tag, "application/vnd.oci.image.index.v1+json"),
                                 nullptr, false);
  EXPECT_EQ(index_again["manifests"].size(), 1u) << index_again.dump(2);

  // The CLI: by hand, and the audit in its table and JSON forms.
  Outcome cli = daemon().Cli({"pipeline", "promote", std::to_string(id)});
  EXPECT_EQ(cli.code, 0) << cli;
  EXPECT_NE(cli.out.find("unchanged"), std::string::npos) << cli;
  Outcome table = daemon().Cli({"promotions", "--repo", "app"});
  EXPECT_EQ(table.code, 0) << table;
  EXPECT_NE(table.out.find("cli"), std::string::npos) << table;
  EXPECT_NE(table.out.find("auto"), std::string::npos) << table;
  Outcome as_json = daemon().Cli({"promotions", "--digest", digest, "--format", "json"});
  ASSERT_EQ(as_json.code, 0) << as_json;
  EXPECT_EQ(json::parse(as_json.out, nullptr, false)["promotions"].size(), 3u) << as_json.out;
  Outcome show = daemon().Cli({"pipeline", "show", std::to_string(id)});
  EXPECT_NE(show.out.find("Promotion: promoted"), std::string::npos) << show;
  // A statement altered where the registry keeps it no longer verifies.
  auto layer = Digest::Parse(artifact["layers"][0]["digest"].get<std::string>());
  ASSERT_TRUE(layer.ok());
  json forged = envelope;
  std::string forged_payload = *payload;
  forged_payload.replace(forged_payload.find(commit), commit.size(), std::string(40, 'f'));
  forged["payload"] = Base64Encode(forged_payload);
  std::ofstream(registry_->BlobDataPath(*layer), std::ios::binary | std::ios::trunc) << forged.dump();
  Outcome refused = daemon().Cli({"verify", ref, "--registry-auth", dir_ + "/auth.json"});
  EXPECT_EQ(refused.code, 1) << refused;
  EXPECT_EQ(refused.out.find(std::string(40, 'f')), std::string::npos) << refused;

  // The registry's password is in no answer and no log.
  EXPECT_EQ(daemon().Log().find(kPassword), std::string::npos);
  EXPECT_EQ(listed.body.find(kPassword), std::string::npos);
}

TEST_F(PromotionTest, AFailingRunIsNotPromotedAndARefusedBranchIs403) {
  PipelineRepo repo;
  repo.Push(Pipeline("exit 1"), Files("red"), "main");
  repo.Push(Pipeline("true"), Files("green"), "feature");
  AddRepo("app", repo.file_url());

  int64_t failed = Trigger("app", {{"branch", "main"}});
  json run = AwaitRun(failed, std::chrono::seconds(180));
  ASSERT_EQ(Str(run, "status"), "failure") << run.dump(2);
  EXPECT_EQ(run["promotion"]["status"], "");
  auto answer = Api().Post("/api/v1/runs/" + std::to_string(failed) + "/promote");
  EXPECT_TRUE(IsApiError(answer, 409, "failed_precondition")) << answer;
  EXPECT_NE(answer.body.find("is failure"), std::string::npos) << answer.body;

  int64_t refused = Trigger("app", {{"branch", "feature"}});
  run = AwaitRun(refused, std::chrono::seconds(180));
  ASSERT_EQ(Str(run, "status"), "success") << run.dump(2);
  EXPECT_EQ(run["promotion"]["status"], "refused");
  EXPECT_NE(Str(run["promotion"], "error").find("branch feature matches none of promote.branches (main)"),
            std::string::npos)
      << run.dump(2);
  answer = Api().Post("/api/v1/runs/" + std::to_string(refused) + "/promote");
  EXPECT_TRUE(IsApiError(answer, 403, "permission_denied")) << answer;
  EXPECT_NE(answer.body.find("promote.branches"), std::string::npos) << answer.body;

  // Nothing reached the registry.
  EXPECT_FALSE(TagExists("latest"));
  EXPECT_EQ(Api().Get("/api/v1/promotions").Json()["promotions"].size(), 0u);
}

TEST_F(PromotionTest, ARegistryThatIsDownFailsThePromotionAndAManualRetryPromotes) {
  PipelineRepo repo;
  std::string commit = repo.Push(Pipeline("true"), Files("while-down"));
  AddRepo("app", repo.file_url());
  registry_->Kill();
  int64_t id = Trigger("app", {{"branch", "main"}});
  json run = AwaitRun(id, std::chrono::seconds(180));
  ASSERT_EQ(Str(run, "status"), "success") << run.dump(2);
  // The first try and its one retry fail (the run says "failed" after
  // each, the audit record stays pending until the last); the run stays a
  // success.
  json listed;
  EXPECT_TRUE(WaitUntil(
      [&] {
        listed = Api().Get("/api/v1/promotions?run=" + std::to_string(id)).Json()["promotions"];
        return listed.size() == 1 && Str(listed[0], "result") == "failed";
      },
      std::chrono::seconds(120)))
      << listed.dump(2) << daemon().Log();
  EXPECT_EQ(Int(listed[0], "attempts"), 2);
  EXPECT_NE(Str(listed[0], "error").find("connection failed"), std::string::npos) << listed.dump(2);
  run = GetRun(id);
  EXPECT_EQ(Str(run, "status"), "success");
  EXPECT_EQ(run["promotion"]["status"], "failed");
  EXPECT_FALSE(Str(run["promotion"], "error").empty());

  registry_->Restart();
  // No tag was set while it was down.
  EXPECT_FALSE(TagExists(commit.substr(0, 8)));
  EXPECT_FALSE(TagExists("latest"));
  auto retried = Api().Post("/api/v1/runs/" + std::to_string(id) + "/promote");
  ASSERT_EQ(retried.status, 200) << retried << daemon().Log();
  EXPECT_EQ(Str(retried.Json(), "result"), "promoted");
  EXPECT_EQ(Str(Inspect(commit.substr(0, 8)), "Digest"), Str(retried.Json(), "manifest_digest"));
  EXPECT_EQ(GetRun(id)["promotion"]["status"], "promoted");
}

// A retry a minute away (the hour of promotion_backoff, cut to
// promotion_max_backoff) is pending when slipwayd is killed; the next
// slipwayd records that promotion failed and promotes the run again
// (started_by "recover") at once.
class PromotionRecoverTest : public PromotionTest {
 protected:
  std::vector<std::string> DaemonArgs() const override {
    return {"--insecure-registry", registry_->host(),
            "--registry-auth",     dir_ + "/auth.json",
            "--promotion-retries", "3",
            "--promotion-backoff", "1h"};
  }
};

TEST_F(PromotionRecoverTest, APromotionACrashCutShortIsDoneByTheNextSlipwayd) {
  PipelineRepo repo;
  std::string commit = repo.Push(Pipeline("true"), Files("recover"));
  AddRepo("app", repo.file_url());
  registry_->Kill();
  int64_t id = Trigger("app", {{"branch", "main"}});
  ASSERT_EQ(Str(AwaitRun(id, std::chrono::seconds(180)), "status"), "success");
  json listed;
  ASSERT_TRUE(WaitUntil(
      [&] {
        listed = Api().Get("/api/v1/promotions?run=" + std::to_string(id)).Json()["promotions"];
        return listed.size() == 1 && Int(listed[0], "attempts") == 1 && Str(listed[0], "result") == "pending";
      },
      std::chrono::seconds(120)))
      << listed.dump(2);
  EXPECT_NE(Str(GetRun(id)["promotion"], "error").find("(try 1 of 4; again in 60 s)"), std::string::npos)
      << GetRun(id).dump(2);

  daemon().Kill9();
  registry_->Restart();
  ASSERT_TRUE(daemon().Restart());
  json run = AwaitPromotion(id, "promoted");
  listed = Api().Get("/api/v1/promotions?run=" + std::to_string(id)).Json()["promotions"];
  ASSERT_EQ(listed.size(), 2u) << listed.dump(2);
  EXPECT_EQ(Str(listed[0], "started_by"), "recover");
  EXPECT_EQ(Str(listed[0], "result"), "promoted");
  EXPECT_EQ(Str(listed[1], "result"), "failed");
  EXPECT_NE(Str(listed[1], "error").find("slipwayd stopped before the promotion ended"), std::string::npos)
      << listed.dump(2);
  EXPECT_EQ(Str(Inspect(commit.substr(0, 8)), "Digest"), Str(listed[0], "manifest_digest"));
}

}  // namespace
}  // namespace slipway::testing
