// A client of the OCI distribution spec (Docker Registry HTTP API v2): pull
// and push of manifests and blobs, with basic and bearer-token auth, retries,
// redirects and digest verification of everything received.
//
// Transport: plain http only to loopback hosts and `insecure_registries`,
// https with certificate verification everywhere else. Credentials and tokens
// never appear in errors; neither do URL query strings (a redirect to object
// storage carries its signature there).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"
#include "engine/oci/digest.h"
#include "engine/oci/manifest.h"
#include "engine/oci/reference.h"
#include "engine/registry/auth.h"
#include "engine/registry/credentials.h"

namespace httplib {
class Client;
}

namespace slipway {

namespace registry_internal {
struct Url;
struct HttpRequest;
struct HttpResponse;
}  // namespace registry_internal

struct RegistryOptions {
  std::vector<std::string> insecure_registries;  // host[:port] allowed over plain http besides loopback
  std::string credentials_file;                  // optional, Docker config format
  std::chrono::milliseconds timeout{30000};      // connect, read and write, per request
  int retries = 3;                               // on 5xx, 429 and connection errors
  std::chrono::milliseconds retry_backoff{200};  // doubles on each retry
  std::string os = "linux", architecture = "amd64";
  std::string variant;          // matched only when set
  size_t chunk_size = 8 << 20;  // blobs larger than this are uploaded in chunks
  std::string ca_file = "/etc/ssl/certs/ca-certificates.crt";
  // Credentials of logins kept elsewhere (slipwayd's `registry login`):
  // asked first, on each authentication, so a login made while a client
  // lives is used; credentials_file is the fallback. May be empty.
  std::function<std::optional<Credentials>(const std::string& registry)> credentials;
};

// Where FetchBlob writes. Reset() discards everything written so far (a retry
// starts over); nothing written may be trusted until FetchBlob returns Ok.
class BlobSink {
 public:
  virtual ~BlobSink() = default;
  virtual Status Write(std::string_view data) = 0;
  virtual Status Reset() = 0;
  // True if the sink hashes what it is given and refuses it unless it has
  // the descriptor's digest (the content store's BlobWriter does, on
  // Commit). FetchBlob then leaves the digest to it rather than hash every
  // byte twice, and its Ok means only "the expected number of bytes came":
  // nothing may be trusted until the sink's own check has passed.
  virtual bool ChecksDigest() const { return false; }
};

// A BlobSink that keeps the blob in memory: for configs and small blobs.
class StringSink : public BlobSink {
 public:
  Status Write(std::string_view data) override;
  Status Reset() override;
  const std::string& data() const { return data_; }

 private:
  std::string data_;
};

// What a manifest PUT answered.
struct PutManifestReply {
  Digest digest;        // of the body, which the registry confirmed
  std::string subject;  // OCI-Subject: set by registries that index referrers (distribution-spec 1.1)
};

struct FetchedManifest {
  std::string media_type;
  std::string body;  // the exact bytes whose sha256 is `digest`
  Digest digest;
};

// "https://registry-1.docker.io", "http://127.0.0.1:5000": how `registry` is
// reached. Plain http only for loopback hosts and `insecure_registries`.
std::string RegistryBaseUrl(std::string_view registry, const std::vector<std::string>& insecure_registries);
// localhost, 127.0.0.0/8 or ::1, with or without a port.
bool IsLoopbackHost(std::string_view host_port);

// One client serves any number of registries and may be used from several
// threads at once: connections are pooled per origin, and bearer tokens are
// cached per (registry, scopes) until they expire. Errors: 404 → kNotFound,
// 401 → kUnauthenticated, 403 or a token without the needed scope →
// kPermissionDenied, a wrong digest or size → kInvalidArgument, network
// errors, 5xx and 429 (after retries) → kUnavailable.
class RegistryClient {
 public:
  explicit RegistryClient(RegistryOptions options);
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  // GET /v2/, authenticating if the registry asks: also checks credentials.
  Status Ping(const std::string& registry);

  // The image manifest of `ref` for the configured platform. Follows an OCI
  // index or Docker manifest list; every body is checked against the digest it
  // was asked by (or Docker-Content-Digest when asked by tag). If there was an
  // index and `index` is given, it receives the index as fetched.
  Result<FetchedManifest> GetManifest(const Reference& ref, std::optional<FetchedManifest>* index = nullptr);
  // One manifest or index by digest, as is, any supported media type.
  Result<FetchedManifest> GetManifestByDigest(const Reference& repo, const Digest& digest);
  // The manifest or index a tag points at, as is (no platform selection).
  Result<FetchedManifest> GetManifestByTag(const Reference& repo, const std::string& tag);
  // HEAD: the digest of the manifest a tag (or digest) names in `repo`, or
  // nullopt when there is none. Nothing is downloaded unless the registry
  // leaves out Docker-Content-Digest (then one GET).
  Result<std::optional<Digest>> ManifestDigest(const Reference& repo, const std::string& tag_or_digest);
  // GET /v2/<name>/referrers/<digest> (distribution-spec 1.1): the index of
  // the manifests whose subject is `subject`, or nullopt when the registry
  // has no referrers API (404; a registry that has it never answers 404).
  Result<std::optional<FetchedManifest>> GetReferrers(const Reference& repo, const Digest& subject);

  // Streams a blob into `sink`, verifying size and digest (the digest left to
  // the sink if it ChecksDigest()). A retry calls
  // sink.Reset() first; so does a failure after something was written.
  // Redirects are followed, without the Authorization header to another host.
  Status FetchBlob(const Reference& repo, const Descriptor& descriptor, BlobSink& sink);
  // HEAD: whether the registry has the blob in `repo`.
  Result<bool> HasBlob(const Reference& repo, const Digest& digest);
  // Cross-repository mount; true if mounted (201), false if the registry would
  // need an upload instead.
  Result<bool> MountBlob(const Reference& repo, const Digest& digest, const std::string& from_repository);
  // Uploads the file at `path` unless the registry has it: in one PUT when it
  // is at most chunk_size bytes, else in PATCH chunks and a final PUT. A
  // retry starts a new upload session.
  Status PushBlob(const Reference& repo, const Descriptor& descriptor, const std::string& path);
  // The same for small content held in memory (an artifact, an empty config).
  Status PushBlobContent(const Reference& repo, const Descriptor& descriptor, std::string_view content);
  // PUT a manifest or index under a tag or its digest. Push blobs first: the
  // manifest is what makes an image visible.
  Status PutManifest(const Reference& repo, const std::string& tag_or_digest, const std::string& media_type,
                     const std::string& body, PutManifestReply* reply = nullptr);

  // Blob and manifest bytes transferred, including retries.
  int64_t bytes_pulled() const { return bytes_pulled_; }
  int64_t bytes_pushed() const { return bytes_pushed_; }
  const RegistryOptions& options() const { return options_; }
  // Called from the transferring thread as blob bytes move.
  void set_progress(std::function<void(const Digest&, int64_t done, int64_t total)> progress);

 private:
  using Url = registry_internal::Url;
  using HttpRequest = registry_internal::HttpRequest;
  using HttpResponse = registry_internal::HttpResponse;
  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };

  Result<FetchedManifest> FetchManifest(const Reference& repo, const std::string& tag_or_digest,
                                        const std::optional<Digest>& expected);
  Status FetchBlobOnce(const Reference& repo, const Descriptor& d, BlobSink& sink, bool& wrote);
  Status PushBlobOnce(const Reference& repo, const Descriptor& d, int fd);
  Status PushBlobFd(const Reference& repo, const Descriptor& d, int fd, const std::string& context);
  Result<std::string> StartUpload(const Reference& repo, const std::vector<std::string>& scopes,
                                  const std::string& query, HttpResponse* response);

  // One request: authentication on 401 and redirects, no retries.
  Result<HttpResponse> Send(const std::string& registry, HttpRequest request);
  Result<HttpResponse> Transport(const Url& url, const HttpRequest& request,
                                 const std::string& authorization);
  // The error for an unexpected response, from its status and error body.
  Status HttpError(const std::string& registry, const HttpResponse& response);
  // Runs `attempt` up to 1 + retries times while it fails with a retryable code.
  Status Retry(const std::string& what, const std::function<Status(int attempt)>& attempt);

  // Authorization for `registry` and `scopes` from what the registry asked for
  // before: "" if it has not asked (yet).
  Result<std::string> Authorization(const std::string& registry, const std::vector<std::string>& scopes);
  // Learns from a 401 challenge; fetches a bearer token. False if nothing can
  // be done about it (no credentials for basic auth, or the request carried
  // them already: `sent_credentials`).
  Result<bool> Authenticate(const std::string& registry, const AuthChallenge& challenge,
                            const std::vector<std::string>& scopes, bool sent_credentials);
  Result<Token> FetchToken(const std::string& registry, const AuthChallenge& challenge,
                           const std::vector<std::string>& scopes);
  std::optional<Credentials> CredentialsFor(const std::string& registry) const;
  bool AllowsPlainHttp(std::string_view host_port) const;

  std::unique_ptr<httplib::Client> TakeClient(const std::string& origin);
  void ReturnClient(const std::string& origin, std::unique_ptr<httplib::Client> client);
  void Progress(const Digest& digest, int64_t done, int64_t total);

  const RegistryOptions options_;
  CredentialStore credentials_;
  Status credentials_status_;  // a credentials file that failed to load fails every authentication

  std::mutex mu_;
  std::map<std::string, AuthChallenge> challenges_;                            // by registry
  std::map<std::string, Token> tokens_;                                        // by registry + scopes
  std::map<std::string, std::vector<std::unique_ptr<httplib::Client>>> idle_;  // by origin
  std::function<void(const Digest&, int64_t, int64_t)> progress_;

  std::atomic<int64_t> bytes_pulled_{0};
  std::atomic<int64_t> bytes_pushed_{0};
};

}  // namespace slipway
