#include "engine/registry/client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "engine/base/ascii.h"
#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "engine/base/url.h"

namespace slipway {

namespace registry_internal {

struct Url {
  std::string scheme;     // "http" or "https"
  std::string host_port;  // "127.0.0.1:5000"
  std::string target;     // "/v2/x/blobs/uploads/abc?_state=..."

  std::string Origin() const { return scheme + "://" + host_port; }
  // Query strings may hold signatures (object storage redirects): never shown.
  std::string Redacted() const { return Origin() + target.substr(0, target.find('?')); }
};

struct HttpRequest {
  std::string method = "GET";
  std::string target;  // a path below the registry's origin, or an absolute URL
  httplib::Headers headers;
  std::vector<std::string> scopes;  // token scopes the request needs
  std::string body;
  std::string content_type;
  // When fd >= 0, the body is the file range [offset, offset + length),
  // streamed rather than loaded.
  int fd = -1;
  int64_t offset = 0;
  int64_t length = 0;
  std::function<void(int64_t sent)> on_sent;
  // When set, the body of a 2xx response goes here instead of into `body`.
  std::function<Status(std::string_view)> on_body;
  size_t max_body = 4 << 20;  // manifests and error bodies are small
};

struct HttpResponse {
  int status = 0;
  httplib::Headers headers;
  std::string body;
  Url url;  // the URL that answered, after redirects
  std::string method;

  std::string Header(const char* name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

}  // namespace registry_internal

using registry_internal::HttpRequest;
using registry_internal::HttpResponse;
using registry_internal::Url;

namespace {

constexpr int kMaxRedirects = 5;
constexpr size_t kMaxErrorBody = 64 << 10;
constexpr size_t kUploadBuffer = 256 << 10;

Status Unavailable(std::string m) {
  return Status(Code::kUnavailable, std::move(m));
}

std::string AppendQuery(const std::string& target, const std::string& query) {
  return target + (target.find('?') == std::string::npos ? "?" : "&") + query;
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

Code CodeForHttp(int status, const std::string& error_code) {
  if (error_code == "MANIFEST_BLOB_UNKNOWN") return Code::kFailedPrecondition;
  if (error_code == "DENIED") return Code::kPermissionDenied;
  switch (status) {
    case 400: return Code::kInvalidArgument;
    case 401: return Code::kUnauthenticated;
    case 403: return Code::kPermissionDenied;
    case 404: return Code::kNotFound;
    case 405:
    case 409:
    case 412:
    case 416: return Code::kFailedPrecondition;
    case 413: return Code::kResourceExhausted;
    case 408:
    case 429: return Code::kUnavailable;  // retrying may help
    default: break;
  }
  if (status >= 500) return Code::kUnavailable;
  if (status >= 400) return Code::kInvalidArgument;
  return Code::kInternal;  // an unexpected 1xx/2xx/3xx
}

// "MANIFEST_UNKNOWN: manifest unknown; ..." from a distribution error body.
std::string DescribeErrors(const std::string& body, std::string* first_code) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("errors") || !doc["errors"].is_array()) return "";
  std::string out;
  for (const auto& e : doc["errors"]) {
    if (!e.is_object()) continue;
    std::string code = e.value("code", std::string());
    std::string message = e.value("message", std::string());
    if (first_code->empty()) *first_code = code;
    if (!out.empty()) out += "; ";
    out += code + (message.empty() ? "" : ": " + message);
    if (e.contains("detail") && !e["detail"].is_null()) {
      std::string detail = e["detail"].dump();
      if (detail.size() <= 200) out += " (" + detail + ")";
    }
    if (out.size() > 600) break;
  }
  return out;
}

std::string TransportErrorText(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection: return "connection failed";
    case httplib::Error::ConnectionTimeout: return "connect timed out";
    case httplib::Error::Read: return "reading the response failed (connection closed or timed out)";
    case httplib::Error::Write: return "sending the request failed (connection closed or timed out)";
    case httplib::Error::SSLConnection: return "TLS handshake failed";
    case httplib::Error::SSLLoadingCerts: return "loading CA certificates failed";
    case httplib::Error::SSLServerVerification: return "server certificate verification failed";
    case httplib::Error::Canceled: return "canceled";
    default: return "HTTP error " + httplib::to_string(error);
  }
}

// A write to a connection the peer closed raises SIGPIPE, which would kill the
// process: httplib and OpenSSL write without MSG_NOSIGNAL. A library may not
// change the process's signal dispositions, so SIGPIPE is blocked on this
// thread for the request and any one it raised is taken back before unblocking.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~ScopedSigpipeBlock() {
    if (!was_pending_) {
      timespec zero{};
      while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

Result<Url> ParseAbsoluteUrl(std::string_view text) {
  Url url;
  size_t sep = text.find("://");
  if (sep == std::string_view::npos) return InvalidArgument("not an absolute URL");
  url.scheme = Lower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") {
    return InvalidArgument("unsupported URL scheme \"" + url.scheme + "\"");
  }
  std::string_view rest = text.substr(sep + 3);
  size_t path = rest.find_first_of("/?");
  url.host_port = std::string(rest.substr(0, path));
  url.target = path == std::string_view::npos ? "/" : std::string(rest.substr(path));
  if (url.target.front() == '?') url.target = "/" + url.target;
  if (url.host_port.empty()) return InvalidArgument("URL without a host");
  return url;
}

// A Location header relative to the URL that sent it.
Result<Url> ResolveLocation(const Url& base, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return ParseAbsoluteUrl(location);
  if (location.starts_with("//")) return ParseAbsoluteUrl(base.scheme + ":" + std::string(location));
  Url url = base;
  if (location.starts_with('/')) {
    url.target = std::string(location);
  } else {
    std::string dir = base.target.substr(0, base.target.find('?'));
    url.target = dir.substr(0, dir.rfind('/') + 1) + std::string(location);
  }
  return url;
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string HostOf(std::string_view host_port) {
  if (host_port.starts_with('[')) return std::string(host_port.substr(1, host_port.find(']') - 1));
  if (std::count(host_port.begin(), host_port.end(), ':') == 1)
    return std::string(host_port.substr(0, host_port.find(':')));
  return std::string(host_port);
}

bool ListedInsecure(std::string_view host_port, const std::vector<std::string>& insecure) {
  std::string wanted = Lower(host_port);
  std::string host = Lower(HostOf(host_port));
  for (const std::string& entry : insecure) {
    std::string e = Lower(entry);
    if (e == wanted || e == host) return true;
  }
  return false;
}

std::string ApiHost(std::string_view registry) {
  return registry == kDockerHubRegistry ? std::string(kDockerHubApiHost) : std::string(registry);
}

}  // namespace

Status StringSink::Write(std::string_view data) {
  data_.append(data);
  return Status::Ok();
}

Status StringSink::Reset() {
  data_.clear();
  return Status::Ok();
}

bool IsLoopbackHost(std::string_view host_port) {
  std::string host = Lower(HostOf(host_port));
  if (host == "localhost") return true;
  in_addr v4;
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

std::string RegistryBaseUrl(std::string_view registry, const std::vector<std::string>& insecure_registries) {
  std::string host = ApiHost(registry);
  bool plain = IsLoopbackHost(host) || ListedInsecure(host, insecure_registries);
  return (plain ? "http://" : "https://") + host;
}

RegistryClient::RegistryClient(RegistryOptions options) : options_(std::move(options)) {
  if (!options_.credentials_file.empty()) {
    auto loaded = CredentialStore::Load(options_.credentials_file);
    if (loaded.ok()) {
      credentials_ = std::move(loaded).value();
    } else {
      credentials_status_ = loaded.status();
    }
  }
}

RegistryClient::~RegistryClient() = default;

void RegistryClient::set_progress(std::function<void(const Digest&, int64_t, int64_t)> progress) {
  std::lock_guard lock(mu_);
  progress_ = std::move(progress);
}

void RegistryClient::Progress(const Digest& digest, int64_t done, int64_t total) {
  std::function<void(const Digest&, int64_t, int64_t)> progress;
  {
    std::lock_guard lock(mu_);
    progress = progress_;
  }
  if (progress) progress(digest, done, total);
}

bool RegistryClient::AllowsPlainHttp(std::string_view host_port) const {
  return IsLoopbackHost(host_port) || ListedInsecure(host_port, options_.insecure_registries);
}

std::optional<Credentials> RegistryClient::CredentialsFor(const std::string& registry) const {
  if (options_.credentials) {
    if (std::optional<Credentials> found = options_.credentials(registry)) return found;
  }
  return credentials_.Lookup(registry);
}

// ---------------------------------------------------------------------------
// HTTP plumbing

std::unique_ptr<httplib::Client> RegistryClient::TakeClient(const std::string& origin) {
  {
    std::lock_guard lock(mu_);
    auto& idle = idle_[origin];
    if (!idle.empty()) {
      auto client = std::move(idle.back());
      idle.pop_back();
      return client;
    }
  }
  auto client = std::make_unique<httplib::Client>(origin);
  client->set_connection_timeout(options_.timeout);
  client->set_read_timeout(options_.timeout);
  client->set_write_timeout(options_.timeout);
  client->set_keep_alive(true);
  // Redirects are followed by Send, which decides what to forward where.
  client->set_follow_location(false);
  // A gzip layer served with Content-Encoding: gzip must stay compressed, or
  // its digest would not match.
  client->set_decompress(false);
  client->set_url_encode(false);
  if (origin.starts_with("https://")) {
    client->set_ca_cert_path(options_.ca_file);
    client->enable_server_certificate_verification(true);
  }
  return client;
}

void RegistryClient::ReturnClient(const std::string& origin, std::unique_ptr<httplib::Client> client) {
  std::lock_guard lock(mu_);
  auto& idle = idle_[origin];
  if (idle.size() < 4) idle.push_back(std::move(client));
}

Result<HttpResponse> RegistryClient::Transport(const Url& url, const HttpRequest& request,
                                               const std::string& authorization) {
  std::unique_ptr<httplib::Client> client = TakeClient(url.Origin());
  httplib::Headers headers = request.headers;
  headers.emplace("Accept-Encoding", "identity");
  headers.emplace("User-Agent", "slipway");
  if (!authorization.empty()) headers.emplace("Authorization", authorization);

  HttpResponse response;
  response.url = url;
  response.method = request.method;
  Status body_status;
  bool streaming = false;
  auto on_response = [&](const httplib::Response& r) {
    response.status = r.status;
    streaming = request.on_body && r.status / 100 == 2;
    return true;
  };
  auto on_data = [&](const char* data, size_t size) {
    if (streaming) {
      body_status = request.on_body(std::string_view(data, size));
      return body_status.ok();
    }
    size_t limit = response.status / 100 == 2 ? request.max_body : kMaxErrorBody;
    if (response.body.size() + size > limit) {
      if (response.status / 100 != 2) return true;  // an error body: the start is enough
      body_status = InvalidArgument("response body larger than " + std::to_string(limit) + " bytes");
      return false;
    }
    response.body.append(data, size);
    return true;
  };
  std::vector<char> buffer;
  auto provider = [&](size_t offset, size_t length, httplib::DataSink& sink) {
    buffer.resize(kUploadBuffer);
    size_t want = std::min(length, buffer.size());
    ssize_t n = ::pread(request.fd, buffer.data(), want, request.offset + static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) {
      body_status =
          n == 0 ? Internal("upload source file shrank while uploading") : ErrnoStatus("read upload source");
      return false;
    }
    // A failed write is not ours to report: httplib ends the request with
    // Error::Write, which says what happened better than a cancellation.
    if (sink.write(buffer.data(), static_cast<size_t>(n)) && request.on_sent) request.on_sent(n);
    return true;
  };

  const std::string& m = request.method;
  const std::string& target = url.target;
  ScopedSigpipeBlock no_sigpipe;
  httplib::Result r = [&] {
    if (m == "GET") return client->Get(target, headers, on_response, on_data);
    if (m == "HEAD") return client->Head(target, headers);
    if (m == "DELETE") return client->Delete(target, headers);
    size_t length = static_cast<size_t>(request.length);
    if (request.fd >= 0) {
      if (m == "POST") return client->Post(target, headers, length, provider, request.content_type);
      if (m == "PUT") return client->Put(target, headers, length, provider, request.content_type);
      return client->Patch(target, headers, length, provider, request.content_type);
    }
    if (m == "POST") return client->Post(target, headers, request.body, request.content_type);
    if (m == "PUT") return client->Put(target, headers, request.body, request.content_type);
    return client->Patch(target, headers, request.body, request.content_type);
  }();
  std::string what = m + " " + url.Redacted();
  if (!r) {
    if (!body_status.ok()) return body_status.Wrap(what);
    Code code =
        r.error() == httplib::Error::SSLServerVerification || r.error() == httplib::Error::SSLLoadingCerts
            ? Code::kFailedPrecondition
            : Code::kUnavailable;
    return Status(code, what + ": " + TransportErrorText(r.error()));
  }
  if (!body_status.ok()) return body_status.Wrap(what);
  response.status = r->status;
  response.headers = r->headers;
  if (m != "GET") {
    response.body = r->body.substr(0, response.status / 100 == 2 ? request.max_body : kMaxErrorBody);
  }
  ReturnClient(url.Origin(), std::move(client));
  return response;
}

Result<HttpResponse> RegistryClient::Send(const std::string& registry, HttpRequest request) {
  SLIPWAY_ASSIGN_OR_RETURN(Url base,
                           ParseAbsoluteUrl(RegistryBaseUrl(registry, options_.insecure_registries)));
  Url url = base;
  if (request.target.find("://") != std::string::npos) {
    SLIPWAY_ASSIGN_OR_RETURN(url, ParseAbsoluteUrl(request.target));
  } else {
    url.target = request.target;
  }
  bool authenticated = false;
  int redirects = 0;
  while (true) {
    if (url.scheme == "http" && !AllowsPlainHttp(url.host_port)) {
      return FailedPrecondition("refusing plain http to " + url.host_port +
                                " (only loopback hosts and insecure_registries may use it)");
    }
    // Credentials go to the registry's own origin only: never to the object
    // storage a blob request redirects to.
    bool own_origin = url.Origin() == base.Origin();
    std::string authorization;
    if (own_origin) {
      SLIPWAY_ASSIGN_OR_RETURN(authorization, Authorization(registry, request.scopes));
    }
    SLIPWAY_ASSIGN_OR_RETURN(HttpResponse response, Transport(url, request, authorization));
    if (response.status == 401 && own_origin && !authenticated) {
      authenticated = true;
      auto challenge = ParseAuthChallenge(response.Header("WWW-Authenticate"));
      if (!challenge.ok()) return response;
      SLIPWAY_ASSIGN_OR_RETURN(bool retry,
                               Authenticate(registry, *challenge, request.scopes, !authorization.empty()));
      if (retry) continue;
      return response;
    }
    if (!IsRedirect(response.status)) return response;
    std::string what = request.method + " " + url.Redacted();
    if (++redirects > kMaxRedirects) return Unavailable(what + ": too many redirects");
    std::string location = response.Header("Location");
    if (location.empty()) return Unavailable(what + ": redirect without Location");
    auto next = ResolveLocation(url, location);
    if (!next.ok()) return next.status().Wrap(what + ": bad redirect");
    url = *next;
    if (response.status == 303 && request.method != "HEAD") {
      request.method = "GET";
      request.body.clear();
      request.fd = -1;
    }
  }
}

Status RegistryClient::Retry(const std::string& what, const std::function<Status(int attempt)>& attempt) {
  Status last;
  int attempts = std::max(0, options_.retries) + 1;
  auto delay = options_.retry_backoff;
  for (int i = 0; i < attempts; ++i) {
    if (i > 0) {
      std::this_thread::sleep_for(delay);
      delay *= 2;
    }
    last = attempt(i);
    if (last.ok() || last.code() != Code::kUnavailable) return last.Wrap(what);
  }
  return Status(last.code(),
                what + ": " + last.message() + " (gave up after " + std::to_string(attempts) + " attempts)");
}

Status RegistryClient::HttpError(const std::string& registry, const HttpResponse& response) {
  std::string code_name;
  std::string errors = DescribeErrors(response.body, &code_name);
  std::string message =
      response.method + " " + response.url.Redacted() + ": " + std::to_string(response.status);
  if (const char* reason = ReasonPhrase(response.status); *reason) message += std::string(" ") + reason;
  if (!errors.empty()) message += ": " + errors;
  Code code = CodeForHttp(response.status, code_name);
  if (response.status == 401) {
    auto challenge = ParseAuthChallenge(response.Header("WWW-Authenticate"));
    if (challenge.ok() && challenge->Param("error") == "insufficient_scope") {
      code = Code::kPermissionDenied;
      message += " (insufficient_scope: the token does not grant " + challenge->Param("scope") + ")";
    } else if (!credentials_status_.ok()) {
      message += " (" + credentials_status_.message() + ")";
    } else {
      message += CredentialsFor(registry) ? " (credentials for " + registry + " were rejected)"
                                          : " (no credentials configured for " + registry + ")";
    }
  }
  return Status(code, message);
}

// ---------------------------------------------------------------------------
// Authentication

Result<std::string> RegistryClient::Authorization(const std::string& registry,
                                                  const std::vector<std::string>& scopes) {
  AuthChallenge challenge;
  std::string key = registry;
  for (const std::string& scope : scopes) key += " " + scope;
  {
    std::lock_guard lock(mu_);
    auto it = challenges_.find(registry);
    if (it == challenges_.end()) return std::string();  // not asked yet: try without
    challenge = it->second;
    auto token = tokens_.find(key);
    if (challenge.scheme == "bearer" && token != tokens_.end() &&
        token->second.expires > std::chrono::steady_clock::now()) {
      return "Bearer " + token->second.value;
    }
  }
  if (challenge.scheme == "basic") {
    if (!credentials_status_.ok()) return credentials_status_;
    auto credentials = CredentialsFor(registry);
    return credentials ? BasicAuthorization(*credentials) : std::string();
  }
  // A known bearer registry: get the token before sending, rather than sending
  // a request (maybe with a large body) that is bound to be refused.
  SLIPWAY_ASSIGN_OR_RETURN(Token token, FetchToken(registry, challenge, scopes));
  std::lock_guard lock(mu_);
  tokens_[key] = token;
  return "Bearer " + token.value;
}

Result<bool> RegistryClient::Authenticate(const std::string& registry, const AuthChallenge& challenge,
                                          const std::vector<std::string>& scopes, bool sent_credentials) {
  if (challenge.scheme == "basic") {
    {
      std::lock_guard lock(mu_);
      challenges_[registry] = challenge;
    }
    if (!credentials_status_.ok()) return credentials_status_;
    // Credentials this request carried and the registry refused would be
    // refused again. Whether the registry was challenged before does not
    // tell: requests sent in parallel before the first challenge all come
    // back 401 without having carried any.
    return !sent_credentials && CredentialsFor(registry).has_value();
  }
  if (challenge.scheme != "bearer") {
    return Status(
        Code::kUnauthenticated,
        "registry " + registry + " asks for unsupported authentication scheme \"" + challenge.scheme + "\"");
  }
  if (challenge.Param("realm").empty()) {
    return Status(Code::kUnauthenticated,
                  "registry " + registry + " sent a bearer challenge without a realm");
  }
  // A fresh token even if one is cached: the registry refused the cached one.
  SLIPWAY_ASSIGN_OR_RETURN(Token token, FetchToken(registry, challenge, scopes));
  std::string key = registry;
  for (const std::string& scope : scopes) key += " " + scope;
  std::lock_guard lock(mu_);
  AuthChallenge stored = challenge;
  stored.params.erase("scope");  // per request, not per registry
  stored.params.erase("error");
  challenges_[registry] = stored;
  tokens_[key] = token;
  return true;
}

Result<RegistryClient::Token> RegistryClient::FetchToken(const std::string& registry,
                                                         const AuthChallenge& challenge,
                                                         const std::vector<std::string>& scopes) {
  if (!credentials_status_.ok()) return credentials_status_;
  std::string realm = challenge.Param("realm");
  auto url = ParseAbsoluteUrl(realm);
  if (!url.ok()) return url.status().Wrap("registry " + registry + ": token realm");
  if (url->scheme == "http" && !AllowsPlainHttp(url->host_port)) {
    return FailedPrecondition("registry " + registry + ": refusing token realm " + url->Redacted() +
                              " over plain http");
  }
  std::vector<std::string> all = scopes;
  std::string asked = challenge.Param("scope");
  for (size_t start = 0; start < asked.size();) {
    size_t end = std::min(asked.find(' ', start), asked.size());
    std::string scope = asked.substr(start, end - start);
    if (!scope.empty() && std::find(all.begin(), all.end(), scope) == all.end()) all.push_back(scope);
    start = end + 1;
  }
  std::string query;
  if (!challenge.Param("service").empty()) query = "service=" + PercentEncode(challenge.Param("service"));
  for (const std::string& scope : all)
    query += (query.empty() ? "" : "&") + ("scope=" + PercentEncode(scope));
  if (!query.empty()) url->target = AppendQuery(url->target, query);

  HttpRequest request;
  request.max_body = 1 << 20;
  auto credentials = CredentialsFor(registry);
  std::string authorization = credentials ? BasicAuthorization(*credentials) : "";
  SLIPWAY_ASSIGN_OR_RETURN(HttpResponse response, Transport(*url, request, authorization));
  if (response.status == 401 || response.status == 403) {
    return Status(Code::kUnauthenticated,
                  "token server " + url->Redacted() + " for " + registry + ": " +
                      std::to_string(response.status) +
                      (credentials ? " (credentials were rejected)" : " (anonymous access refused)"));
  }
  if (response.status != 200) return HttpError(registry, response).Wrap("get token for " + registry);
  nlohmann::json doc = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  Token token;
  if (doc.is_object()) {
    for (const char* field : {"token", "access_token"}) {
      if (token.value.empty() && doc.contains(field) && doc[field].is_string()) token.value = doc[field];
    }
  }
  if (token.value.empty()) {
    return Status(Code::kUnauthenticated,
                  "token server " + url->Redacted() + " for " + registry + ": response has no token");
  }
  int64_t seconds = 60;  // the spec's default and minimum
  if (doc.contains("expires_in") && doc["expires_in"].is_number_integer()) {
    seconds = std::max<int64_t>(seconds, doc["expires_in"].get<int64_t>());
  }
  token.expires = std::chrono::steady_clock::now() + std::chrono::seconds(seconds - 10);
  return token;
}

// ---------------------------------------------------------------------------
// The API

Status RegistryClient::Ping(const std::string& registry) {
  return Retry("ping " + registry, [&](int) -> Status {
    HttpRequest request;
    request.target = "/v2/";
    SLIPWAY_ASSIGN_OR_RETURN(HttpResponse response, Send(registry, std::move(request)));
    if (response.status != 200) return HttpError(registry, response);
    return Status::Ok();
  });
}

Result<FetchedManifest> RegistryClient::FetchManifest(const Reference& repo, const std::string& tag_or_digest,
                                                      const std::optional<Digest>& expected) {
  FetchedManifest out;
  std::string name = repo.Name() + (tag_or_digest.starts_with("sha256:") ? "@" : ":") + tag_or_digest;
  Status status = Retry("get manifest " + name, [&](int) -> Status {
    HttpRequest request;
    request.target = "/v2/" + repo.repository + "/manifests/" + tag_or_digest;
    request.headers.emplace("Accept", ManifestAcceptHeader());
    request.scopes = {RepositoryScope(repo.repository, "pull")};
    SLIPWAY_ASSIGN_OR_RETURN(HttpResponse response, Send(repo.registry, std::move(request)));
    if (response.status != 200) return HttpError(repo.registry, response);
    bytes_pulled_ += static_cast<int64_t>(response.body.size());
    Digest actual = Digest::Of(response.body);
    if (expected && actual != *expected) {
      return InvalidArgument("manifest digest mismatch: asked for " + expected->str() + ", the body has " +
                             actual.str());
    }
    std::string header = response.Header("Docker-Content-Digest");
    if (!expected && header.starts_with("sha256:") && header != actual.str()) {
      return InvalidArgument("manifest digest mismatch: Docker-Content-Digest is " + header +
                             ", the body has " + actual.str());
    }
    SLIPWAY_ASSIGN_OR_RETURN(out.media_type,
                             DetectManifestMediaType(response.body, response.Header("Content-Type")));
    out.body = std::move(response.body);
    out.digest = actual;
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return out;
}

Result<FetchedManifest> RegistryClient::GetManifestByDigest(const Reference& repo, const Digest& digest) {
  return FetchManifest(repo, digest.str(), digest);
}

Result<FetchedManifest> RegistryClient::GetManifestByTag(const Reference& repo, const std::string& tag) {
  if (!IsValidTag(tag)) return InvalidArgument("get manifest " + repo.Name() + ":" + tag + ": invalid tag");
  return FetchManifest(repo, tag, std::nullopt);
}

Result<std::optional<Digest>> RegistryClient::ManifestDigest(const Reference& repo,
                                                             const std::string& tag_or_digest) {
  std::optional<Digest> found;
  bool need_body = false;
  Status status = Retry("check manifest " + repo.Name() + " " + tag_or_digest, [&](int) -> Status {
    HttpRequest request;
    request.method = "HEAD";
    request.target = "/v2/" + repo.repository + "/manifests/" + tag_or_digest;
    request.headers.emplace("Accept", ManifestAcceptHeader());
    request.scopes = {RepositoryScope(repo.repository, "pull")};
    SLIPWAY_ASSIGN_OR_RETURN(HttpResponse response, Send(repo.registry, std::move(request)));
    if (response.status == 404) return Status::Ok();
    if (response.status != 200) return HttpError(repo.registry, response);
    auto digest = Digest::Parse(response.Header("Docker-Content-Digest"));
    if (digest.ok()) {
      found = *digest;
    } else {
      need_body = true;
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  if (need_body) {
    SLIPWAY_ASSIGN_OR_RETURN(FetchedManifest m, FetchManifest(repo, tag_or_digest, std::nullopt));
    found = m.digest;
  }
  return found;
}

Result<std::optional<FetchedManifest>> RegistryClient::GetReferrers(const Reference& repo,
                                                                    const Digest& subject) {
  std::optional<FetchedManifest> out;
  Status status = Retry("get referrers of " + repo.Name() + "@" + subject.str(), [&](int) -> Status {
    HttpRequest request;
    request.target = "/v2/" + repo.repository + "/referrers/" + subject.str();
    request.headers.emplace("Accept", media_type::kOciIndex);
    request.scopes = {RepositoryScope(repo.repository, "pull")};
    SLIPWAY_ASSIGN_OR_RETURN(HttpResponse response, Send(repo.registry, std::move(request)));
    if (response.status == 404) return Status::Ok();  // no referrers API
    if (response.status != 200) return HttpError(repo.registry, response);
    bytes_pulled_ += static_cast<int64_t>(response.body.size());
    FetchedManifest index;
    index.media_type = media_type::kOciIndex;
    index.digest = Digest::Of(response.body);
    index.body = std::move(response.body);
    out = std::move(index);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return out;
}

Result<FetchedManifest> RegistryClient::GetManifest(const Reference& ref,
                                                    std::optional<FetchedManifest>* index) {
  if (index) index->reset();
  SLIPWAY_ASSIGN_OR_RETURN(FetchedManifest current, FetchManifest(ref, ref.TagOrDigest(), ref.digest));
  // An index may (rarely) point at another index; two levels is plenty.
  for (int depth = 0; IsIndexMediaType(current.media_type); ++depth) {
    std::string context = "pull " + ref.str();
    if (depth == 2) return InvalidArgument(context + ": indexes nested more than two deep");
    auto parsed = ParseIndex(current.body, current.media_type);
    if (!parsed.ok()) return parsed.status().Wrap(context);
    auto entry = SelectPlatform(*parsed, options_.os, options_.architecture, options_.variant);
    if (!entry.ok()) return entry.status().Wrap(context);
    if (index && depth == 0) *index = current;
    SLIPWAY_ASSIGN_OR_RETURN(current, FetchManifest(ref, entry->digest.str(), entry->digest));
    if (static_cast<int64_t>(current.body.size()) != entry->size) {
      return InvalidArgument(context + ": manifest " + entry->digest.str() + " has " +
                             std::to_string(current.body.size()) + " bytes, the index says " +
                             std::to_string(entry->size));
    }
  }
  auto manifest = ParseManifest(current.body, current.media_type);
  if (!manifest.ok()) return manifest.status().Wrap("pull " + ref.str());
  return current;
}

Status RegistryClient::FetchBlobOnce(const Reference& repo, const Descriptor& d, BlobSink& sink,
                                     bool& wrote) {
  Sha256 hash;
  int64_t received = 0;
  HttpRequest request;
  request.target = "/v2/" + repo.repository + "/blobs/" + d.digest.str();
  request.scopes = {RepositoryScope(repo.repository, "pull")};
  request.on_body = [&](std::string_view data) -> Status {
    if (received + static_cast<int64_t>(data.size()) > d.size) {
      return InvalidArgument("the registry sent more than the expected " + std::to_string(d.size) + " bytes");
    }
    received += static_cast<int64_t>(data.size());
    if (!sink.ChecksDigest()) hash.Update(data);
    wrote = true;
    SLIPWAY_RETURN_IF_ERROR(sink.Write(data));
    bytes_pulled_ += static_cast<int64_t>(data.size());
    Progress(d.digest, received, d.size);
    return Status::Ok();
  };
  SLIPWAY_ASSIGN_OR_RETURN(HttpResponse response, Send(repo.registry, std::move(request)));
  if (response.status != 200) return HttpError(repo.registry, response);
  if (received != d.size) {
    return InvalidArgument("got " + std::to_string(received) + " bytes, expected " + std::to_string(d.size));
  }
  if (sink.ChecksDigest()) return Status::Ok();  // its check, once, instead of ours
  Digest actual = hash.Finish();
  if (actual != d.digest)
    return InvalidArgument("content digest mismatch: the bytes received have " + actual.str());
  return Status::Ok();
}

Status RegistryClient::FetchBlob(const Reference& repo, const Descriptor& d, BlobSink& sink) {
  bool wrote = false;
  Status status = Retry("fetch blob " + d.digest.str() + " from " + repo.Name(), [&](int attempt) -> Status {
    if (attempt > 0 || wrote) {
      SLIPWAY_RETURN_IF_ERROR(sink.Reset());
      wrote = false;
    }
    return FetchBlobOnce(repo, d, sink, wrote);
  });
  // Nothing of a failed fetch may be taken for the blob.
  if (!status.ok() && wrote) {
    if (Status reset = sink.Reset(); !reset.ok())
      status = Status(status.code(), status.message() + "; then " + reset.message());
  }
  return status;
}

Result<bool> RegistryClient::HasBlob(const Reference& repo, const Digest& digest) {
  bool found = false;
  Status status = Retry("check blob " + digest.str() + " in " + repo.Name(), [&](int) -> Status {
    HttpRequest request;
    request.method = "HEAD";
    request.target = "/v2/" + repo.repository + "/blobs/" + digest.str();
    request.scopes = {RepositoryScope(repo.repository, "pull")};
    SLIPWAY_ASSIGN_OR_RETURN(HttpResponse response, Send(repo.registry, std::move(request)));
    if (response.status == 404) return Status::Ok();
    if (response.status != 200) return HttpError(repo.registry, response);
    found = true;
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return found;
}

// POST /v2/<repo>/blobs/uploads/: the upload session's URL.
Result<std::string> RegistryClient::StartUpload(const Reference& repo, const std::vector<std::string>& scopes,
                                                const std::string& query, HttpResponse* out) {
  HttpRequest request;
  request.method = "POST";
  request.target = "/v2/" + repo.repository + "/blobs/uploads/" + (query.empty() ? "" : "?" + query);
  request.scopes = scopes;
  SLIPWAY_ASSIGN_OR_RETURN(HttpResponse response, Send(repo.registry, std::move(request)));
  if (response.status != 201 && response.status != 202) return HttpError(repo.registry, response);
  std::string location = response.Header("Location");
  if (response.status == 202 && location.empty()) {
    return Unavailable("POST " + response.url.Redacted() + ": upload started without a Location");
  }
  auto resolved = ResolveLocation(response.url, location);
  if (!resolved.ok()) return resolved.status().Wrap("upload Location");
  if (out) *out = std::move(response);
  return resolved->Origin() + resolved->target;
}

Result<bool> RegistryClient::MountBlob(const Reference& repo, const Digest& digest, const std::string& from) {
  if (Status s = ValidateRepository(from); !s.ok()) return s.Wrap("mount blob " + digest.str());
  bool mounted = false;
  Status status =
      Retry("mount blob " + digest.str() + " from " + from + " into " + repo.Name(), [&](int) -> Status {
        std::vector<std::string> scopes = {RepositoryScope(repo.repository, "pull,push"),
                                           RepositoryScope(from, "pull")};
        HttpResponse response;
        SLIPWAY_ASSIGN_OR_RETURN(
            std::string location,
            StartUpload(repo, scopes, "mount=" + PercentEncode(digest.str()) + "&from=" + PercentEncode(from),
                        &response));
        mounted = response.status == 201;
        if (!mounted) {
          // The registry opened an upload session instead: close it, the caller
          // will push the blob with its own.
          HttpRequest cancel;
          cancel.method = "DELETE";
          cancel.target = location;
          cancel.scopes = scopes;
          (void)Send(repo.registry, std::move(cancel)).ok();
        }
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return mounted;
}

Status RegistryClient::PushBlobOnce(const Reference& repo, const Descriptor& d, int fd) {
  std::vector<std::string> scopes = {RepositoryScope(repo.repository, "pull,push")};
  SLIPWAY_ASSIGN_OR_RETURN(std::string location, StartUpload(repo, scopes, "", nullptr));
  int64_t done = 0;
  auto body = [&](std::string method, std::string target, int64_t offset, int64_t length) {
    HttpRequest request;
    request.method = std::move(method);
    request.target = std::move(target);
    request.scopes = scopes;
    request.content_type = "application/octet-stream";
    request.fd = length > 0 ? fd : -1;
    request.offset = offset;
    request.length = length;
    request.on_sent = [&](int64_t sent) {
      done += sent;
      bytes_pushed_ += sent;
      Progress(d.digest, std::min(done, d.size), d.size);
    };
    return request;
  };
  std::string finish = AppendQuery(location, "digest=" + PercentEncode(d.digest.str()));
  HttpRequest final_put = body("PUT", finish, 0, 0);
  if (static_cast<size_t>(d.size) <= options_.chunk_size) {
    final_put = body("PUT", finish, 0, d.size);  // monolithic
  } else {
    for (int64_t offset = 0; offset < d.size;) {
      int64_t length = std::min<int64_t>(static_cast<int64_t>(options_.chunk_size), d.size - offset);
      done = offset;
      HttpRequest patch = body("PATCH", location, offset, length);
      patch.headers.emplace("Content-Range",
                            std::to_string(offset) + "-" + std::to_string(offset + length - 1));
      SLIPWAY_ASSIGN_OR_RETURN(HttpResponse response, Send(repo.registry, std::move(patch)));
      if (response.status != 202) return HttpError(repo.registry, response);
      if (std::string next = response.Header("Location"); !next.empty()) {
        SLIPWAY_ASSIGN_OR_RETURN(Url url, ResolveLocation(response.url, next));
        location = url.Origin() + url.target;
      }
      offset += length;
    }
    final_put = body("PUT", AppendQuery(location, "digest=" + PercentEncode(d.digest.str())), 0, 0);
  }
  SLIPWAY_ASSIGN_OR_RETURN(HttpResponse response, Send(repo.registry, std::move(final_put)));
  if (response.status / 100 != 2) return HttpError(repo.registry, response);
  std::string stored = response.Header("Docker-Content-Digest");
  if (stored.starts_with("sha256:") && stored != d.digest.str()) {
    return InvalidArgument("the registry stored the blob as " + stored);
  }
  return Status::Ok();
}

Status RegistryClient::PushBlob(const Reference& repo, const Descriptor& d, const std::string& path) {
  std::string context = "push blob " + d.digest.str() + " to " + repo.Name();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + path).Wrap(context);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat " + path).Wrap(context);
  if (st.st_size != d.size) {
    return InvalidArgument(context + ": " + path + " has " + std::to_string(st.st_size) +
                           " bytes, the descriptor says " + std::to_string(d.size));
  }
  return PushBlobFd(repo, d, fd.get(), context);
}

Status RegistryClient::PushBlobFd(const Reference& repo, const Descriptor& d, int fd,
                                  const std::string& context) {
  auto exists = HasBlob(repo, d.digest);
  if (!exists.ok()) return exists.status().Wrap(context);
  if (*exists) {
    Progress(d.digest, d.size, d.size);
    return Status::Ok();
  }
  return Retry(context, [&](int) { return PushBlobOnce(repo, d, fd); });
}

Status RegistryClient::PushBlobContent(const Reference& repo, const Descriptor& d, std::string_view content) {
  std::string context = "push blob " + d.digest.str() + " to " + repo.Name();
  if (static_cast<int64_t>(content.size()) != d.size || Digest::Of(content) != d.digest) {
    return InvalidArgument(context + ": the content does not match its descriptor");
  }
  // The upload code streams from a file descriptor (retries re-read it from
  // its offset): an anonymous memory file gives it one.
  UniqueFd fd(::memfd_create("slipway-blob", MFD_CLOEXEC));
  if (!fd) return ErrnoStatus("memfd_create").Wrap(context);
  SLIPWAY_RETURN_IF_ERROR(WriteAll(fd.get(), content, "memfd").Wrap(context));
  return PushBlobFd(repo, d, fd.get(), context);
}

Status RegistryClient::PutManifest(const Reference& repo, const std::string& tag_or_digest,
                                   const std::string& media_type, const std::string& body,
                                   PutManifestReply* reply) {
  std::string context = "push manifest " + repo.Name() + ":" + tag_or_digest;
  Digest digest = Digest::Of(body);
  if (tag_or_digest.starts_with("sha256:")) {
    if (tag_or_digest != digest.str()) {
      return InvalidArgument(context + ": the body has digest " + digest.str());
    }
  } else if (!IsValidTag(tag_or_digest)) {
    return InvalidArgument(context + ": invalid tag");
  }
  return Retry(context, [&](int) -> Status {
    HttpRequest request;
    request.method = "PUT";
    request.target = "/v2/" + repo.repository + "/manifests/" + tag_or_digest;
    request.scopes = {RepositoryScope(repo.repository, "pull,push")};
    request.body = body;
    request.content_type = media_type;
    SLIPWAY_ASSIGN_OR_RETURN(HttpResponse response, Send(repo.registry, std::move(request)));
    if (response.status / 100 != 2) return HttpError(repo.registry, response);
    bytes_pushed_ += static_cast<int64_t>(body.size());
    std::string stored = response.Header("Docker-Content-Digest");
    if (stored.starts_with("sha256:") && stored != digest.str()) {
      return InvalidArgument("the registry stored the manifest as " + stored + ", its bytes have " +
                             digest.str());
    }
    if (reply) {
      reply->digest = digest;
      reply->subject = response.Header("OCI-Subject");
    }
    return Status::Ok();
  });
}

}  // namespace slipway
