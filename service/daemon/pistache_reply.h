// PistacheReply: a Reply (api_routes.h) on a Pistache connection, and what
// the request log and the metrics say about its request.
//
// Pistache 0.0.5 facts this is built around (checked against the library):
// ResponseStream::flush() drains the transport's write queue on the calling
// thread, racing with the reactor that owns it. Streams are therefore
// written as raw chunked HTTP through Peer::send(), which only enqueues (the
// queue is thread-safe; the reactor writes).
//
// A reply ends its connection's answer (ConnectionTable::EndAnswer) when it
// is destroyed; one dropped without an answer sends one (500, or 503 while
// shutting down), and a stream is ended. A client gone unanswered is
// recorded as 499.
#pragma once

#include <pistache/http.h>
#include <pistache/peer.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "service/daemon/api_routes.h"
#include "service/daemon/connection_table.h"

namespace slipway::daemon::api {

namespace Http = Pistache::Http;
namespace Tcp = Pistache::Tcp;

class Server;

// What the request log and the metrics say about a request.
struct RequestInfo {
  std::string method;
  std::string route = "unmatched";  // a template, never a raw path
  std::string path;
  Clock::time_point start;
};

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
  void SetHeader(std::string_view name, std::string_view value) override;

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

}  // namespace slipway::daemon::api
