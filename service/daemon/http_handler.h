// HttpHandler: Pistache's handler for the API, which reads requests before
// Pistache does.
//
// Pistache 0.0.5's own request reading is not fit to face a network: it
// reserves Content-Length bytes before reading any (std::bad_alloc, a
// plain-text 500), rescans an incomplete request line from its start at
// every read (quadratic: a 10 MB body without a line break costs it minutes
// of CPU), answers its errors in plain text, and has no limit on
// connections or time to an idle one. HttpHandler therefore overrides
// onConnection and onInput (virtual in Tcp::Handler, so an override
// replaces them): it checks each request's framing first (request_head.h),
// keeps the connection table (connection_table.h) told of what happens,
// and feeds Pistache's own parser only a head already whole and a body of a
// length already accepted. Whole requests go to Server::Handle; refusals to
// Server::Refuse.
#pragma once

#include <pistache/http.h>
#include <pistache/peer.h>

#include <exception>
#include <memory>

#include "service/daemon/connection_table.h"
#include "service/daemon/request_head.h"

namespace slipway::daemon::api {

namespace Http = Pistache::Http;
namespace Tcp = Pistache::Tcp;

class Server;

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

}  // namespace slipway::daemon::api
