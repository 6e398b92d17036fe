// The inside of ApiServer, shared by api_server.cc (HTTP, routing, auth,
// metrics), pistache_reply.cc and the route files (container_routes.cc,
// image_routes.cc, repo_routes.cc, run_routes.cc). Nothing here knows Pistache: handlers see a decoded
// Request and answer through a Reply, so that all of Pistache's quirks stay
// in the files that know it (api_server.cc, http_handler.cc,
// pistache_reply.cc).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/base/event_log.h"
#include "engine/base/status.h"
#include "engine/base/thread_pool.h"
#include "engine/containers/log_follower.h"
#include "pipelines/promotion_service.h"
#include "pipelines/promotion_store.h"
#include "pipelines/repo_registry.h"
#include "pipelines/run_service.h"
#include "pipelines/run_store.h"
#include "service/daemon/api_server.h"
#include "service/daemon/auth.h"
#include "service/daemon/event_hub.h"
#include "service/daemon/principal.h"

namespace slipway::daemon::api {

using json = nlohmann::ordered_json;

// Content types of the API's streams.
inline constexpr char kJson[] = "application/json";
inline constexpr char kNdjson[] = "application/x-ndjson";
inline constexpr char kMultiplexed[] = "application/vnd.slipway.stream";
inline constexpr char kEventStream[] = "text/event-stream";

// A request as a handler sees it: routed, authenticated, its path
// parameters and query decoded and checked, its JSON body parsed.
struct Request {
  std::string method;                          // "GET"
  std::string route;                           // the template, "/api/v1/containers/:id"
  std::map<std::string, std::string> params;   // "id" -> decoded path segment
  std::map<std::string, std::string> query;    // decoded; only names the route allows
  std::string accept;                          // the Accept header, raw
  std::string if_none_match;                   // the If-None-Match header, raw (the dashboard's 304s)
  std::string body;                            // raw
  json object;                                 // the body as a JSON object (routes taking one)
  std::map<std::string, std::string> headers;  // kWebhook routes: every header, names in lowercase
  std::string content_type;                    // the Content-Type header, raw
  std::string last_event_id;                   // the Last-Event-ID header (SSE reconnection), raw
  Principal principal;                         // who asks (auth.h), resolved from the head

  const std::string& Param(const std::string& name) const;
  // The query parameter, or "" if absent.
  std::string Query(const std::string& name) const;
};

// The way back to the client. Usable from any thread; a response is either
// whole (Send) or chunked (Begin, Write..., End). A reply dropped without
// an answer sends a 500 (or ends its stream), so a client never hangs.
class Reply {
 public:
  virtual ~Reply() = default;

  virtual void Send(int status, std::string_view content_type, std::string body) = 0;
  // False if the client is gone already or the server is shutting down.
  virtual bool Begin(int status, std::string_view content_type) = 0;
  // One chunk; blocks while much is unsent. False once the client has gone
  // away or the server is shutting down: the caller stops.
  virtual bool Write(std::string_view data) = 0;
  virtual void End() = 0;
  // Whether the client closed its connection.
  virtual bool Gone() const = 0;
  // Adds a header to the answer not yet begun (Set-Cookie, Cache-Control,
  // Content-Security-Policy...). `name` and `value` must hold no CR or LF:
  // such a header is dropped rather than sent (no response splitting).
  virtual void SetHeader(std::string_view name, std::string_view value) = 0;

  void Json(int status, const json& body);
  void JsonText(int status, std::string body);  // already serialized
  void NoContent();                             // 204
  // {"error": {"code", "message"}} with the status docs/api.md gives the code.
  void Error(const Status& status);
  void Error(int http_status, std::string_view code, std::string_view message);

 protected:
  // Called for every error answer before it is sent (the server logs it).
  virtual void OnError(int http_status, std::string_view code, std::string_view message) {}
};

using ReplyPtr = std::shared_ptr<Reply>;
using Handler = std::function<void(const Request&, ReplyPtr)>;

// What the server checks before a handler runs.
enum RouteFlags : unsigned {
  kReadOnly = 0,
  kMutating = 1 << 0,  // refused while draining
  kJsonBody = 1 << 1,  // takes a JSON object body (415 unless application/json)
  kRawBody = 1 << 2,   // takes the body as bytes, whatever its Content-Type (a secret's value)
  // A forge's webhook delivery (/hooks/*): no token (the delivery is
  // authenticated by its signature), the body as bytes up to
  // webhook_max_body_bytes, the request's headers in Request::headers.
  kWebhook = 1 << 3,
  // Who besides the control token may call it (docs/dashboard.md): a `read`
  // credential (a token, the session cookie, anyone with
  // dashboard_public_read) may GET routes marked kRead; an `operate` token
  // may also call routes marked kOperate. Everything else is the control
  // token's (403 permission_denied for the others).
  kRead = 1 << 4,
  kOperate = 1 << 5,
};
// Everything under /api/v1/ and /badge/ needs a credential (401 without),
// whatever the route.

struct Route {
  std::string method;
  std::string pattern;                // "/api/v1/containers/:id/logs"
  std::vector<std::string> segments;  // "api", "v1", "containers", ":id", "logs"
  unsigned flags = 0;
  std::set<std::string> query;  // the query parameters it accepts
  Handler handler;
};

class Router {
 public:
  void Add(std::string method, std::string pattern, unsigned flags, std::set<std::string> query,
           Handler handler);

  struct Match {
    const Route* route = nullptr;                   // method and path matched
    std::map<std::string, std::string> raw_params;  // "id" -> segment as received
    std::string pattern;                            // of a route matching the path, any method
    std::vector<std::string> allowed;               // methods the path has (for 405)
  };
  // `path` without the query, as received (not decoded: an encoded "/"
  // stays inside its segment).
  Match Find(std::string_view method, std::string_view path) const;

 private:
  std::vector<Route> routes_;
};

// Threads for requests that block (engine/base/thread_pool.h: kept for the
// next request). Close() refuses new ones and Join() waits for those
// running. An exception a request's work lets out is logged, not fatal.
class Workers {
 public:
  Workers(size_t max_threads, EventLog& log)
      : pool_({.max_threads = max_threads, .idle_exit = std::chrono::seconds(10)}), log_(log) {}
  // kResourceExhausted when max_threads are busy, kUnavailable once closed.
  Status Run(std::function<void()> work);
  void Close() { pool_.Close(); }
  void Join() { pool_.Join(); }

 private:
  ThreadPool pool_;
  EventLog& log_;
};

// What handlers work with.
struct Context {
  ContainerService& containers;
  ImageService& images;
  EventLog& log;
  Workers& workers;
  const std::atomic<bool>& stopping;  // Shutdown() began: blocking handlers give up
  const DaemonInfo& info;
  pipelines::RepoRegistry& repos;
  pipelines::RunService& runs;  // also removes repositories (with their runs and mirror)
  pipelines::RunStore& store;   // webhook deliveries seen (RecordDelivery)
  // How long a delivery id is remembered: a replay within it is answered
  // "duplicate" and runs nothing.
  std::chrono::milliseconds delivery_keep;
  pipelines::TestStore* tests;  // the runs' test cases; null: no test routes
  // Promotion (ApiServerOptions): its routes exist only when set.
  pipelines::PromotionService* promotions = nullptr;
  pipelines::PromotionStore* promotion_audit = nullptr;
  // Registry logins and the provenance signing key (ApiServerOptions):
  // their routes exist only when set.
  RegistryLogins* registry_logins = nullptr;
  const pipelines::SigningKey* signing_key = nullptr;
  // Who requests are, and the access tokens (null: only the control token).
  const Authenticator* auth = nullptr;
  AccessTokens* tokens = nullptr;
  bool dashboard = true;  // /ui/login, /ui/logout and /badge/ are served
  // The run and step changes of GET /api/v1/events; null: not served.
  EventHub* events = nullptr;
  // Called when a token is removed: open event streams of it end.
  std::function<void()> on_token_removed = nullptr;
};

void AddContainerRoutes(Router& router, Context& context);
void AddImageRoutes(Router& router, Context& context);
void AddRepoRoutes(Router& router, Context& context);
void AddRunRoutes(Router& router, Context& context);
// /api/v1/runs/{id}/tests and /api/v1/repos/{name}/tests/... (test_routes.cc).
void AddTestRoutes(Router& router, Context& context);
// POST /api/v1/runs/{id}/promote, GET /api/v1/promotions (promotion_routes.cc).
void AddPromotionRoutes(Router& router, Context& context);
// /api/v1/registries and /api/v1/signing-key (registry_routes.cc).
void AddRegistryRoutes(Router& router, Context& context);
// /api/v1/tokens, /api/v1/session, POST /ui/login and /ui/logout
// (session_routes.cc).
void AddSessionRoutes(Router& router, Context& context);
// GET /badge/{repo}/{branch}.svg (badge_routes.cc).
void AddBadgeRoutes(Router& router, Context& context);
// GET /api/v1/events (event_routes.cc).
void AddEventRoutes(Router& router, Context& context);
// POST /hooks/github, /hooks/gitea, /hooks/gitlab (hook_routes.cc).
void AddHookRoutes(Router& router, Context& context);
// The dashboard's page: /, /ui/, /ui/assets/* (dashboard_routes.cc).
void AddDashboardRoutes(Router& router, Context& context);

// The headers every page answer carries (docs/dashboard.md): the strict
// Content-Security-Policy, nosniff, no referrer, no framing.
void SetPageHeaders(Reply& reply);

// --- Helpers for handlers ---

// HTTP status and API code of a Status code ("not_found" -> 404).
int HttpStatusOf(Code code);
const char* ApiCodeOf(Code code);
// {"error": {"code", "message"}}, as one JSON value.
json ErrorJson(const Status& status);

// true/false/1/0; `fallback` if absent. kInvalidArgument otherwise.
Result<bool> QueryBool(const Request& request, const std::string& name, bool fallback);

// A query parameter that is a whole number in [min, max]; `fallback` if
// absent. kInvalidArgument naming the parameter and the range otherwise.
Result<int64_t> QueryInt(const Request& request, const std::string& name, int64_t fallback, int64_t min,
                         int64_t max);

// Runs `work` on a worker thread (Workers::Run), or answers why it cannot.
void Spawn(Context& context, const ReplyPtr& reply, std::function<void()> work);

// A log stream's options (GET .../logs of containers and of run steps):
// follow, stdout, stderr from the query, Server-Sent Events when the Accept
// header asks for text/event-stream.
struct LogOptions {
  bool follow = false, out = true, err = true, sse = false;
};
Result<LogOptions> ParseLogOptions(const Request& request);
// Answers with a log: the multiplexed stream (engine/runtime/frame.h), or
// SSE events "stdout"/"stderr" and, once `read` has returned OK, an "end"
// event carrying end_object() (skipped if it returns ""). `read` delivers
// the chunks to the callback it is given. Returns `read`'s status; the
// stream is ended either way (a client tells a cut-short stream by its
// missing end).
Status StreamLog(const LogOptions& options, Reply& reply, const std::function<Status(const LogChunk&)>& read,
                 const std::function<std::string()>& end_object);

// Strict reading of a JSON object body: every field has its type, no string
// holds a control character, and Finish() refuses fields nobody read.
class Fields {
 public:
  // `prefix` names a nested object in messages ("credential." ->
  // field "credential.kind").
  explicit Fields(const json& object, std::string prefix = "")
      : object_(object), prefix_(std::move(prefix)) {}
  Status String(const std::string& key, std::string* out, bool required);
  Status Strings(const std::string& key, std::vector<std::string>* out, bool required);
  Status Bool(const std::string& key, bool* out);  // optional
  // A whole number (JSON integer) in [min, max].
  Status Int(const std::string& key, int64_t* out, bool required, int64_t min, int64_t max);
  // A string that may span lines: tabs and line ends are allowed, other
  // control characters are not (an ssh key, a known_hosts file). Optional.
  Status Text(const std::string& key, std::string* out);
  // A nested object, read by a Fields of its own; nullptr if absent.
  Status Object(const std::string& key, const json** out);
  // A field of whatever type, for the caller to check; nullptr if absent.
  const json* Raw(const std::string& key);
  // An object of strings ({"K": "V"}); optional.
  Status StringMap(const std::string& key, std::map<std::string, std::string>* out);
  Status Finish() const;

 private:
  const json* Get(const std::string& key, bool required, Status* status);
  std::string Name(const std::string& key) const { return "field \"" + prefix_ + key + "\""; }
  const json& object_;
  const std::string prefix_;
  std::set<std::string> known_;
};

// One Server-Sent Event: "id: ID" (unless 0), "event: NAME", a "data:"
// line per line of `data` (an empty one after a final line ending, so that
// the client's data ends with "\n" exactly when `data` did), and the blank
// line that ends it.
std::string SseEvent(std::string_view name, std::string_view data, uint64_t id = 0);
// An SSE comment line (": keep-alive"): keeps proxies and the client's
// reconnection timer from taking a quiet stream for a dead one.
inline constexpr char kSseKeepAlive[] = ": keep-alive\n\n";

// Serializes without throwing on ill-formed UTF-8 (replaced).
std::string Dump(const json& value);

}  // namespace slipway::daemon::api
