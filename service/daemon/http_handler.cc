// HttpHandler; the contract is in http_handler.h.
#include "service/daemon/http_handler.h"

#include <algorithm>
#include <string>
#include <utility>

#include "service/daemon/server.h"

namespace slipway::daemon::api {

namespace {

using namespace Pistache;

// The key of a connection's record in Pistache's per-peer data.
constexpr char kConnectionData[] = "slipway.connection";

// The API error code for a status Pistache's parser raised.
const char* ApiCodeOfStatus(int status) {
  switch (status) {
    case 413: return "payload_too_large";
    case 415: return "unsupported_media_type";
    case 501: return "not_implemented";
    default: return "invalid_argument";
  }
}

}  // namespace

void HttpHandler::onConnection(const std::shared_ptr<Tcp::Peer>& peer) {
  // What Http::Handler::onConnection does, which this replaces.
  peer->putData(ParserData, std::make_shared<Http::RequestParser>(getMaxRequestSize()));
  if (ConnectionPtr conn = server_->connections().Accept(peer->fd())) peer->putData(kConnectionData, conn);
}

void HttpHandler::onDisconnection(const std::shared_ptr<Tcp::Peer>& peer) {
  if (auto conn = std::static_pointer_cast<Connection>(peer->tryGetData(kConnectionData))) {
    server_->ReleaseUnverifiedBody(std::exchange(conn->unverified_body, 0));
    server_->connections().Closed(conn);
  }
}

void HttpHandler::onInput(const char* buffer, size_t len, const std::shared_ptr<Tcp::Peer>& peer) {
  auto conn = std::static_pointer_cast<Connection>(peer->tryGetData(kConnectionData));
  if (!conn || !server_->connections().Input(conn))
    return;  // refused at accept, lingering or closing: dropped
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
      if (conn->body_left == 0) {
        const bool completed = Complete(conn, peer, *parser);
        // Answered (webhook handlers run inline) or refused: the body's
        // share of the budget is free again.
        server_->ReleaseUnverifiedBody(std::exchange(conn->unverified_body, 0));
        if (!completed) return;
      }
      continue;
    }
    conn->head.append(pending, at, std::string::npos);
    // Framed against the largest limit of any route, then against the
    // limit of the path asked for (webhook deliveries may be larger).
    RequestHead head =
        ScanRequestHead(conn->head, &conn->scanned, static_cast<size_t>(options.max_head_bytes),
                        static_cast<uint64_t>(server_->MaxBodyLimit()));
    if (head.verdict == RequestHead::Verdict::kIncomplete) return;
    if (head.verdict == RequestHead::Verdict::kRefused) {
      return server_->Refuse(conn, head.method, "unmatched", head.status, head.code, head.message);
    }
    const std::string_view path = std::string_view(head.target).substr(0, head.target.find('?'));
    if (const int64_t limit = server_->BodyLimit(path); head.body_bytes > static_cast<uint64_t>(limit)) {
      return server_->Refuse(conn, head.method, "unmatched", 413, "payload_too_large",
                             "Content-Length " + std::to_string(head.body_bytes) + " is over the limit of " +
                                 std::to_string(limit) + " bytes");
    }
    // What came after the head: its body, or the next request.
    pending = conn->head.substr(head.head_bytes);
    at = 0;
    conn->head.resize(head.head_bytes);
    if (!ParseHead(conn, head, *parser)) return;
    // Who it is, once: the body's admission below and the handler both use it.
    conn->principal = server_->Resolve(parser->request);
    if (head.body_bytes == 0) {
      if (!Complete(conn, peer, *parser)) return;
      continue;
    }
    // Not even the body of a request without a credential that may change
    // something (the control token, an operate token) is read: the routes
    // others may use take no body, so such a client never makes slipwayd
    // hold more than a head. Webhook deliveries are the exception: forges
    // cannot send a token, and their signature covers the body, so it has
    // to be read (bounded by webhook_max_body_bytes and the connection
    // cap); and the dashboard's login, whose body is the token (at most
    // 4 KiB, framed before this).
    const Principal& principal = conn->principal;
    const std::string resource = parser->request.resource();
    if (!Server::MayCarryBody(principal) && !server_->TakesUnauthenticatedBody(resource)) {
      const std::string method = Http::methodString(parser->request.method());
      if (!server_->Admitted(resource, principal)) {
        return server_->Refuse(conn, method, "unauthenticated", 401, "unauthenticated",
                               Server::UnauthenticatedMessage());
      }
      return server_->Refuse(conn, method, "unmatched", 400, "invalid_argument",
                             "only requests with the control token or an operate token may carry a body");
    }
    if (!Server::MayCarryBody(principal)) {
      if (!server_->ReserveUnverifiedBody(head.body_bytes)) {
        return server_->Refuse(conn, Http::methodString(parser->request.method()), "unmatched", 503,
                               "unavailable", "too many webhook deliveries are being received; retry later");
      }
      conn->unverified_body = head.body_bytes;
    }
    conn->body_left = head.body_bytes;
    server_->connections().StartBody(conn);
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
  if (!server_->connections().BeginAnswer(conn)) return false;
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

}  // namespace slipway::daemon::api
