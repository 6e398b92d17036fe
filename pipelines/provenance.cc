#include "pipelines/provenance.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "engine/base/base64.h"
#include "engine/base/time.h"
#include "engine/oci/digest.h"
#include "pipelines/git_url.h"
#include "pipelines/openssl_handles.h"
#include "pipelines/when.h"

namespace slipway::pipelines {

namespace {

using json = nlohmann::ordered_json;

// What Slipway's statements say they are: the SLSA buildType names the
// meaning of externalParameters and internalParameters below.
constexpr char kStatementType[] = "https://in-toto.io/Statement/v1";
constexpr char kBuildType[] = "https://slipway.dev/pipeline/v1";
constexpr char kRunByproduct[] = "slipway-run";

// Far above any statement Slipway writes (steps are capped by the pipeline
// file), far below what could hurt a verifier.
constexpr size_t kMaxEnvelopeBytes = 4 << 20;

std::string TimeOrEmpty(int64_t unix_ms) {
  return unix_ms > 0 ? FormatRfc3339Millis(unix_ms) : std::string();
}

std::string GitRef(const Run& run) {
  if (!run.tag.empty()) return "refs/tags/" + run.tag;
  if (!run.branch.empty()) return "refs/heads/" + run.branch;
  return "";
}

json TestsJson(const TestCounts& t) {
  return {{"total", t.total},
          {"passed", t.passed},
          {"failed", t.failed},
          {"errors", t.errors},
          {"skipped", t.skipped}};
}

Status Malformed(const std::string& what) {
  return InvalidArgument("provenance: " + what);
}

// An Ed25519 public key from its SubjectPublicKeyInfo PEM.
Result<Pkey> ReadPublicKey(std::string_view pem) {
  if (pem.size() > 64 * 1024) return InvalidArgument("public key is too large");
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return InvalidArgument("public key is not a PEM SubjectPublicKeyInfo");
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519)
    return InvalidArgument("public key is not an Ed25519 key");
  return key;
}

bool Ed25519Verifies(EVP_PKEY* key, std::string_view message, std::string_view sig) {
  MdCtx ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
}

// A string member of `object`, or "" when absent; an error when present
// with another type.
Result<std::string> StringAt(const json& object, const char* name, const std::string& where) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return Malformed(where + "." + name + " is not a string");
  return it->get<std::string>();
}

Result<const json*> ObjectAt(const json& object, const char* name, const std::string& where) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_object())
    return Malformed(where + "." + name + " is missing or not an object");
  return &*it;
}

Result<int64_t> IntAt(const json& object, const char* name, const std::string& where) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return int64_t{0};
  if (!it->is_number_integer()) return Malformed(where + "." + name + " is not an integer");
  return it->get<int64_t>();
}

}  // namespace

std::string ProvenanceStatement(const ProvenanceFacts& facts) {
  // The statement is public (it sits beside the image): a repository URL
  // that carries a token loses it here.
  const std::string repo_url = StripUserinfo(facts.repo_url);
  std::string hex = facts.manifest_digest;
  if (hex.starts_with("sha256:")) hex = hex.substr(7);
  const Run& run = facts.run;

  json external = {
      {"repository", repo_url},
      {"repo", run.repo},
      {"ref", GitRef(run)},
      {"branch", run.branch},
      {"tag", run.tag},
      {"commit", run.commit},
      {"event", EventName(run.event)},
      {"pipelineDigest", run.pipeline_digest},
  };
  if (run.pull_request > 0) external["pullRequest"] = run.pull_request;
  json dependencies = json::array();
  if (!repo_url.empty() && !run.commit.empty()) {
    std::string uri = "git+" + repo_url;
    if (!GitRef(run).empty()) uri += "@" + GitRef(run);
    dependencies.push_back({{"uri", uri}, {"digest", {{"gitCommit", run.commit}}}});
  }
  json steps = json::array();
  for (const StepRecord& step : facts.steps) {
    steps.push_back({{"name", step.name},
                     {"kind", StepKindName(step.kind)},
                     {"status", StepStatusName(step.status)},
                     {"exitCode", step.exit_code},
                     {"durationMs", step.duration_ms}});
  }
  json metadata = {{"invocationId", std::to_string(run.id)}};
  if (run.started_unix_ms > 0) metadata["startedOn"] = TimeOrEmpty(run.started_unix_ms);
  if (run.finished_unix_ms > 0) metadata["finishedOn"] = TimeOrEmpty(run.finished_unix_ms);

  json statement = {
      {"_type", kStatementType},
      {"subject", json::array({{{"name", facts.image}, {"digest", {{"sha256", hex}}}}})},
      {"predicateType", kSlsaPredicateType},
      {"predicate",
       {{"buildDefinition",
         {{"buildType", kBuildType},
          {"externalParameters", external},
          {"internalParameters", {{"runId", run.id}}},
          {"resolvedDependencies", dependencies}}},
        {"runDetails",
         {{"builder", {{"id", facts.builder_id}}},
          {"metadata", metadata},
          // SLSA leaves what a build produced besides its subject to the
          // builder: Slipway's is the run's verdict, step by step, and the
          // test counts its reports held.
          {"byproducts", json::array({{{"name", kRunByproduct},
                                       {"annotations",
                                        {{"status", RunStatusName(run.status)},
                                         {"tags", facts.tags},
                                         {"steps", steps},
                                         {"tests", TestsJson(run.tests)}}}}})}}}}},
  };
  return statement.dump();
}

std::string DssePae(std::string_view payload_type, std::string_view payload) {
  // "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in ASCII decimal.
  std::string out = "DSSEv1 ";
  out += std::to_string(payload_type.size());
  out += ' ';
  out += payload_type;
  out += ' ';
  out += std::to_string(payload.size());
  out += ' ';
  out += payload;
  return out;
}

Result<VerifiedProvenance> VerifyProvenance(std::string_view envelope_json, std::string_view public_key_pem,
                                            std::string_view expected_subject) {
  SLIPWAY_ASSIGN_OR_RETURN(auto key, ReadPublicKey(public_key_pem));
  if (envelope_json.size() > kMaxEnvelopeBytes) {
    return Malformed("envelope of " + std::to_string(envelope_json.size()) + " bytes is too large");
  }
  json envelope = json::parse(envelope_json, nullptr, /*allow_exceptions=*/false);
  if (!envelope.is_object()) return Malformed("envelope is not a JSON object");
  SLIPWAY_ASSIGN_OR_RETURN(std::string payload_type, StringAt(envelope, "payloadType", "envelope"));
  if (payload_type != kInTotoPayloadType) {
    return Malformed("envelope payloadType is \"" + payload_type.substr(0, 80) + "\", not " +
                     kInTotoPayloadType);
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::string payload_base64, StringAt(envelope, "payload", "envelope"));
  std::optional<std::string> payload = Base64Decode(payload_base64);
  if (!payload || payload->empty()) return Malformed("envelope payload is missing or not base64");
  auto sigs = envelope.find("signatures");
  if (sigs == envelope.end() || !sigs->is_array() || sigs->empty()) {
    return Malformed("envelope has no signatures");
  }

  // DSSE: the envelope is good if any signature verifies under the trusted
  // key; a key id is only a hint, so a forged one gains nothing.
  const std::string pae = DssePae(payload_type, *payload);
  std::string key_id;
  bool verified = false;
  for (const json& sig : *sigs) {
    if (!sig.is_object()) return Malformed("envelope signature is not an object");
    SLIPWAY_ASSIGN_OR_RETURN(std::string sig_base64, StringAt(sig, "sig", "signature"));
    SLIPWAY_ASSIGN_OR_RETURN(std::string keyid, StringAt(sig, "keyid", "signature"));
    std::optional<std::string> raw = Base64Decode(sig_base64);
    if (!raw) return Malformed("envelope signature is not base64");
    if (Ed25519Verifies(key.get(), pae, *raw)) {
      verified = true;
      key_id = keyid;
      break;
    }
  }
  if (!verified) {
    return Status(Code::kPermissionDenied,
                  "provenance signature does not verify with this key: the statement was altered or "
                  "signed by another key");
  }

  // Only now is the payload trusted enough to be read.
  json statement = json::parse(*payload, nullptr, false);
  if (!statement.is_object()) return Malformed("statement is not a JSON object");
  SLIPWAY_ASSIGN_OR_RETURN(std::string type, StringAt(statement, "_type", "statement"));
  if (type != kStatementType) return Malformed("statement _type is not " + std::string(kStatementType));
  SLIPWAY_ASSIGN_OR_RETURN(std::string predicate_type, StringAt(statement, "predicateType", "statement"));
  if (predicate_type != kSlsaPredicateType) {
    return Malformed("statement predicateType is not " + std::string(kSlsaPredicateType));
  }
  auto subjects = statement.find("subject");
  if (subjects == statement.end() || !subjects->is_array() || subjects->empty()) {
    return Malformed("statement has no subject");
  }
  VerifiedProvenance out;
  out.key_id = key_id;
  out.statement = *payload;
  bool subject_found = false;
  for (const json& subject : *subjects) {
    if (!subject.is_object()) return Malformed("statement subject is not an object");
    SLIPWAY_ASSIGN_OR_RETURN(const json* digest, ObjectAt(subject, "digest", "subject"));
    SLIPWAY_ASSIGN_OR_RETURN(std::string hex, StringAt(*digest, "sha256", "subject.digest"));
    Result<Digest> parsed = Digest::Parse("sha256:" + hex);
    if (!parsed.ok()) return Malformed("statement subject digest is not a sha256 digest");
    if (out.subject_digest.empty()) out.subject_digest = parsed->str();
    if (!expected_subject.empty() && parsed->str() == expected_subject) {
      out.subject_digest = parsed->str();
      subject_found = true;
    }
  }
  if (!expected_subject.empty() && !subject_found) {
    return Status(Code::kPermissionDenied,
                  "provenance is about " + out.subject_digest + ", not " + std::string(expected_subject));
  }

  SLIPWAY_ASSIGN_OR_RETURN(const json* predicate, ObjectAt(statement, "predicate", "statement"));
  SLIPWAY_ASSIGN_OR_RETURN(const json* definition, ObjectAt(*predicate, "buildDefinition", "predicate"));
  SLIPWAY_ASSIGN_OR_RETURN(std::string build_type, StringAt(*definition, "buildType", "buildDefinition"));
  if (build_type != kBuildType) return Malformed("buildType is not " + std::string(kBuildType));
  SLIPWAY_ASSIGN_OR_RETURN(const json* external,
                           ObjectAt(*definition, "externalParameters", "buildDefinition"));
  SLIPWAY_ASSIGN_OR_RETURN(out.repo, StringAt(*external, "repo", "externalParameters"));
  SLIPWAY_ASSIGN_OR_RETURN(out.commit, StringAt(*external, "commit", "externalParameters"));
  SLIPWAY_ASSIGN_OR_RETURN(out.branch, StringAt(*external, "branch", "externalParameters"));
  SLIPWAY_ASSIGN_OR_RETURN(out.tag, StringAt(*external, "tag", "externalParameters"));
  SLIPWAY_ASSIGN_OR_RETURN(out.pipeline_digest, StringAt(*external, "pipelineDigest", "externalParameters"));
  SLIPWAY_ASSIGN_OR_RETURN(const json* internal,
                           ObjectAt(*definition, "internalParameters", "buildDefinition"));
  SLIPWAY_ASSIGN_OR_RETURN(out.run_id, IntAt(*internal, "runId", "internalParameters"));

  SLIPWAY_ASSIGN_OR_RETURN(const json* details, ObjectAt(*predicate, "runDetails", "predicate"));
  auto byproducts = details->find("byproducts");
  if (byproducts != details->end() && byproducts->is_array()) {
    for (const json& b : *byproducts) {
      if (!b.is_object() || b.value("name", json()) != kRunByproduct) continue;
      SLIPWAY_ASSIGN_OR_RETURN(const json* annotations, ObjectAt(b, "annotations", "byproduct"));
      if (auto tests = annotations->find("tests"); tests != annotations->end() && tests->is_object()) {
        SLIPWAY_ASSIGN_OR_RETURN(out.tests.total, IntAt(*tests, "total", "tests"));
        SLIPWAY_ASSIGN_OR_RETURN(out.tests.passed, IntAt(*tests, "passed", "tests"));
        SLIPWAY_ASSIGN_OR_RETURN(out.tests.failed, IntAt(*tests, "failed", "tests"));
        SLIPWAY_ASSIGN_OR_RETURN(out.tests.errors, IntAt(*tests, "errors", "tests"));
        SLIPWAY_ASSIGN_OR_RETURN(out.tests.skipped, IntAt(*tests, "skipped", "tests"));
      }
      if (auto steps = annotations->find("steps"); steps != annotations->end() && steps->is_array()) {
        for (const json& step : *steps) {
          if (!step.is_object()) return Malformed("byproduct step is not an object");
          SLIPWAY_ASSIGN_OR_RETURN(std::string name, StringAt(step, "name", "step"));
          SLIPWAY_ASSIGN_OR_RETURN(std::string status, StringAt(step, "status", "step"));
          out.steps.emplace_back(std::move(name), std::move(status));
        }
      }
    }
  }
  return out;
}

}  // namespace slipway::pipelines
