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
// - Its own request reading is not fit to face a network: it reserves
//   Content-Length bytes before reading any (std::bad_alloc, a plain-text
//   500), rescans an incomplete request line from its start at every read
//   (quadratic: a 10 MB body without a line break costs it minutes of CPU),
//   answers its errors in plain text, and has no limit on connections or
//   time to an idle one. HttpHandler therefore overrides onConnection and
//   onInput (virtual in Tcp::Handler, so an override replaces them): it
//   checks each request's framing first (request_head.h), keeps the
//   connection table (limits, timeouts), and feeds Pistache's own parser
//   only a head already whole and a body of a length already accepted.
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
//   therefore written directly (Server::Refuse).
// - Neither the path nor query values are percent-decoded; typed headers are
//   parsed, and raw copies kept (tryGetRaw).
#include "service/daemon/api_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <list>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "engine/base/ascii.h"
#include "engine/base/url.h"
#include "service/daemon/api_routes.h"
#include "service/daemon/request_head.h"
#include "service/daemon/token.h"

namespace slipway::daemon::api {

namespace {

using namespace Pistache;
using Clock = std::chrono::steady_clock;

// How long one request may take, streams included (see the file comment).
// Pistache's own timeouts are set to this; ours (header, body, idle) are
// kept by the connection table.
constexpr auto kLongestRequest = std::chrono::hours(24);
// How long a refused request's connection is still read (and what comes
// dropped) after the answer went out, before it is closed: closing with
// unread data sends a reset, which can destroy the answer before the client
// read it (Apache's and nginx's "lingering close").
constexpr auto kLinger = std::chrono::seconds(2);
// Connections the kernel completes before slipwayd accepts them (capped by
// net.core.somaxconn).
constexpr int kListenBacklog = 4096;
// How often timeouts are checked.
constexpr auto kSweepEvery = std::chrono::milliseconds(100);
// The key of a connection's record in Pistache's per-peer data.
constexpr char kConnectionData[] = "slipway.connection";
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
    case 501: return "Not Implemented";
    default: return "Error";
  }
}

// The API error code for a status Pistache's parser raised.
const char* ApiCodeOfStatus(int status) {
  switch (status) {
    case 413: return "payload_too_large";
    case 415: return "unsupported_media_type";
    case 501: return "not_implemented";
    default: return "invalid_argument";
  }
}

bool NeedsToken(std::string_view path) {
  return path == "/api/v1" || path.starts_with("/api/v1/");
}

}  // namespace

// --- Connections ---

// Where a connection's current request is.
enum class Phase {
  kHead,       // reading a request line and headers (header_timeout)
  kBody,       // reading a body (body_timeout)
  kAnswering,  // a request of it is being answered (no timeout)
  kIdle,       // kept alive between requests (idle_timeout)
  kLinger,     // refused: dropping input until closed (kLinger)
};

// One accepted connection.
struct Connection {
  Connection(std::weak_ptr<Tcp::Peer> p, int f, Clock::time_point now)
      : peer(std::move(p)), fd(f), since(now) {}

  const std::weak_ptr<Tcp::Peer> peer;
  const int fd;

  // The reactor thread's own (HttpHandler::onInput).
  std::string head;        // the current request's head, as far as it came
  size_t scanned = 0;      // how far `head` was searched for its end
  uint64_t body_left = 0;  // body bytes still to come

  // Guarded by Server::conns_mu_.
  Phase phase = Phase::kHead;
  Clock::time_point since;  // when the phase began; kLinger: when it ends
  bool started = false;     // a byte of the current request arrived
  int answering = 0;        // replies of it not yet finished
  bool open = true;         // false once Pistache dropped it (its fd may be reused)
  bool closing = false;     // shut down by us, or gone
  bool quiet = false;       // in Server::quiet_ (then `pos` is valid)
  std::list<std::shared_ptr<Connection>>::iterator pos;
};

using ConnectionPtr = std::shared_ptr<Connection>;

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

  // Every request, whole, on a Pistache reactor thread.
  void Handle(const Http::Request& request, Http::ResponseWriter writer, const ConnectionPtr& conn);

  // The connection table; see the file comment of api_server.h.
  // A new connection: its record, or null if it was refused (shut down)
  // because max_connections are open and none is quiet.
  ConnectionPtr Accept(const std::shared_ptr<Tcp::Peer>& peer);
  // Pistache dropped the connection.
  void Closed(const ConnectionPtr& conn);
  // Bytes arrived: false if they are to be dropped (lingering, closing).
  bool Input(const ConnectionPtr& conn);
  // The head is in; the body is next.
  void StartBody(const ConnectionPtr& conn);
  // A whole request is about to be answered: false if it must not be (the
  // connection was refused or closed meanwhile).
  bool BeginAnswer(const ConnectionPtr& conn);
  // Its reply is done.
  void EndAnswer(const ConnectionPtr& conn);
  // Answers with a JSON error and closes the connection (lingering).
  // `only_reading`: unless a request of it is being answered meanwhile.
  void Refuse(const ConnectionPtr& conn, std::string_view method, std::string_view route, int status,
              std::string_view code, std::string_view message, bool only_reading = false);
  // Whether the request may be served: /api/v1/ needs the token.
  bool Admitted(const Http::Request& http) const;
  // Whether it carries the control token.
  bool Authorized(const Http::Request& http) const;

  const ApiServerOptions& options() const { return options_; }

  bool stopping() const { return stopping_.load(); }
  Metrics& metrics() { return metrics_; }
  EventLog& log() { return log_; }
  // Writes handed to Pistache and not yet written (or failed), all replies
  // together: Shutdown() lets them drain before it stops the reactors.
  void WriteQueued() { unwritten_.fetch_add(1); }
  void WriteDone() { unwritten_.fetch_sub(1); }

 private:
  void AddServiceRoutes();
  void Dispatch(const Http::Request& http, const Router::Match& match, bool admitted, PistacheReply& reply,
                const ReplyPtr& shared);
  void CloseLocked(const ConnectionPtr& conn, const char* reason);
  void Sweep();
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

  // The connection table.
  std::mutex conns_mu_;
  // Connections with no reply in progress, least recently active first:
  // what timeouts apply to, and what is closed to make room.
  std::list<ConnectionPtr> quiet_;
  int open_ = 0;             // accepted, not closing
  int max_connections_ = 0;  // options_.max_connections, or lower (Start)
  bool sweeper_stop_ = false;
  std::condition_variable sweeper_cv_;
  std::thread sweeper_;
};

// --- PistacheReply ---

// A Reply on a Pistache connection. Whole answers go through Pistache's
// ResponseWriter; chunked ones are written by hand through Peer::send (see
// the file comment). The peer is held weakly and locked per write: once the
// client has gone, the reactor drops the peer and writing stops.
class PistacheReply final : public Reply {
 public:
  PistacheReply(Http::ResponseWriter writer, RequestInfo info, Server& server, ConnectionPtr conn)
      : writer_(std::move(writer)),
        peer_(writer_.getPeer()),
        info_(std::move(info)),
        server_(server),
        conn_(std::move(conn)) {}
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
  const ConnectionPtr conn_;

  std::mutex mu_;  // one writer at a time: chunks never interleave
  State state_ = State::kNew;
  std::shared_ptr<Unsent> unsent_ = std::make_shared<Unsent>();
};

PistacheReply::~PistacheReply() {
  {
    std::lock_guard lock(mu_);
    if (state_ == State::kStreaming) {
      EndLocked();
    } else if (state_ == State::kNew) {
      // A handler that dropped its reply: answer anyway, so the client does not hang.
      if (Gone()) {
        state_ = State::kDone;
        Finish(kClientGone);
      } else {
        Status status = server_.stopping() ? Status(Code::kUnavailable, "slipwayd is shutting down")
                                           : Internal("the request ended without an answer");
        OnError(HttpStatusOf(status.code()), ApiCodeOf(status.code()), status.message());
        SendLocked(HttpStatusOf(status.code()), kJson, Dump(ErrorJson(status)));
      }
    }
  }
  server_.EndAnswer(conn_);
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
// the server. It replaces Http::Handler's reading of requests (see the file
// comment); a connection's input always arrives on the same reactor thread.
class HttpHandler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(HttpHandler)
  explicit HttpHandler(Server* server) : server_(server) {}

  // Never called: onInput hands whole requests to the server itself.
  void onRequest(const Http::Request&, Http::ResponseWriter) override {}

  void onConnection(const std::shared_ptr<Tcp::Peer>& peer) override;
  void onInput(const char* buffer, size_t len, const std::shared_ptr<Tcp::Peer>& peer) override;
  void onDisconnection(const std::shared_ptr<Tcp::Peer>& peer) override;

 private:
  // The head in conn.head is whole and its framing accepted: Pistache parses
  // it. False if the request was refused.
  bool ParseHead(const ConnectionPtr& conn, const RequestHead& head, Http::RequestParser& parser);
  // Parses what Pistache was fed and answers the request. False if it was
  // refused.
  bool Complete(const ConnectionPtr& conn, const std::shared_ptr<Tcp::Peer>& peer,
                Http::RequestParser& parser);
  // Pistache's parser threw: a JSON error instead of its plain text.
  void RefuseParse(const ConnectionPtr& conn, Http::RequestParser& parser, std::exception_ptr error);

  Server* server_;
};

void HttpHandler::onConnection(const std::shared_ptr<Tcp::Peer>& peer) {
  // What Http::Handler::onConnection does, which this replaces.
  peer->putData(ParserData, std::make_shared<Http::RequestParser>(getMaxRequestSize()));
  if (ConnectionPtr conn = server_->Accept(peer)) peer->putData(kConnectionData, conn);
}

void HttpHandler::onDisconnection(const std::shared_ptr<Tcp::Peer>& peer) {
  if (auto conn = std::static_pointer_cast<Connection>(peer->tryGetData(kConnectionData))) {
    server_->Closed(conn);
  }
}

void HttpHandler::onInput(const char* buffer, size_t len, const std::shared_ptr<Tcp::Peer>& peer) {
  auto conn = std::static_pointer_cast<Connection>(peer->tryGetData(kConnectionData));
  if (!conn || !server_->Input(conn)) return;  // refused at accept, lingering or closing: dropped
  std::shared_ptr<Http::RequestParser> parser = getParser(peer);
  const ApiServerOptions& options = server_->options();
  std::string pending(buffer, len);
  size_t at = 0;
  while (at < pending.size()) {
    if (conn->body_left > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(conn->body_left, pending.size() - at));
      // The parser holds max_head_bytes + max_body_bytes: this cannot overflow it.
      if (!parser->feed(pending.data() + at, n)) {
        return server_->Refuse(conn, Http::methodString(parser->request.method()), "unmatched", 413,
                               "payload_too_large", "the request does not fit the parser");
      }
      at += n;
      conn->body_left -= n;
      if (conn->body_left == 0 && !Complete(conn, peer, *parser)) return;
      continue;
    }
    conn->head.append(pending, at, std::string::npos);
    RequestHead head =
        ScanRequestHead(conn->head, &conn->scanned, static_cast<size_t>(options.max_head_bytes),
                        static_cast<uint64_t>(options.max_body_bytes));
    if (head.verdict == RequestHead::Verdict::kIncomplete) return;
    if (head.verdict == RequestHead::Verdict::kRefused) {
      return server_->Refuse(conn, head.method, "unmatched", head.status, head.code, head.message);
    }
    // What came after the head: its body, or the next request.
    pending = conn->head.substr(head.head_bytes);
    at = 0;
    conn->head.resize(head.head_bytes);
    if (!ParseHead(conn, head, *parser)) return;
    if (head.body_bytes == 0) {
      if (!Complete(conn, peer, *parser)) return;
      continue;
    }
    // Not even the body of a request without the token is read: the routes
    // that need no token (/healthz, /metrics) take no body, so a client
    // without the token never makes slipwayd hold more than a head.
    if (!server_->Authorized(parser->request)) {
      const std::string method = Http::methodString(parser->request.method());
      if (!server_->Admitted(parser->request)) {
        return server_->Refuse(conn, method, "unauthenticated", 401, "unauthenticated",
                               "missing or wrong control token (Authorization: Bearer TOKEN)");
      }
      return server_->Refuse(conn, method, "unmatched", 400, "invalid_argument",
                             "only requests with the control token may carry a body");
    }
    conn->body_left = head.body_bytes;
    server_->StartBody(conn);
  }
}

bool HttpHandler::ParseHead(const ConnectionPtr& conn, const RequestHead& head, Http::RequestParser& parser) {
  std::string bytes = std::move(conn->head);
  conn->head.clear();
  conn->scanned = 0;
  try {
    parser.feed(bytes.data(), bytes.size());
    parser.parse();
  } catch (...) {
    RefuseParse(conn, parser, std::current_exception());
    return false;
  }
  // Pistache must frame the request as request_head.cc did, or the two
  // would disagree on where the next request starts.
  auto length = parser.request.headers().tryGet<Http::Header::ContentLength>();
  if ((length ? length->value() : 0) != head.body_bytes) {
    server_->Refuse(conn, head.method, "unmatched", 400, "invalid_argument", "unreadable Content-Length");
    return false;
  }
  return true;
}

bool HttpHandler::Complete(const ConnectionPtr& conn, const std::shared_ptr<Tcp::Peer>& peer,
                           Http::RequestParser& parser) {
  Http::Private::State state;
  try {
    state = parser.parse();
  } catch (...) {
    RefuseParse(conn, parser, std::current_exception());
    return false;
  }
  const Http::Request& request = parser.request;
  if (state != Http::Private::State::Done) {
    server_->Refuse(conn, Http::methodString(request.method()), "unmatched", 400, "invalid_argument",
                    "malformed request");
    return false;
  }
  if (!server_->BeginAnswer(conn)) return false;
  // What Http::Handler::onInput does with a whole request.
  Http::ResponseWriter response(request.version(), transport(), this, peer);
  auto connection = request.headers().tryGet<Http::Header::Connection>();
  response.headers().add<Http::Header::Connection>(connection ? connection->control()
                                                              : Http::ConnectionControl::Close);
  peer->setIdle(false);
  server_->Handle(request, std::move(response), conn);
  parser.reset();
  return true;
}

void HttpHandler::RefuseParse(const ConnectionPtr& conn, Http::RequestParser& parser,
                              std::exception_ptr error) {
  const std::string method = Http::methodString(parser.request.method());
  try {
    std::rethrow_exception(error);
  } catch (const Http::HttpError& e) {
    server_->Refuse(conn, method, "unmatched", e.code(), ApiCodeOfStatus(e.code()),
                    "malformed request: " + e.reason());
  } catch (const std::exception& e) {
    server_->Refuse(conn, method, "unmatched", 400, "invalid_argument",
                    std::string("malformed request: ") + e.what());
  }
}

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
  if (options_.max_head_bytes < 1024 || options_.max_head_bytes > (int64_t{1} << 30))
    return InvalidArgument("api_max_head_bytes must be 1k to 1g");
  if (options_.max_connections < 1) return InvalidArgument("api_max_connections must be at least 1");
  if (options_.header_timeout.count() <= 0 || options_.body_timeout.count() <= 0 ||
      options_.idle_timeout.count() <= 0)
    return InvalidArgument("api timeouts must be positive");
  if (options_.port < 0 || options_.port > 65535) return InvalidArgument("port must be 0 to 65535");
  max_connections_ = options_.max_connections;
  if (rlimit limit{}; getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    // The other half is for the database, images, logs and monitors.
    max_connections_ =
        static_cast<int>(std::min<rlim_t>(max_connections_, std::max<rlim_t>(limit.rlim_cur / 2, 1)));
  }
  const bool ipv6 = options_.host.find(':') != std::string::npos;
  const std::string address =
      (ipv6 ? "[" + options_.host + "]" : options_.host) + ":" + std::to_string(options_.port);
  // HttpHandler feeds Pistache's parser one head and one body at most.
  const size_t max_request = static_cast<size_t>(options_.max_body_bytes + options_.max_head_bytes) + 1024;
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
    std::unique_lock lock(conns_mu_);
    while (!sweeper_stop_) {
      sweeper_cv_.wait_for(lock, kSweepEvery);
      if (sweeper_stop_) break;
      lock.unlock();
      Sweep();
      lock.lock();
    }
  });
  log_.Info("api.listening", {{"address", address},
                              {"port", port()},
                              {"threads", options_.threads},
                              {"max_connections", max_connections_}});
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
      std::lock_guard conns_lock(conns_mu_);
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

void Server::Handle(const Http::Request& http, Http::ResponseWriter writer, const ConnectionPtr& conn) {
  RequestInfo info;
  info.start = Clock::now();
  info.method = Http::methodString(http.method());
  info.path = http.resource();
  Router::Match match = router_.Find(info.method, info.path);
  // Without the token, not even the metrics tell which routes exist.
  const bool admitted = Admitted(http);
  if (!admitted) {
    info.route = "unauthenticated";
  } else if (!match.pattern.empty()) {
    info.route = match.pattern;
  }
  auto reply = std::make_shared<PistacheReply>(std::move(writer), std::move(info), *this, conn);
  try {
    Dispatch(http, match, admitted, *reply, reply);
  } catch (const std::exception& e) {
    reply->Error(500, "internal", std::string("unexpected error: ") + e.what());
  }
}

void Server::Dispatch(const Http::Request& http, const Router::Match& match, bool admitted,
                      PistacheReply& reply, const ReplyPtr& shared) {
  const std::string& path = http.resource();
  const std::string method = Http::methodString(http.method());
  // The token is checked before routing: without it, not even which routes
  // exist is told.
  if (!admitted) {
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

bool Server::Admitted(const Http::Request& http) const {
  return !NeedsToken(http.resource()) || Authorized(http);
}

// --- Server: the connection table ---

ConnectionPtr Server::Accept(const std::shared_ptr<Tcp::Peer>& peer) {
  std::lock_guard lock(conns_mu_);
  if (open_ >= max_connections_) {
    if (quiet_.empty()) {
      // Every connection is being answered: this one cannot be served.
      ::shutdown(peer->fd(), SHUT_RDWR);
      metrics_.api_connections_closed.Inc({"over_limit"});
      return nullptr;
    }
    ConnectionPtr victim = quiet_.front();
    CloseLocked(victim, "evicted");
  }
  auto conn = std::make_shared<Connection>(peer, peer->fd(), Clock::now());
  conn->pos = quiet_.insert(quiet_.end(), conn);
  conn->quiet = true;
  ++open_;
  metrics_.api_connections.Set(open_);
  return conn;
}

void Server::CloseLocked(const ConnectionPtr& conn, const char* reason) {
  if (conn->closing) return;
  conn->closing = true;
  --open_;
  metrics_.api_connections.Set(open_);
  if (conn->quiet) {
    conn->quiet = false;
    quiet_.erase(conn->pos);
  }
  // The reactor sees the end of input and drops the peer.
  if (conn->open) ::shutdown(conn->fd, SHUT_RDWR);
  metrics_.api_connections_closed.Inc({reason});
}

void Server::Closed(const ConnectionPtr& conn) {
  std::lock_guard lock(conns_mu_);
  if (!conn->closing) {
    conn->closing = true;
    --open_;
    metrics_.api_connections.Set(open_);
  }
  conn->open = false;
  if (conn->quiet) {
    conn->quiet = false;
    quiet_.erase(conn->pos);
  }
}

bool Server::Input(const ConnectionPtr& conn) {
  std::lock_guard lock(conns_mu_);
  if (conn->closing || conn->phase == Phase::kLinger) return false;
  if (conn->phase == Phase::kIdle || conn->phase == Phase::kAnswering) {
    conn->phase = Phase::kHead;  // the first byte of the next request
    conn->since = Clock::now();
  }
  conn->started = true;
  if (conn->quiet) quiet_.splice(quiet_.end(), quiet_, conn->pos);  // most recently active
  return true;
}

void Server::StartBody(const ConnectionPtr& conn) {
  std::lock_guard lock(conns_mu_);
  if (conn->phase != Phase::kHead) return;
  conn->phase = Phase::kBody;
  conn->since = Clock::now();
}

bool Server::BeginAnswer(const ConnectionPtr& conn) {
  std::lock_guard lock(conns_mu_);
  if (conn->closing || conn->phase == Phase::kLinger) return false;
  ++conn->answering;
  conn->phase = Phase::kAnswering;
  if (conn->quiet) {
    conn->quiet = false;
    quiet_.erase(conn->pos);
  }
  return true;
}

void Server::EndAnswer(const ConnectionPtr& conn) {
  if (!conn) return;
  std::lock_guard lock(conns_mu_);
  if (--conn->answering > 0) return;
  if (conn->phase == Phase::kAnswering) {
    conn->phase = Phase::kIdle;
    conn->since = Clock::now();
  }
  if (!conn->closing && !conn->quiet) {
    conn->pos = quiet_.insert(quiet_.end(), conn);
    conn->quiet = true;
  }
}

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
  {
    std::lock_guard lock(conns_mu_);
    if (conn->closing || conn->phase == Phase::kLinger) return;
    if (only_reading && conn->phase != Phase::kHead && conn->phase != Phase::kBody) return;
    conn->phase = Phase::kLinger;
    conn->since = Clock::now() + kLinger;
    // A refused connection is the first to go when room is needed.
    if (conn->quiet) quiet_.splice(quiet_.begin(), quiet_, conn->pos);
    // Written here rather than through Pistache's write queue: its reactor
    // handles an event that is both readable and writable as readable only,
    // so a queued answer to a client still sending its body is never
    // written (the client waits forever). The answer is small, so the
    // socket takes it whole. An earlier answer still queued for the same
    // client (one that sent junk after a request without reading) is lost:
    // that client is being cut off. Transport::flush() would write it
    // first, but it drains other connections' queues too, and a writable
    // event for one of those later in the same epoll batch then finds no
    // data and throws in the reactor. Then nothing more is sent; what
    // comes is read and dropped until kLinger has passed. While an earlier
    // request is still being answered (a client sending its next request
    // early), no refusal is written, so as not to cut into that answer: the
    // connection is closed once kLinger has passed.
    if (conn->open && conn->answering == 0) {
      (void)::send(conn->fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::shutdown(conn->fd, SHUT_WR);
    }
  }
  const std::string method_label = MethodLabel(method);
  log_.Warn(
      "api.error",
      {{"method", method_label}, {"route", route}, {"status", status}, {"code", code}, {"message", message}});
  metrics_.ObserveRequest(method_label, route, status, 0);
}

void Server::Sweep() {
  std::vector<ConnectionPtr> late;  // to answer 408
  {
    std::lock_guard lock(conns_mu_);
    const auto now = Clock::now();
    for (auto it = quiet_.begin(); it != quiet_.end();) {
      ConnectionPtr conn = *it++;  // CloseLocked erases it
      switch (conn->phase) {
        case Phase::kHead:
          if (now - conn->since < options_.header_timeout) break;
          // A connection that never said anything is closed without a word.
          if (conn->started) {
            late.push_back(conn);
          } else {
            CloseLocked(conn, "idle");
          }
          break;
        case Phase::kBody:
          if (now - conn->since >= options_.body_timeout) late.push_back(conn);
          break;
        case Phase::kIdle:
          if (now - conn->since >= options_.idle_timeout) CloseLocked(conn, "idle");
          break;
        case Phase::kLinger:
          if (now >= conn->since) CloseLocked(conn, "refused");
          break;
        case Phase::kAnswering: break;
      }
    }
  }
  for (const ConnectionPtr& conn : late) {
    std::string what;
    {
      std::lock_guard lock(conns_mu_);
      what = conn->phase == Phase::kHead ? "the request line and headers" : "the request body";
    }
    const auto limit = what == "the request body" ? options_.body_timeout : options_.header_timeout;
    Refuse(conn, "", "unmatched", 408, "request_timeout",
           what + " did not arrive within " + std::to_string(limit.count()) + " ms", /*only_reading=*/true);
  }
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
