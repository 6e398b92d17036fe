// api::Server: ApiServer's implementation (api_server.h), shared by
// api_server.cc (start, shutdown, routing, authentication, request
// decoding), http_handler.cc (reading requests) and pistache_reply.cc
// (answering them). Nothing outside those three files includes it.
#pragma once

#include <pistache/endpoint.h>
#include <pistache/http.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include "service/daemon/api_routes.h"
#include "service/daemon/api_server.h"
#include "service/daemon/connection_table.h"

namespace slipway::daemon::api {

namespace Http = Pistache::Http;

class PistacheReply;

// ApiServer's implementation.
class Server {
 public:
  Server(ApiServerOptions options, ContainerService& containers, ImageService& images,
         pipelines::RepoRegistry& repos, pipelines::RunService& runs, pipelines::RunStore& store,
         Metrics& metrics, EventLog& log, DaemonInfo info);
  ~Server();

  Status Start();
  int port() const;
  void SetDraining() { draining_ = true; }
  void Shutdown();

  // Every request, whole, on a Pistache reactor thread.
  void Handle(const Http::Request& request, Http::ResponseWriter writer, const ConnectionPtr& conn);

  // The connection table (connection_table.h; the policy is in the file
  // comment of api_server.h).
  ConnectionTable& connections() { return connections_; }
  // Answers with a JSON error and closes the connection (lingering).
  // `only_reading`: unless a request of it is being answered meanwhile.
  void Refuse(const ConnectionPtr& conn, std::string_view method, std::string_view route, int status,
              std::string_view code, std::string_view message, bool only_reading = false);
  // Who the request is (auth.h), from its head alone.
  Principal Resolve(const Http::Request& http) const;
  // Whether a request for `path` by `principal` may be served at all:
  // /api/v1/ and /badge/ need a credential (or public reading).
  bool Admitted(std::string_view path, const Principal& principal) const;
  // Whether `principal` may send a body: the control token and operate
  // tokens (read credentials change nothing).
  static bool MayCarryBody(const Principal& principal);
  // What a request refused for having no usable credential is told.
  static const char* UnauthenticatedMessage();
  // Whether a request for `path` may carry a body without such a
  // credential: a webhook delivery this listener serves (authenticated by
  // its signature), or the dashboard's login (a small body).
  bool TakesUnauthenticatedBody(std::string_view path) const;
  // The largest body a request for `path` may carry.
  int64_t BodyLimit(std::string_view path) const;
  // The largest body of any request (what the framing admits at first).
  int64_t MaxBodyLimit() const;
  // Webhook bodies are read before they can be verified: all of them
  // together, as their Content-Lengths declare, may hold at most
  // max(4 * webhook_max_body_bytes, 64 MiB). False (the request is then
  // refused 503) when `bytes` more would exceed that.
  bool ReserveUnverifiedBody(uint64_t bytes);
  void ReleaseUnverifiedBody(uint64_t bytes);

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
  void Dispatch(const Http::Request& http, const Router::Match& match, const Principal& principal,
                PistacheReply& reply, const ReplyPtr& shared);
  // The dashboard's checks of cookie sessions (Origin, CSRF) and the
  // route's scope; answers and returns false when the request is refused.
  bool Permitted(const Http::Request& http, const Route& route, const Principal& principal,
                 Reply& reply) const;
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
  std::atomic<uint64_t> unverified_bytes_{0};  // ReserveUnverifiedBody
  Workers workers_;
  Authenticator auth_;
  Context context_;
  Router router_;

  std::mutex lifecycle_mu_;  // Start and Shutdown
  bool shut_down_ = false;
  std::unique_ptr<Http::Endpoint> endpoint_;

  ConnectionTable connections_;
  // The sweeper: applies the connection table's timeouts every kSweepEvery.
  std::mutex sweeper_mu_;
  bool sweeper_stop_ = false;
  std::condition_variable sweeper_cv_;
  std::thread sweeper_;
};

}  // namespace slipway::daemon::api
