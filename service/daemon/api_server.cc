// The HTTP side of the API: starting and stopping Pistache, routing,
// authentication, request checks, metrics and the request log. Route
// handlers live in container_routes.cc, image_routes.cc, repo_routes.cc and
// run_routes.cc; requests are read by http_handler.cc and answered through
// pistache_reply.cc; the connection table's policy is connection_table.cc.
//
// Pistache 0.0.5 facts these files are built around (checked against the
// library, not assumed):
// - A request that is not answered within the header timeout (default 60 s)
//   gets a 408 written into its connection, and the connection closed, even
//   while a handler is still working on it or streaming the answer; a
//   keep-alive connection whose answer was sent late is closed the same way
//   by the keep-alive timeout, possibly before the answer left. All three
//   timeouts are therefore set to kLongestRequest.
// - ResponseStream::flush() races with the reactor: streams are written by
//   hand (pistache_reply.h).
// - Its own request reading is not fit to face a network: HttpHandler
//   replaces it (http_handler.h).
// - Accepting fails with EMFILE once the process is out of descriptors, and
//   Pistache's accept loop then spins on the still-readable listener: the
//   connection cap stays below the descriptor limit.
// - A peer's descriptor is closed right after Handler::onDisconnection
//   (Transport::removePeer); a shutdown(2) of ours is made only under the
//   connection table's lock, on a connection not yet disconnected, so it
//   never hits a reused descriptor.
// - Transport::onReady takes an event that is both readable and writable for
//   readable only: a write queued for a client that is still sending is not
//   written until some later event happens to be writable alone. Refusals,
//   which go out while the client may still be sending its body, are
//   therefore written directly (ConnectionTable::Refuse).
// - Neither the path nor query values are percent-decoded; typed headers are
//   parsed, and raw copies kept (tryGetRaw).
#include "service/daemon/api_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "engine/base/ascii.h"
#include "engine/base/url.h"
#include "service/daemon/api_routes.h"
#include "service/daemon/http_handler.h"
#include "service/daemon/pistache_reply.h"
#include "service/daemon/server.h"
#include "service/daemon/token.h"

namespace slipway::daemon::api {

namespace {

using namespace Pistache;

// How long one request may take, streams included (see the file comment).
// Pistache's own timeouts are set to this; ours (header, body, idle) are
// kept by the connection table.
constexpr auto kLongestRequest = std::chrono::hours(24);
// Connections the kernel completes before slipwayd accepts them (capped by
// net.core.somaxconn).
constexpr int kListenBacklog = 4096;
// How often timeouts are checked.
constexpr auto kSweepEvery = std::chrono::milliseconds(100);
// How long Shutdown() lets the reactors deliver the last answers.
constexpr auto kFlushGrace = std::chrono::seconds(1);
// Requests running on threads of their own at once (waits, streams, pulls).
constexpr size_t kMaxWorkers = 1024;

// "application/json; charset=utf-8" -> "application/json".
std::string MediaTypeOf(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  return Lower(type);
}

bool IsBadIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 256) return true;
  if (s.find('/') != std::string_view::npos || s.find("..") != std::string_view::npos) return true;
  return HasControlChar(s);
}

// Metric labels come from a small set: an unknown method is "other".
std::string MethodLabel(std::string_view method) {
  static const char* const kKnown[] = {"GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"};
  for (const char* known : kKnown) {
    if (method == known) return known;
  }
  return "other";
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 501: return "Not Implemented";
    default: return "Error";
  }
}

// The answer to a request without a usable credential.
constexpr char kUnauthenticatedMessage[] =
    "missing or wrong token (Authorization: Bearer TOKEN, or the dashboard's session cookie)";

// The largest body POST /ui/login takes: a form or JSON with one token.
constexpr int64_t kLoginMaxBody = 4096;
constexpr char kLoginPath[] = "/ui/login";

bool IsApiPath(std::string_view path) {
  return path == "/api/v1" || path.starts_with("/api/v1/");
}

bool IsBadgePath(std::string_view path) {
  return path.starts_with("/badge/");
}

bool IsHookPath(std::string_view path) {
  return path.starts_with("/hooks/");
}

}  // namespace

// --- Server ---

Server::Server(ApiServerOptions options, ContainerService& containers, ImageService& images,
               pipelines::RepoRegistry& repos, pipelines::RunService& runs, pipelines::RunStore& store,
               Metrics& metrics, EventLog& log, DaemonInfo info)
    : options_(std::move(options)),
      containers_(containers),
      images_(images),
      metrics_(metrics),
      log_(log),
      info_(std::move(info)),
      workers_(kMaxWorkers, log),
      auth_(options_.token, options_.access_tokens, options_.dashboard_public_read),
      context_{containers, images, log,  workers_, stopping_,
               info_,      repos,  runs, store,    options_.delivery_keep, options_.tests},
      connections_(
          {options_.max_connections, options_.header_timeout, options_.body_timeout, options_.idle_timeout},
          metrics) {
  context_.promotions = options_.promotions;
  context_.promotion_audit = options_.promotion_audit;
  context_.registry_logins = options_.registry_logins;
  context_.signing_key = options_.signing_key;
  context_.auth = &auth_;
  context_.tokens = options_.access_tokens;
  context_.dashboard = options_.dashboard;
  context_.events = options_.events;
  // A revoked token's streams check it at once rather than at their next event.
  if (options_.events) context_.on_token_removed = [events = options_.events] { events->Wake(); };
  AddServiceRoutes();
  if (options_.hooks != ApiServerOptions::Hooks::kOnly) {
    AddRegistryRoutes(router_, context_);
    AddContainerRoutes(router_, context_);
    AddImageRoutes(router_, context_);
    AddRepoRoutes(router_, context_);
    AddRunRoutes(router_, context_);
    if (options_.tests) AddTestRoutes(router_, context_);
    AddPromotionRoutes(router_, context_);
    AddSessionRoutes(router_, context_);
    AddDashboardRoutes(router_, context_);
    if (options_.events) AddEventRoutes(router_, context_);
    if (options_.dashboard) AddBadgeRoutes(router_, context_);
  }
  if (options_.hooks != ApiServerOptions::Hooks::kNone) AddHookRoutes(router_, context_);
}

Server::~Server() {
  Shutdown();
}

Status Server::Start() {
  std::lock_guard lock(lifecycle_mu_);
  if (endpoint_ || shut_down_) return FailedPrecondition("the API server was started before");
  if (options_.token.empty()) return InvalidArgument("the API server needs a control token");
  if (options_.threads < 1 || options_.threads > 64) return InvalidArgument("api threads must be 1 to 64");
  if (options_.max_body_bytes < 1 || options_.max_body_bytes > (int64_t{1} << 40))
    return InvalidArgument("max_body_bytes is out of range");
  if (options_.webhook_max_body_bytes < 1 || options_.webhook_max_body_bytes > (int64_t{1} << 40))
    return InvalidArgument("webhook_max_body_bytes is out of range");
  if (options_.max_head_bytes < 1024 || options_.max_head_bytes > (int64_t{1} << 30))
    return InvalidArgument("api_max_head_bytes must be 1k to 1g");
  if (options_.max_connections < 1) return InvalidArgument("api_max_connections must be at least 1");
  if (options_.header_timeout.count() <= 0 || options_.body_timeout.count() <= 0 ||
      options_.idle_timeout.count() <= 0)
    return InvalidArgument("api timeouts must be positive");
  if (options_.port < 0 || options_.port > 65535) return InvalidArgument("port must be 0 to 65535");
  int max_connections = options_.max_connections;
  if (rlimit limit{}; getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    // The other half is for the database, images, logs and monitors.
    max_connections =
        static_cast<int>(std::min<rlim_t>(max_connections, std::max<rlim_t>(limit.rlim_cur / 2, 1)));
  }
  connections_.SetMaxConnections(max_connections);
  const bool ipv6 = options_.host.find(':') != std::string::npos;
  const std::string address =
      (ipv6 ? "[" + options_.host + "]" : options_.host) + ":" + std::to_string(options_.port);
  // HttpHandler feeds Pistache's parser one head and one body at most.
  const size_t max_request = static_cast<size_t>(MaxBodyLimit() + options_.max_head_bytes) + 1024;
  try {
    auto endpoint = std::make_unique<Http::Endpoint>(Address(address));
    // NoDelay: replies and stream chunks are small writes; with Nagle each
    // waits for the client's delayed ACK (40 ms).
    const auto flags = Tcp::Options::ReuseAddr | Tcp::Options::NoDelay;
    endpoint->init(Http::Endpoint::options()
                       .threads(options_.threads)
                       .threadsName("slipway-api")
                       .flags(flags)
                       .maxRequestSize(max_request)
                       .headerTimeout(kLongestRequest)
                       .bodyTimeout(kLongestRequest)
                       .keepaliveTimeout(kLongestRequest));
    // Endpoint::init does not pass Options::backlog on (0.0.5): the listener
    // is initialised again with it (Listener::init only records its
    // arguments). With Pistache's 128, a burst of connections overflows the
    // accept queue while the accept thread waits for a core, and each
    // dropped SYN costs its client a one-second retransmission.
    endpoint->initArgs(static_cast<size_t>(options_.threads), Flags<Tcp::Options>(flags),
                       std::string("slipway-api"), kListenBacklog);
    endpoint->setHandler(Http::make_handler<HttpHandler>(this));
    endpoint->serveThreaded();
    endpoint_ = std::move(endpoint);
  } catch (const std::invalid_argument& e) {
    return InvalidArgument("listen address " + address + ": " + e.what());
  } catch (const std::exception& e) {
    return Status(Code::kUnavailable, "listen on " + address + ": " + e.what());
  }
  sweeper_ = std::thread([this] {
    std::unique_lock lock(sweeper_mu_);
    while (!sweeper_stop_) {
      sweeper_cv_.wait_for(lock, kSweepEvery);
      if (sweeper_stop_) break;
      lock.unlock();
      Sweep();
      lock.lock();
    }
  });
  log_.Info(options_.hooks == ApiServerOptions::Hooks::kOnly ? "webhooks.listening" : "api.listening",
            {{"address", address},
             {"port", port()},
             {"threads", options_.threads},
             {"max_connections", max_connections}});
  return Status::Ok();
}

int Server::port() const {
  if (!endpoint_) return 0;
  try {
    return static_cast<uint16_t>(endpoint_->getPort());
  } catch (const std::exception&) {
    return 0;
  }
}

void Server::Shutdown() {
  std::lock_guard lock(lifecycle_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  draining_ = true;
  stopping_ = true;
  // Request threads first, while the reactors still deliver what they write.
  workers_.Close();
  workers_.Join();
  // Writes to clients that went away never complete: the wait is bounded.
  for (auto deadline = Clock::now() + kFlushGrace; unwritten_.load() > 0 && Clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (sweeper_.joinable()) {
    {
      std::lock_guard sweeper_lock(sweeper_mu_);
      sweeper_stop_ = true;
    }
    sweeper_cv_.notify_all();
    sweeper_.join();
  }
  if (endpoint_) {
    try {
      endpoint_->shutdown();
    } catch (const std::exception& e) {
      log_.Warn("api.shutdown_failed", {{"what", e.what()}});
    }
  }
  log_.Info("api.stopped");
}

void Server::AddServiceRoutes() {
  router_.Add("GET", "/healthz", kReadOnly, {}, [this](const Request&, ReplyPtr reply) {
    if (draining_) return reply->Error(Status(Code::kUnavailable, "slipwayd is shutting down"));
    reply->Send(200, "text/plain; charset=utf-8", "ok");
  });
  if (options_.hooks == ApiServerOptions::Hooks::kOnly) return;
  router_.Add("GET", "/metrics", kReadOnly, {}, [this](const Request&, ReplyPtr reply) {
    reply->Send(200, kMetricsContentType, metrics_.Render());
  });
  router_.Add("GET", "/api/v1/info", kRead, {}, [this](const Request&, ReplyPtr reply) {
    json body;
    body["version"] = info_.version;
    body["kernel_version"] = info_.kernel_version;
    body["operating_system"] = info_.operating_system;
    body["data_dir"] = info_.data_dir;
    body["state_dir"] = info_.state_dir;
    // Images are unpacked once per layer and stacked by overlayfs.
    body["storage_driver"] = "overlay";
    body["cgroup_layout"] = info_.cgroup_layout;
    body["cgroup_controllers"] = info_.cgroup_controllers;
    body["cgroup_parent"] = info_.cgroup_parent;
    body["registries"] = {{"insecure", info_.insecure_registries},
                          {"with_credentials", info_.registries_with_credentials}};
    body["max_running"] = info_.max_running;
    body["running"] = containers_.running();
    body["queued"] = containers_.queued();
    body["sandbox_pool"] = {{"size", info_.sandbox_pool_size}, {"ready", containers_.pool_ready()}};
    body["max_runs"] = info_.max_runs;
    body["runs_running"] = context_.runs.running();
    body["runs_queued"] = context_.runs.queued();
    body["public_url"] = info_.public_url;
    json hooks;
    for (const char* forge : {"github", "gitea", "gitlab"})
      hooks[forge] = info_.public_url + "/hooks/" + forge;
    body["webhook_urls"] = std::move(hooks);
    reply->Json(200, body);
  });
}

void Server::Handle(const Http::Request& http, Http::ResponseWriter writer, const ConnectionPtr& conn) {
  RequestInfo info;
  info.start = Clock::now();
  info.method = Http::methodString(http.method());
  info.path = http.resource();
  Router::Match match = router_.Find(info.method, info.path);
  // Resolved from the head by HttpHandler, before the body was read.
  const Principal principal = conn ? conn->principal : Resolve(http);
  // Without a credential, not even the metrics tell which routes exist.
  if (!Admitted(info.path, principal)) {
    info.route = "unauthenticated";
  } else if (!match.pattern.empty()) {
    info.route = match.pattern;
  }
  auto reply = std::make_shared<PistacheReply>(std::move(writer), std::move(info), *this, conn);
  try {
    Dispatch(http, match, principal, *reply, reply);
  } catch (const std::exception& e) {
    reply->Error(500, "internal", std::string("unexpected error: ") + e.what());
  }
}

void Server::Dispatch(const Http::Request& http, const Router::Match& match, const Principal& principal,
                      PistacheReply& reply, const ReplyPtr& shared) {
  const std::string& path = http.resource();
  const std::string method = Http::methodString(http.method());
  // The credential is checked before routing: without one, not even which
  // routes exist is told.
  if (!Admitted(path, principal)) {
    return reply.Error(401, "unauthenticated", kUnauthenticatedMessage);
  }
  if (!match.route) {
    if (match.allowed.empty()) return reply.Error(404, "not_found", "no such route: " + method + " " + path);
    reply.SetAllow(match.allowed);
    return reply.Error(405, "method_not_allowed", method + " is not allowed on " + match.pattern);
  }
  const Route& route = *match.route;
  if (!Permitted(http, route, principal, reply)) return;
  if ((route.flags & kMutating) && draining_) {
    return reply.Error(Status(Code::kUnavailable, "slipwayd is shutting down"));
  }
  Request request;
  request.method = method;
  request.route = route.pattern;
  request.principal = principal;
  if (!DecodeParams(match, &request, reply) || !DecodeQuery(http, route, &request, reply) ||
      !ReadBody(http, route, &request, reply)) {
    return;
  }
  if (auto accept = http.headers().tryGetRaw("Accept")) request.accept = accept->value();
  if (auto tag = http.headers().tryGetRaw("If-None-Match")) request.if_none_match = tag->value();
  if (auto last = http.headers().tryGetRaw("Last-Event-ID")) request.last_event_id = last->value();
  route.handler(request, shared);
}

Principal Server::Resolve(const Http::Request& http) const {
  // tryGetRaw answers a copy: the value is kept here, not viewed.
  std::optional<std::string> authorization;
  if (auto header = http.headers().tryGetRaw("Authorization")) authorization = header->value();
  std::vector<std::string> cookies;
  for (const Http::Cookie& cookie : http.cookies()) {
    if (cookie.name == kSessionCookie) cookies.push_back(cookie.value);
  }
  return auth_.Resolve(authorization ? std::optional<std::string_view>(*authorization) : std::nullopt,
                       cookies);
}

bool Server::Admitted(std::string_view path, const Principal& principal) const {
  const bool needs_credential = IsApiPath(path) || (IsBadgePath(path) && options_.dashboard &&
                                                    options_.hooks != ApiServerOptions::Hooks::kOnly);
  return !needs_credential || principal.role != Principal::Role::kNone;
}

const char* Server::UnauthenticatedMessage() {
  return kUnauthenticatedMessage;
}

bool Server::MayCarryBody(const Principal& principal) {
  return principal.role == Principal::Role::kAdmin || principal.role == Principal::Role::kOperate;
}

bool Server::Permitted(const Http::Request& http, const Route& route, const Principal& principal,
                       Reply& reply) const {
  const std::string method = Http::methodString(http.method());
  // A cookie goes with every request the browser makes to us, whoever's
  // page made it: a foreign Origin is refused, and changes need the CSRF
  // value only our page can read (GET /api/v1/session). The login itself
  // is checked for its Origin too (no logging a victim into our account).
  if (principal.cookie || route.pattern == kLoginPath) {
    if (auto origin = http.headers().tryGetRaw("Origin")) {
      auto host = http.headers().tryGetRaw("Host");
      if (!Authenticator::SameOrigin(origin->value(), host ? host->value() : "")) {
        reply.Error(403, "permission_denied", "the request's Origin is not this server's");
        return false;
      }
    }
  }
  if (principal.cookie && method != "GET" && method != "HEAD") {
    auto csrf = http.headers().tryGetRaw(kCsrfHeader);
    if (!csrf || !auth_.CsrfMatches(principal, csrf->value())) {
      reply.Error(403, "permission_denied",
                  std::string("a change made with the session cookie needs the ") + kCsrfHeader +
                      " header (the csrf of GET /api/v1/session)");
      return false;
    }
  }
  if (!Admitted(http.resource(), principal) || principal.role == Principal::Role::kNone ||
      !(IsApiPath(http.resource()) || IsBadgePath(http.resource())))
    return true;  // a route open to all (/healthz, /metrics, /hooks/*, the login)
  if (Authenticator::Permits(principal, route.flags, method)) return true;
  std::string who = principal.anonymous
                        ? std::string("anonymous reading")
                        : "token " + principal.name + " (scope " + RoleName(principal.role) + ")";
  reply.Error(403, "permission_denied", who + " may not " + method + " " + route.pattern);
  return false;
}

bool Server::TakesUnauthenticatedBody(std::string_view path) const {
  if (options_.hooks != ApiServerOptions::Hooks::kNone && IsHookPath(path)) return true;
  return options_.dashboard && options_.hooks != ApiServerOptions::Hooks::kOnly && path == kLoginPath;
}

int64_t Server::BodyLimit(std::string_view path) const {
  if (path == kLoginPath) return kLoginMaxBody;
  return TakesUnauthenticatedBody(path) ? options_.webhook_max_body_bytes : options_.max_body_bytes;
}

bool Server::ReserveUnverifiedBody(uint64_t bytes) {
  const uint64_t budget =
      std::max<uint64_t>(4 * static_cast<uint64_t>(options_.webhook_max_body_bytes), uint64_t{64} << 20);
  uint64_t held = unverified_bytes_.load();
  do {
    if (held + bytes > budget) return false;
  } while (!unverified_bytes_.compare_exchange_weak(held, held + bytes));
  return true;
}

void Server::ReleaseUnverifiedBody(uint64_t bytes) {
  unverified_bytes_.fetch_sub(bytes);
}

int64_t Server::MaxBodyLimit() const {
  return options_.hooks == ApiServerOptions::Hooks::kNone
             ? options_.max_body_bytes
             : std::max(options_.max_body_bytes, options_.webhook_max_body_bytes);
}

// --- Server: refusals and timeouts ---

void Server::Refuse(const ConnectionPtr& conn, std::string_view method, std::string_view route, int status,
                    std::string_view code, std::string_view message, bool only_reading) {
  json body;
  body["error"]["code"] = code;
  body["error"]["message"] = message;
  const std::string text = Dump(body);
  const std::string answer =
      "HTTP/1.1 " + std::to_string(status) + " " + ReasonPhrase(status) +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(text.size()) +
      "\r\nConnection: close\r\n\r\n" + text;
  if (!connections_.Refuse(conn, answer, only_reading)) return;
  const std::string method_label = MethodLabel(method);
  log_.Warn(
      "api.error",
      {{"method", method_label}, {"route", route}, {"status", status}, {"code", code}, {"message", message}});
  metrics_.ObserveRequest(method_label, route, status, 0);
}

void Server::Sweep() {
  std::vector<ConnectionPtr> late = connections_.Sweep();  // to answer 408
  for (const ConnectionPtr& conn : late) {
    std::string what =
        connections_.PhaseOf(conn) == Phase::kHead ? "the request line and headers" : "the request body";
    const auto limit = what == "the request body" ? options_.body_timeout : options_.header_timeout;
    Refuse(conn, "", "unmatched", 408, "request_timeout",
           what + " did not arrive within " + std::to_string(limit.count()) + " ms", /*only_reading=*/true);
  }
}

bool Server::DecodeParams(const Router::Match& match, Request* request, Reply& reply) const {
  for (const auto& [name, raw] : match.raw_params) {
    std::optional<std::string> value = PercentDecode(raw, /*plus_is_space=*/false);
    if (!value || IsBadIdentifier(*value)) {
      reply.Error(400, "invalid_argument", "invalid " + name + " in the path: \"" + raw + "\"");
      return false;
    }
    request->params[name] = std::move(*value);
  }
  return true;
}

bool Server::DecodeQuery(const Http::Request& http, const Route& route, Request* request,
                         Reply& reply) const {
  const Http::Uri::Query& query = http.query();
  for (auto it = query.parameters_begin(); it != query.parameters_end(); ++it) {
    std::optional<std::string> name = PercentDecode(it->first, true);
    std::optional<std::string> value = PercentDecode(it->second, true);
    if (!name || !value) {
      reply.Error(400, "invalid_argument", "malformed query string");
      return false;
    }
    if (!route.query.count(*name)) {
      reply.Error(400, "invalid_argument", "unknown query parameter \"" + *name + "\" for " + route.pattern);
      return false;
    }
    if (HasControlChar(*value)) {
      reply.Error(400, "invalid_argument", "query parameter " + *name + " holds a control character");
      return false;
    }
    request->query[*name] = std::move(*value);
  }
  return true;
}

// JSON bodies: size, media type, syntax, an object; routes without a body
// accept none or an empty object, so that a field meant for them is never
// silently ignored.
bool Server::ReadBody(const Http::Request& http, const Route& route, Request* request, Reply& reply) const {
  const std::string& body = http.body();
  const int64_t limit = (route.flags & kWebhook) ? options_.webhook_max_body_bytes : options_.max_body_bytes;
  if (body.size() > static_cast<size_t>(limit)) {
    reply.Error(413, "payload_too_large",
                "the request body has " + std::to_string(body.size()) + " bytes; the limit is " +
                    std::to_string(limit));
    return false;
  }
  if (route.flags & kWebhook) {  // bytes as signed, and the headers the forge sent
    for (const auto& [name, raw] : http.headers().rawList()) request->headers[Lower(name)] = raw.value();
    request->body = body;
    return true;
  }
  if (auto content_type = http.headers().tryGetRaw("Content-Type"))
    request->content_type = content_type->value();
  if (route.flags & kRawBody) {  // bytes as sent, whatever the Content-Type claims
    request->body = body;
    return true;
  }
  const bool wants_object = route.flags & kJsonBody;
  if (body.empty()) {
    if (!wants_object) return true;
    reply.Error(400, "invalid_argument", "the request body must be a JSON object");
    return false;
  }
  auto content_type = http.headers().tryGetRaw("Content-Type");
  if (!content_type || MediaTypeOf(content_type->value()) != "application/json") {
    reply.Error(415, "unsupported_media_type",
                "the request body must be JSON (Content-Type: application/json)");
    return false;
  }
  try {
    request->object = json::parse(body);
  } catch (const json::exception& e) {
    // what() starts with "[json.exception.parse_error.101] ": noise to a client.
    std::string what = e.what();
    if (size_t end = what.find("] "); what.starts_with("[") && end != std::string::npos)
      what.erase(0, end + 2);
    reply.Error(400, "invalid_argument", "malformed JSON: " + what);
    return false;
  }
  if (!request->object.is_object()) {
    reply.Error(400, "invalid_argument", "the request body must be a JSON object");
    return false;
  }
  if (!wants_object && !request->object.empty()) {
    reply.Error(
        400, "invalid_argument",
        "unknown field \"" + request->object.begin().key() + "\": " + route.pattern + " takes no body");
    return false;
  }
  request->body = body;
  return true;
}

}  // namespace slipway::daemon::api

namespace slipway::daemon {

ApiServer::ApiServer(ApiServerOptions options, ContainerService& containers, ImageService& images,
                     pipelines::RepoRegistry& repos, pipelines::RunService& runs, pipelines::RunStore& store,
                     Metrics& metrics, EventLog& log, DaemonInfo info)
    : server_(std::make_unique<api::Server>(std::move(options), containers, images, repos, runs, store,
                                            metrics, log, std::move(info))) {}

ApiServer::~ApiServer() = default;

Status ApiServer::Start() {
  return server_->Start();
}

int ApiServer::port() const {
  return server_->port();
}

void ApiServer::SetDraining() {
  server_->SetDraining();
}

void ApiServer::Shutdown() {
  server_->Shutdown();
}

}  // namespace slipway::daemon
