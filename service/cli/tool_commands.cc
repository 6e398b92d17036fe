// slipway-tools' side of tool_commands.h: the verbs that link the registry
// client, OpenSSL and yaml-cpp.
#include "service/cli/tool_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "engine/oci/manifest.h"
#include "engine/oci/reference.h"
#include "engine/registry/client.h"
#include "engine/registry/referrers.h"
#include "pipelines/pipeline_file.h"
#include "pipelines/provenance.h"
#include "service/cli/format.h"
#include "service/cli/global_options.h"

namespace slipway::cli {

namespace {

// An envelope is a few KiB; this bounds what a hostile registry can make
// the CLI download.
constexpr int64_t kMaxEnvelopeBytes = 4 << 20;

// Exit code of a verification that failed (tampered, missing, another
// key): 1, as a failed check; 125 stays for slipway's own errors.
constexpr int kNotVerified = 1;

int NotVerified(const std::string& message) {
  std::fprintf(stderr, "slipway: verify: %s\n", message.c_str());
  return kNotVerified;
}

// The envelope of one provenance artifact: its manifest must refer to
// `subject` and carry one DSSE layer, which is fetched (digest-checked).
Result<std::string> FetchEnvelope(RegistryClient& registry, const Reference& repo, const Digest& artifact,
                                  const Digest& subject) {
  SLIPWAY_ASSIGN_OR_RETURN(FetchedManifest manifest, registry.GetManifestByDigest(repo, artifact));
  Json doc = Json::parse(manifest.body, nullptr, /*allow_exceptions=*/false);
  const Json& layers = Field(doc, "layers");
  if (!doc.is_object() || StringField(Field(doc, "subject"), "digest") != subject.str()) {
    return InvalidArgument("artifact " + artifact.str() + " does not refer to " + subject.str());
  }
  if (!layers.is_array() || layers.size() != 1 ||
      StringField(layers[0], "mediaType") != pipelines::kDsseMediaType) {
    return InvalidArgument("artifact " + artifact.str() + " is not one DSSE envelope");
  }
  Descriptor layer;
  layer.media_type = pipelines::kDsseMediaType;
  SLIPWAY_ASSIGN_OR_RETURN(layer.digest, Digest::Parse(StringField(layers[0], "digest")));
  layer.size = IntField(layers[0], "size", -1);
  if (layer.size < 0 || layer.size > kMaxEnvelopeBytes) {
    return InvalidArgument("artifact " + artifact.str() + ": envelope size " + std::to_string(layer.size) +
                           " out of range");
  }
  StringSink sink;
  SLIPWAY_RETURN_IF_ERROR(registry.FetchBlob(repo, layer, sink));
  return sink.data();
}

void PrintVerified(const Reference& ref, const pipelines::VerifiedProvenance& v, const Digest& artifact,
                   const std::string& format) {
  if (format == "json") {
    Json steps = Json::array();
    for (const auto& [name, status] : v.steps) steps.push_back({{"name", name}, {"status", status}});
    Json body = {{"verified", true},
                 {"image", ref.Name() + "@" + v.subject_digest},
                 {"attestation", artifact.str()},
                 {"key_id", v.key_id},
                 {"run", v.run_id},
                 {"repo", v.repo},
                 {"commit", v.commit},
                 {"branch", v.branch},
                 {"tag", v.tag},
                 {"pipeline_digest", v.pipeline_digest},
                 {"steps", steps},
                 {"tests",
                  {{"total", v.tests.total},
                   {"passed", v.tests.passed},
                   {"failed", v.tests.failed},
                   {"errors", v.tests.errors},
                   {"skipped", v.tests.skipped}}},
                 {"statement", Json::parse(v.statement, nullptr, false)}};
    PrintJson(body);
    return;
  }
  std::string steps;
  for (const auto& [name, status] : v.steps) steps += (steps.empty() ? "" : ", ") + name + " " + status;
  std::printf("Verified %s@%s\n", ref.Name().c_str(), v.subject_digest.c_str());
  std::printf("  signed by:    %s\n", v.key_id.c_str());
  std::printf("  attestation:  %s\n", artifact.str().c_str());
  std::printf("  run:          %lld%s\n", static_cast<long long>(v.run_id),
              v.repo.empty() ? "" : (" of repository " + v.repo).c_str());
  std::printf("  commit:       %s\n", v.commit.c_str());
  if (!v.branch.empty()) std::printf("  branch:       %s\n", v.branch.c_str());
  if (!v.tag.empty()) std::printf("  tag:          %s\n", v.tag.c_str());
  std::printf("  pipeline:     %s\n", v.pipeline_digest.c_str());
  std::printf("  steps:        %s\n", steps.empty() ? "none" : steps.c_str());
  std::printf("  tests:        %lld total, %lld passed, %lld failed, %lld errors, %lld skipped\n",
              static_cast<long long>(v.tests.total), static_cast<long long>(v.tests.passed),
              static_cast<long long>(v.tests.failed), static_cast<long long>(v.tests.errors),
              static_cast<long long>(v.tests.skipped));
}

// The key to verify with: --key FILE, or slipwayd's.
Result<std::string> PublicKey(DaemonClient& client, const VerifyOptions& o) {
  if (!o.key_file.empty()) return ReadFile(o.key_file);
  SLIPWAY_ASSIGN_OR_RETURN(Json answer, client.Get("/signing-key"));
  std::string pem = StringField(answer, "public_key");
  if (pem.empty()) return Internal("slipwayd's answer has no public_key");
  return pem;
}

}  // namespace

int VerifyImage(DaemonClient& client, const VerifyOptions& o) {
  auto ref = ParseReference(o.image);
  if (!ref.ok()) return Fail(ref.status().Wrap("verify " + o.image));
  if (!ref->digest) return Fail("verify " + o.image + ": name the image by digest (IMAGE@sha256:...)");
  auto pem = PublicKey(client, o);
  if (!pem.ok()) return Fail(pem.status().Wrap("the key to verify with"));

  RegistryOptions options;
  options.retries = 1;
  options.timeout = std::chrono::seconds(30);
  if (o.insecure) options.insecure_registries = {ref->registry};
  options.credentials_file = o.registry_auth;
  if (options.credentials_file.empty()) {
    const char* home = std::getenv("HOME");
    std::string path = home ? std::string(home) + "/.docker/config.json" : "";
    if (!path.empty() && ::access(path.c_str(), R_OK) == 0) options.credentials_file = path;
  }
  RegistryClient registry(options);
  const Digest& subject = *ref->digest;
  auto referrers = ListReferrers(registry, *ref, subject, pipelines::kProvenanceArtifactType);
  if (!referrers.ok()) return Fail(referrers.status().Wrap("verify " + o.image));
  if (referrers->empty()) {
    return NotVerified("no provenance attestation for " + ref->Name() + "@" + subject.str() +
                       " (neither the referrers API nor the tag " + ReferrersTag(subject) + " lists one)");
  }
  // Every attestation is tried: one good signature by the trusted key is
  // enough. Otherwise the most telling failure is reported.
  Status worst;
  for (const Descriptor& d : *referrers) {
    auto envelope = FetchEnvelope(registry, *ref, d.digest, subject);
    if (!envelope.ok()) {
      if (worst.ok()) worst = envelope.status();
      continue;
    }
    auto verified = pipelines::VerifyProvenance(*envelope, *pem, subject.str());
    if (verified.ok()) {
      PrintVerified(*ref, *verified, d.digest, o.format);
      return 0;
    }
    if (worst.ok() || verified.status().code() == Code::kPermissionDenied) {
      worst = verified.status().Wrap("attestation " + d.digest.str());
    }
  }
  return NotVerified(ref->Name() + "@" + subject.str() + ": " + worst.message());
}

namespace {

// At most one byte past the cap: enough for the reader to say the file is
// too large, without reading all of a huge one.
Result<std::string> ReadCapped(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + path);
  std::string text;
  const size_t want = pipelines::kMaxPipelineFileBytes + 1;
  while (text.size() < want) {
    char buf[65536];
    ssize_t n = read(fd.get(), buf, std::min(sizeof buf, want - text.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read " + path);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

}  // namespace

// As compilers and linters print their errors.
int LintPipelineFile(const std::string& path) {
  auto text = ReadCapped(path);
  if (!text.ok()) return Fail(text.status());
  std::vector<pipelines::FileError> errors;
  if (pipelines::ParsePipelineFile(*text, &errors).ok()) return 0;
  for (const pipelines::FileError& e : errors) std::printf("%s:%s\n", path.c_str(), e.ToString().c_str());
  return 1;
}

}  // namespace slipway::cli
