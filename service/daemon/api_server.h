// ApiServer: slipwayd's REST API (docs/api.md is the contract) on Pistache.
//
// Pistache's reactor threads parse requests and run the quick handlers
// (create, start, inspect, list: SQLite and a few files) inline. Everything
// that may take long (wait, stop, attach, logs, pull, push, load, save,
// import, prune, build, forced removal; a run's cancel, logs and prune)
// runs on a thread of its own and answers through the connection when
// done, so a slow request never holds up the others sharing its reactor.
//
// Shutting down, in this order (main does it on SIGTERM):
//
//   api.SetDraining();                 // /healthz says 503, new mutating requests get 503
//   runs.Shutdown(deadline);           // no run starts any more
//   containers.Shutdown(deadline);     // ends log streams that follow containers still running
//   api.Shutdown();                    // waits for request threads, then closes the listener
//
// The process must ignore SIGPIPE: a client that closes its connection
// while Pistache writes to it would otherwise kill slipwayd.
//
// Connections and their limits (docs/api.md, "Connections and limits"): no
// more than max_connections are open at once; when a new one would exceed
// that, the connection that has been quiet longest among those with no
// request being answered is closed to make room (as nginx reuses idle
// keep-alive connections), so that a flood of idle connections cannot lock
// out a client that sends a request. A request's head must arrive within
// header_timeout of the connection (or of its first byte, on a kept-alive
// connection) and its body within body_timeout of the head, or it gets 408;
// a kept-alive connection is closed after idle_timeout without a request.
// Framing is checked before Pistache reads anything (request_head.h): a
// Content-Length over max_body_bytes is 413 before a byte of the body is
// read (/hooks/*: over webhook_max_body_bytes; /ui/login: over 4 KiB), a
// request to /api/v1/ without a credential is 401 before its body is read,
// and only the control token and operate tokens may send bodies at all
// (auth.h, principal.h; the login's small body excepted). Webhook deliveries carry
// no token: their bodies are read (each up to webhook_max_body_bytes, all
// together up to max(4 x that, 64 MiB), else 503) and authenticated by
// their signature (hook_routes.cc). Each refused request's connection is closed once the
// answer is out (after reading, and dropping, what the client still sends for up to two seconds, so that the
// answer is not lost to a reset).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/base/event_log.h"
#include "engine/base/status.h"
#include "engine/containers/container_service.h"
#include "pipelines/repo_registry.h"
#include "pipelines/run_service.h"
#include "pipelines/test_store.h"
#include "service/daemon/image_service.h"
#include "service/daemon/metrics.h"

namespace slipway::pipelines {
class PromotionService;
class PromotionStore;
class SigningKey;
}  // namespace slipway::pipelines

namespace slipway::daemon {

class AccessTokens;
class EventHub;
class RegistryLogins;

// What GET /api/v1/info says besides the live counts (running, queued).
struct DaemonInfo {
  std::string version;
  std::string kernel_version;    // uname -r
  std::string operating_system;  // os-release's PRETTY_NAME
  std::string data_dir;
  std::string state_dir;
  std::string cgroup_layout;                    // "v1", "hybrid" or "v2"
  std::vector<std::string> cgroup_controllers;  // CgroupDriver::Controllers()
  std::string cgroup_parent;
  std::vector<std::string> insecure_registries;          // reached over plain http
  std::vector<std::string> registries_with_credentials;  // hosts only
  int max_running = 0;
  int sandbox_pool_size = 0;
  int max_runs = 0;
  // The base URL forges and users reach slipwayd at (config public_url):
  // webhook URLs are <public_url>/hooks/<forge>.
  std::string public_url;
};

struct ApiServerOptions {
  std::string host = "127.0.0.1";  // a name, an IPv4 or an IPv6 address (without brackets)
  int port = 7780;                 // 0: any free port (see ApiServer::port())
  int threads = 4;                 // Pistache reactor threads
  int64_t max_body_bytes = 1 << 20;
  int64_t max_head_bytes = 64 << 10;  // request line and header fields
  // Lowered to half the soft RLIMIT_NOFILE if that is smaller: accepting
  // into EMFILE would make Pistache's accept loop spin.
  int max_connections = 4096;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::string token;  // the control token; must not be empty
  // Webhook deliveries (POST /hooks/*; docs/webhooks.md): whether this
  // listener serves them besides the API (kAlso: --webhook-listen unset, one
  // port for all), not at all (kNone: another listener does), or only them
  // (kOnly: the --webhook-listen listener; every other path is 404, /healthz
  // excepted).
  enum class Hooks { kNone, kAlso, kOnly };
  Hooks hooks = Hooks::kAlso;
  // A delivery's body may be this large (GitHub sends up to 25 MiB); every
  // other request's is bounded by max_body_bytes.
  int64_t webhook_max_body_bytes = int64_t{25} << 20;
  // How long a delivery id is remembered, so that a replay runs nothing.
  std::chrono::milliseconds delivery_keep{std::chrono::hours(24 * 7)};
  // The runs' test cases (/api/v1/runs/{id}/tests, /api/v1/repos/{name}/tests/...);
  // null: those routes are not served. Outlives the server.
  pipelines::TestStore* tests = nullptr;
  // Optional (they outlive the server): POST /api/v1/runs/{id}/promote and
  // GET /api/v1/promotions are served only when both are set.
  pipelines::PromotionService* promotions = nullptr;
  pipelines::PromotionStore* promotion_audit = nullptr;
  // Optional (they outlive the server): /api/v1/registries and
  // /api/v1/signing-key are served only when set.
  RegistryLogins* registry_logins = nullptr;
  const pipelines::SigningKey* signing_key = nullptr;
  // Access tokens with scopes, besides the control token (docs/dashboard.md);
  // null: only the control token is accepted and /api/v1/tokens is not
  // served. Outlives the server.
  AccessTokens* access_tokens = nullptr;
  // Whether the dashboard's routes are served (/ui/..., /badge/...), and
  // whether anyone who reaches the listener may read (never operate).
  bool dashboard = true;
  bool dashboard_public_read = false;
  // The run and step changes GET /api/v1/events streams (a RunObserver of
  // the RunService); null: that route is not served. Outlives the server.
  EventHub* events = nullptr;
};

namespace api {
class Server;
}

class ApiServer {
 public:
  // Everything given outlives the server.
  ApiServer(ApiServerOptions options, ContainerService& containers, ImageService& images,
            pipelines::RepoRegistry& repos, pipelines::RunService& runs, pipelines::RunStore& store,
            Metrics& metrics, EventLog& log, DaemonInfo info);
  ~ApiServer();  // Shutdown()
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds and starts serving on Pistache's threads; returns at once.
  // kInvalidArgument for a bad address or option, kUnavailable if the
  // address cannot be bound (in use, not local).
  Status Start();
  // The port listened on, once started (useful with port 0).
  int port() const;

  // From now on /healthz answers 503 and requests that would change
  // something are refused with 503 (unavailable); reads still work.
  void SetDraining();
  // Makes request threads give up (waits answer 503, streams end), waits
  // for them, then stops Pistache. Idempotent.
  void Shutdown();

 private:
  std::unique_ptr<api::Server> server_;
};

}  // namespace slipway::daemon
