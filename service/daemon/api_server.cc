// The HTTP side of the API: Pistache, routing, authentication, request
// checks, metrics and the request log. Route handlers live in
// container_routes.cc and image_routes.cc.
//
// Pistache 0.0.5 facts this file is built around (checked against the
// library, not assumed):
// - A request that is not answered within the header timeout (default 60 s)
//   gets a 408 written into its connection, and the connection closed, even
//   while a handler is still working on it or streaming the answer; a
//   keep-alive connection whose answer was sent late is closed the same way
//   by the keep-alive timeout, possibly before the answer left. All three
//   timeouts are therefore set to kLongestRequest.
// - ResponseStream::flush() drains the transport's write queue on the
//   calling thread, racing with the reactor that owns it. Streams are
//   therefore written as raw chunked HTTP through Peer::send(), which only
//   enqueues (the queue is thread-safe; the reactor writes).
// - maxRequestSize bounds the whole request (line, headers and body), and
//   when it is exceeded Pistache answers 413 itself, in plain text.
// - Neither the path nor query values are percent-decoded; typed headers are
//   parsed, and raw copies kept (tryGetRaw).
#include "service/daemon/api_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "engine/base/ascii.h"
#include "engine/base/url.h"
#include "service/daemon/api_routes.h"
#include "service/daemon/token.h"

namespace slipway::daemon::api {

namespace {

using namespace Pistache;
using Clock = std::chrono::steady_clock;

// How long one request may take, streams included (see the file comment).
constexpr auto kLongestRequest = std::chrono::hours(24);
// Request line and headers, on top of max_body_bytes. Bodies up to twice the
// limit are read and refused with a JSON 413; larger ones get Pistache's.
constexpr size_t kHeaderAllowance = 64 << 10;
// Unsent stream bytes a writer may have queued before it waits.
constexpr size_t kMaxUnsent = 1 << 20;
constexpr auto kUnsentSlice = std::chrono::milliseconds(100);
// How long Shutdown() lets the reactors deliver the last answers.
constexpr auto kFlushGrace = std::chrono::seconds(1);
// Requests running on threads of their own at once (waits, streams, pulls).
constexpr size_t kMaxWorkers = 1024;
// Status code recorded for a request whose client went away unanswered.
constexpr int kClientGone = 499;

// "application/json; charset=utf-8" -> "application/json".
std::string MediaTypeOf(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  return Lower(type);
}

std::optional<Http::Method> MethodOf(const std::string& name) {
  static const std::pair<const char*, Http::Method> kMethods[] = {
      {"GET", Http::Method::Get}, {"POST", Http::Method::Post},   {"DELETE", Http::Method::Delete},
      {"PUT", Http::Method::Put}, {"PATCH", Http::Method::Patch}, {"HEAD", Http::Method::Head},
  };
  for (const auto& [n, m] : kMethods) {
    if (name == n) return m;
  }
  return std::nullopt;
}

bool IsBadIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 256) return true;
  if (s.find('/') != std::string_view::npos || s.find("..") != std::string_view::npos) return true;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

std::string HexSize(size_t n) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%zx", n);
  return buf;
}

}  // namespace

// What the request log and the metrics say about a request.
struct RequestInfo {
  std::string method;
  std::string route = "unmatched";  // a template, never a raw path
  std::string path;
  Clock::time_point start;
};

class PistacheReply;

// ApiServer's implementation.
class Server {
 public:
  Server(ApiServerOptions options, ContainerService& containers, ImageService& images, Metrics& metrics,
         EventLog& log, DaemonInfo info);
  ~Server();

  Status Start();
  int port() const;
  void SetDraining() { draining_ = true; }
  void Shutdown();

  // Every request, on a Pistache reactor thread.
  void Handle(const Http::Request& request, Http::ResponseWriter writer);

  bool stopping() const { return stopping_.load(); }
  Metrics& metrics() { return metrics_; }
  EventLog& log() { return log_; }
  // Writes handed to Pistache and not yet written (or failed), all replies
  // together: Shutdown() lets them drain before it stops the reactors.
  void WriteQueued() { unwritten_.fetch_add(1); }
  void WriteDone() { unwritten_.fetch_sub(1); }

 private:
  void AddServiceRoutes();
  void Dispatch(const Http::Request& http, const Router::Match& match, PistacheReply& reply,
                const ReplyPtr& shared);
  bool Authorized(const Http::Request& http) const;
  bool DecodeParams(const Router::Match& match, Request* request, Reply& reply) const;
  bool DecodeQuery(const Http::Request& http, const Route& route, Request* request, Reply& reply) const;
  bool ReadBody(const Http::Request& http, const Route& route, Request* request, Reply& reply) const;

  const ApiServerOptions options_;
  ContainerService& containers_;
  ImageService& images_;
  Metrics& metrics_;
  EventLog& log_;
  const DaemonInfo info_;

  std::atomic<bool> draining_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> unwritten_{0};
  Workers workers_;
  Context context_;
  Router router_;

  std::mutex lifecycle_mu_;  // Start and Shutdown
  bool shut_down_ = false;
  std::unique_ptr<Http::Endpoint> endpoint_;
};

// --- PistacheReply ---

// A Reply on a Pistache connection. Whole answers go through Pistache's
// ResponseWriter; chunked ones are written by hand through Peer::send (see
// the file comment). The peer is held weakly and locked per write: once the
// client has gone, the reactor drops the peer and writing stops.
class PistacheReply final : public Reply {
 public:
  PistacheReply(Http::ResponseWriter writer, RequestInfo info, Server& server)
      : writer_(std::move(writer)), peer_(writer_.getPeer()), info_(std::move(info)), server_(server) {}
  ~PistacheReply() override;

  void Send(int status, std::string_view content_type, std::string body) override;
  bool Begin(int status, std::string_view content_type) override;
  bool Write(std::string_view data) override;
  void End() override;
  bool Gone() const override { return peer_.expired(); }

  // For 405: the methods the path has.
  void SetAllow(const std::vector<std::string>& methods);

 protected:
  void OnError(int http_status, std::string_view code, std::string_view message) override;

 private:
  enum class State { kNew, kStreaming, kDone };
  struct Unsent {
    std::mutex mu;
    std::condition_variable cv;
    size_t bytes = 0;
  };

  void SendLocked(int status, std::string_view content_type, std::string body);
  void EndLocked();
  bool Enqueue(std::string bytes);
  bool AwaitRoom();
  void Finish(int status);

  Http::ResponseWriter writer_;
  std::weak_ptr<Tcp::Peer> peer_;
  const RequestInfo info_;
  Server& server_;

  std::mutex mu_;  // one writer at a time: chunks never interleave
  State state_ = State::kNew;
  std::shared_ptr<Unsent> unsent_ = std::make_shared<Unsent>();
};

PistacheReply::~PistacheReply() {
  std::lock_guard lock(mu_);
  if (state_ == State::kStreaming) {
    EndLocked();
  } else if (state_ == State::kNew) {
    // A handler that dropped its reply: answer anyway, so the client does not hang.
    if (Gone()) {
      state_ = State::kDone;
      Finish(kClientGone);
      return;
    }
    Status status = server_.stopping() ? Status(Code::kUnavailable, "slipwayd is shutting down")
                                       : Internal("the request ended without an answer");
    OnError(HttpStatusOf(status.code()), ApiCodeOf(status.code()), status.message());
    SendLocked(HttpStatusOf(status.code()), kJson, Dump(ErrorJson(status)));
  }
}

void PistacheReply::Send(int status, std::string_view content_type, std::string body) {
  std::lock_guard lock(mu_);
  if (state_ != State::kNew) return;
  SendLocked(status, content_type, std::move(body));
}

void PistacheReply::SendLocked(int status, std::string_view content_type, std::string body) {
  state_ = State::kDone;
  try {
    if (!content_type.empty()) {
      writer_.headers().add<Http::Header::ContentType>(Http::Mime::MediaType(std::string(content_type)));
    }
    server_.WriteQueued();
    Server* server = &server_;
    writer_.send(static_cast<Http::Code>(status), body)
        .then([server](ssize_t) { server->WriteDone(); },
              [server](std::exception_ptr) { server->WriteDone(); });
  } catch (const std::exception& e) {
    server_.log().Warn("api.send_failed", {{"path", info_.path}, {"what", e.what()}});
  }
  Finish(Gone() ? kClientGone : status);
}

bool PistacheReply::Begin(int status, std::string_view content_type) {
  std::lock_guard lock(mu_);
  if (state_ != State::kNew) return false;
  if (server_.stopping()) {
    Status st(Code::kUnavailable, "slipwayd is shutting down");
    OnError(503, ApiCodeOf(st.code()), st.message());
    SendLocked(503, kJson, Dump(ErrorJson(st)));
    return false;
  }
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " +
                     Http::codeString(static_cast<Http::Code>(status)) + "\r\nContent-Type: ";
  head.append(content_type);
  head.append("\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n");
  state_ = State::kStreaming;
  if (!Enqueue(std::move(head))) {
    state_ = State::kDone;
    Finish(kClientGone);
    return false;
  }
  Finish(status);  // the status is on its way; the duration is the time to the first byte
  return true;
}

bool PistacheReply::Write(std::string_view data) {
  std::lock_guard lock(mu_);
  if (state_ != State::kStreaming || server_.stopping()) return false;
  if (data.empty()) return true;  // an empty chunk would end the body
  if (!AwaitRoom()) return false;
  std::string chunk = HexSize(data.size());
  chunk.append("\r\n").append(data).append("\r\n");
  return Enqueue(std::move(chunk));
}

void PistacheReply::End() {
  std::lock_guard lock(mu_);
  if (state_ == State::kStreaming) EndLocked();
}

void PistacheReply::EndLocked() {
  state_ = State::kDone;
  (void)Enqueue("0\r\n\r\n");
}

// Waits while the client is slow to read what was queued for it.
bool PistacheReply::AwaitRoom() {
  std::unique_lock lock(unsent_->mu);
  while (unsent_->bytes > kMaxUnsent) {
    if (Gone() || server_.stopping()) return false;
    unsent_->cv.wait_for(lock, kUnsentSlice);
  }
  return true;
}

bool PistacheReply::Enqueue(std::string bytes) {
  std::shared_ptr<Tcp::Peer> peer = peer_.lock();
  if (!peer) return false;
  const size_t n = bytes.size();
  {
    std::lock_guard lock(unsent_->mu);
    unsent_->bytes += n;
  }
  // Written or failed, the bytes are no longer waiting. (A peer dropped with
  // writes queued resolves neither; AwaitRoom notices the peer is gone.)
  server_.WriteQueued();
  auto release = [unsent = unsent_, n, server = &server_] {
    server->WriteDone();
    std::lock_guard lock(unsent->mu);
    unsent->bytes -= std::min(n, unsent->bytes);
    unsent->cv.notify_all();
  };
  try {
    RawBuffer buffer(std::move(bytes), n);
    peer->send(buffer).then([release](ssize_t) { release(); }, [release](std::exception_ptr) { release(); });
  } catch (const std::exception&) {
    release();
    return false;
  }
  return true;
}

void PistacheReply::SetAllow(const std::vector<std::string>& methods) {
  std::vector<Http::Method> allowed;
  for (const std::string& m : methods) {
    if (auto method = MethodOf(m)) allowed.push_back(*method);
  }
  try {
    writer_.headers().add<Http::Header::Allow>(allowed);
  } catch (const std::exception&) {
    // The 405 goes out without Allow.
  }
}

void PistacheReply::OnError(int http_status, std::string_view code, std::string_view message) {
  server_.log().Warn("api.error", {{"method", info_.method},
                                   {"route", info_.route},
                                   {"path", info_.path},
                                   {"status", http_status},
                                   {"code", code},
                                   {"message", message}});
}

void PistacheReply::Finish(int status) {
  double seconds = std::chrono::duration<double>(Clock::now() - info_.start).count();
  server_.metrics().ObserveRequest(info_.method, info_.route, status, seconds);
  if (server_.log().Enabled(LogLevel::kDebug)) {
    server_.log().Debug("api.request", {{"method", info_.method},
                                        {"route", info_.route},
                                        {"path", info_.path},
                                        {"status", status},
                                        {"ms", seconds * 1000}});
  }
}

// --- Pistache's handler ---

// Pistache clones its handler for every reactor thread: it holds nothing but
// the server.
class HttpHandler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(HttpHandler)
  explicit HttpHandler(Server* server) : server_(server) {}

  void onRequest(const Http::Request& request, Http::ResponseWriter response) override {
    server_->Handle(request, std::move(response));
  }

 private:
  Server* server_;
};

// --- Server ---

Server::Server(ApiServerOptions options, ContainerService& containers, ImageService& images, Metrics& metrics,
               EventLog& log, DaemonInfo info)
    : options_(std::move(options)),
      containers_(containers),
      images_(images),
      metrics_(metrics),
      log_(log),
      info_(std::move(info)),
      workers_(kMaxWorkers, log),
      context_{containers, images, log, workers_, stopping_, info_} {
  AddServiceRoutes();
  AddContainerRoutes(router_, context_);
  AddImageRoutes(router_, context_);
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
  if (options_.port < 0 || options_.port > 65535) return InvalidArgument("port must be 0 to 65535");
  const bool ipv6 = options_.host.find(':') != std::string::npos;
  const std::string address =
      (ipv6 ? "[" + options_.host + "]" : options_.host) + ":" + std::to_string(options_.port);
  const size_t max_request = static_cast<size_t>(options_.max_body_bytes) * 2 + kHeaderAllowance;
  try {
    auto endpoint = std::make_unique<Http::Endpoint>(Address(address));
    endpoint->init(Http::Endpoint::options()
                       .threads(options_.threads)
                       .threadsName("slipway-api")
                       // NoDelay: replies and stream chunks are small writes; with
                       // Nagle each waits for the client's delayed ACK (40 ms).
                       .flags(Tcp::Options::ReuseAddr | Tcp::Options::NoDelay)
                       .maxRequestSize(max_request)
                       .headerTimeout(kLongestRequest)
                       .bodyTimeout(kLongestRequest)
                       .keepaliveTimeout(kLongestRequest));
    endpoint->setHandler(Http::make_handler<HttpHandler>(this));
    endpoint->serveThreaded();
    endpoint_ = std::move(endpoint);
  } catch (const std::invalid_argument& e) {
    return InvalidArgument("listen address " + address + ": " + e.what());
  } catch (const std::exception& e) {
    return Status(Code::kUnavailable, "listen on " + address + ": " + e.what());
  }
  log_.Info("api.listening", {{"address", address}, {"port", port()}, {"threads", options_.threads}});
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
  router_.Add("GET", "/metrics", kReadOnly, {}, [this](const Request&, ReplyPtr reply) {
    reply->Send(200, kMetricsContentType, metrics_.Render());
  });
  router_.Add("GET", "/api/v1/info", kReadOnly, {}, [this](const Request&, ReplyPtr reply) {
    json body;
    body["version"] = info_.version;
    body["data_dir"] = info_.data_dir;
    body["state_dir"] = info_.state_dir;
    body["cgroup_layout"] = info_.cgroup_layout;
    body["max_running"] = info_.max_running;
    body["running"] = containers_.running();
    body["queued"] = containers_.queued();
    reply->Json(200, body);
  });
}

void Server::Handle(const Http::Request& http, Http::ResponseWriter writer) {
  RequestInfo info;
  info.start = Clock::now();
  info.method = Http::methodString(http.method());
  info.path = http.resource();
  Router::Match match = router_.Find(info.method, info.path);
  if (!match.pattern.empty()) info.route = match.pattern;
  auto reply = std::make_shared<PistacheReply>(std::move(writer), std::move(info), *this);
  try {
    Dispatch(http, match, *reply, reply);
  } catch (const std::exception& e) {
    reply->Error(500, "internal", std::string("unexpected error: ") + e.what());
  }
}

void Server::Dispatch(const Http::Request& http, const Router::Match& match, PistacheReply& reply,
                      const ReplyPtr& shared) {
  const std::string& path = http.resource();
  const std::string method = Http::methodString(http.method());
  // The token is checked before routing: without it, not even which routes
  // exist is told.
  if ((path == "/api/v1" || path.starts_with("/api/v1/")) && !Authorized(http)) {
    return reply.Error(401, "unauthenticated",
                       "missing or wrong control token (Authorization: Bearer TOKEN)");
  }
  if (!match.route) {
    if (match.allowed.empty()) return reply.Error(404, "not_found", "no such route: " + method + " " + path);
    reply.SetAllow(match.allowed);
    return reply.Error(405, "method_not_allowed", method + " is not allowed on " + match.pattern);
  }
  const Route& route = *match.route;
  if ((route.flags & kMutating) && draining_) {
    return reply.Error(Status(Code::kUnavailable, "slipwayd is shutting down"));
  }
  Request request;
  request.method = method;
  request.route = route.pattern;
  if (!DecodeParams(match, &request, reply) || !DecodeQuery(http, route, &request, reply) ||
      !ReadBody(http, route, &request, reply)) {
    return;
  }
  if (auto accept = http.headers().tryGetRaw("Accept")) request.accept = accept->value();
  route.handler(request, shared);
}

bool Server::Authorized(const Http::Request& http) const {
  auto header = http.headers().tryGetRaw("Authorization");
  return header && TokenMatches(options_.token, header->value());
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
    for (unsigned char c : *value) {
      if (c < 0x20 || c == 0x7f) {
        reply.Error(400, "invalid_argument", "query parameter " + *name + " holds a control character");
        return false;
      }
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
  if (body.size() > static_cast<size_t>(options_.max_body_bytes)) {
    reply.Error(413, "payload_too_large",
                "the request body has " + std::to_string(body.size()) + " bytes; the limit is " +
                    std::to_string(options_.max_body_bytes));
    return false;
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
                     Metrics& metrics, EventLog& log, DaemonInfo info)
    : server_(std::make_unique<api::Server>(std::move(options), containers, images, metrics, log,
                                            std::move(info))) {}

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
