#include "service/cli/registry_commands.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "engine/base/fs.h"
#include "engine/base/time.h"
#include "engine/oci/manifest.h"
#include "engine/oci/reference.h"
#include "engine/registry/client.h"
#include "engine/registry/referrers.h"
#include "pipelines/provenance.h"
#include "service/cli/format.h"

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

struct Options {
  std::string host, username, format;
  bool password_stdin = false, no_verify = false;
  // verify
  std::string image, key_file, registry_auth;
  bool insecure = false;
};

int Login(DaemonClient& client, const Options& o) {
  if (!o.password_stdin) {
    return Fail(
        "the password is read from stdin: pass --password-stdin (a command line is visible to others)");
  }
  auto password = ReadAll(STDIN_FILENO, "stdin");
  if (!password.ok()) return Fail(password.status());
  // `echo secret | slipway registry login` sends a line: its end is not
  // part of the password.
  std::string secret = std::move(password).value();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return Fail("no password on stdin");
  Json body = {{"username", o.username}, {"password", secret}, {"verify", !o.no_verify}};
  auto answer =
      client.Post("/registries/" + Escape(o.host) + "/login", body, DaemonClient::kDefaultTimeoutMs);
  if (!answer.ok()) return Fail(answer.status());
  std::printf("Login to %s as %s %s\n", StringField(*answer, "host").c_str(),
              StringField(*answer, "username").c_str(),
              BoolField(*answer, "verified") ? "succeeded" : "stored (not checked)");
  return 0;
}

int List(DaemonClient& client, const Options& o) {
  auto answer = client.Get("/registries");
  if (!answer.ok()) return Fail(answer.status());
  if (o.format == "json") {
    PrintJson(*answer);
    return 0;
  }
  Table table({"REGISTRY", "USERNAME", "UPDATED"});
  for (const Json& entry : Field(*answer, "registries")) {
    int64_t t = ParseTimestamp(StringField(entry, "updated_at"));
    table.Add({StringField(entry, "host"), StringField(entry, "username"),
               t ? HumanDuration(NowUnixMs() - t) + " ago" : "N/A"});
  }
  table.Print();
  return 0;
}

int Logout(DaemonClient& client, const Options& o) {
  auto answer = client.Delete("/registries/" + Escape(o.host));
  if (!answer.ok()) return Fail(answer.status());
  std::printf("Removed login for %s\n", o.host.c_str());
  return 0;
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
Result<std::string> PublicKey(DaemonClient& client, const Options& o) {
  if (!o.key_file.empty()) return ReadFile(o.key_file);
  SLIPWAY_ASSIGN_OR_RETURN(Json answer, client.Get("/signing-key"));
  std::string pem = StringField(answer, "public_key");
  if (pem.empty()) return Internal("slipwayd's answer has no public_key");
  return pem;
}

int Verify(DaemonClient& client, const Options& o) {
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

}  // namespace

void AddRegistryCommands(CLI::App& app, Verbs& verbs) {
  auto o = std::make_shared<Options>();
  CLI::App* registry = app.add_subcommand("registry", "Logins slipwayd uses to push (promote) and pull");
  registry->require_subcommand(1);

  CLI::App* login =
      registry->add_subcommand("login", "Store a login for a registry (checked against it first)");
  login->add_option("HOST", o->host, "The registry, host[:port] as in image references")->required();
  login->add_option("-u,--username", o->username, "The user name")->required();
  login->add_flag("--password-stdin", o->password_stdin, "Read the password (or token) from stdin");
  login->add_flag("--no-verify", o->no_verify, "Store without checking against the registry");
  verbs.push_back({login, [o](DaemonClient& c) { return Login(c, *o); }});

  CLI::App* ls = registry->add_subcommand("ls", "List registry logins (hosts and user names)");
  AddFormatOption(ls, o->format);
  verbs.push_back({ls, [o](DaemonClient& c) { return List(c, *o); }});

  CLI::App* logout = registry->add_subcommand("logout", "Remove the login for a registry");
  logout->add_option("HOST", o->host, "The registry")->required();
  verbs.push_back({logout, [o](DaemonClient& c) { return Logout(c, *o); }});

  CLI::App* verify = app.add_subcommand(
      "verify", "Check an image's signed provenance and show which run and tests vouch for it");
  verify->add_option("IMAGE", o->image, "The image by digest: REGISTRY/REPO@sha256:...")->required();
  verify->add_option("--key", o->key_file,
                     "The public key (PEM) to trust; default: slipwayd's (GET /api/v1/signing-key)");
  verify->add_option("--registry-auth", o->registry_auth,
                     "Registry credentials, Docker's config.json format (default ~/.docker/config.json)");
  verify->add_flag("--insecure", o->insecure, "Reach the registry over plain http (loopback always is)");
  AddFormatOption(verify, o->format);
  // With --key the client is never used: no request reaches slipwayd.
  verbs.push_back({verify, [o](DaemonClient& c) { return Verify(c, *o); }});
}

}  // namespace slipway::cli
