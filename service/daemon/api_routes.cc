#include "service/daemon/api_routes.h"

#include <exception>
#include <system_error>
#include <utility>

#include "engine/base/ascii.h"
#include "engine/base/units.h"
#include "engine/runtime/frame.h"

namespace slipway::daemon::api {

namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> segments;
  if (path.empty() || path[0] != '/') return segments;
  path.remove_prefix(1);
  for (;;) {
    size_t slash = path.find('/');
    segments.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

}  // namespace

// --- Request, Reply ---

const std::string& Request::Param(const std::string& name) const {
  static const std::string kEmpty;
  auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

std::string Request::Query(const std::string& name) const {
  auto it = query.find(name);
  return it == query.end() ? std::string() : it->second;
}

void Reply::Json(int status, const json& body) {
  Send(status, kJson, Dump(body));
}

void Reply::JsonText(int status, std::string body) {
  Send(status, kJson, std::move(body));
}

void Reply::NoContent() {
  Send(204, "", "");
}

void Reply::Error(const Status& status) {
  Error(HttpStatusOf(status.code()), ApiCodeOf(status.code()), status.message());
}

void Reply::Error(int http_status, std::string_view code, std::string_view message) {
  OnError(http_status, code, message);
  json body;
  body["error"]["code"] = code;
  body["error"]["message"] = message;
  Send(http_status, kJson, Dump(body));
}

int HttpStatusOf(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument: return 400;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists: return 409;
    case Code::kFailedPrecondition: return 409;
    case Code::kResourceExhausted: return 429;
    case Code::kDeadlineExceeded: return 504;
    case Code::kUnavailable: return 503;
    case Code::kPermissionDenied: return 403;
    case Code::kUnauthenticated: return 401;
    case Code::kInternal: return 500;
  }
  return 500;
}

const char* ApiCodeOf(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid_argument";
    case Code::kNotFound: return "not_found";
    case Code::kAlreadyExists: return "already_exists";
    case Code::kFailedPrecondition: return "failed_precondition";
    case Code::kResourceExhausted: return "resource_exhausted";
    case Code::kDeadlineExceeded: return "deadline_exceeded";
    case Code::kUnavailable: return "unavailable";
    case Code::kPermissionDenied: return "permission_denied";
    case Code::kUnauthenticated: return "unauthenticated";
    case Code::kInternal: return "internal";
  }
  return "internal";
}

json ErrorJson(const Status& status) {
  json body;
  body["error"]["code"] = ApiCodeOf(status.code());
  body["error"]["message"] = status.message();
  return body;
}

// --- Router ---

void Router::Add(std::string method, std::string pattern, unsigned flags, std::set<std::string> query,
                 Handler handler) {
  Route route;
  route.segments = SplitPath(pattern);
  route.method = std::move(method);
  route.pattern = std::move(pattern);
  route.flags = flags;
  route.query = std::move(query);
  route.handler = std::move(handler);
  routes_.push_back(std::move(route));
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  Match match;
  std::vector<std::string> segments = SplitPath(path);
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool same = true;
    for (size_t i = 0; same && i < segments.size(); ++i) {
      const std::string& want = route.segments[i];
      if (!want.empty() && want[0] == ':') {
        same = !segments[i].empty();
        params[want.substr(1)] = segments[i];
      } else {
        same = want == segments[i];
      }
    }
    if (!same) continue;
    match.pattern = route.pattern;
    match.allowed.push_back(route.method);
    if (route.method == method && !match.route) {
      match.route = &route;
      match.raw_params = std::move(params);
    }
  }
  if (match.route) match.pattern = match.route->pattern;
  return match;
}

// --- Workers ---

Status Workers::Run(std::function<void()> work) {
  Status st = pool_.Run([this, work = std::move(work)] {
    try {
      work();
    } catch (const std::exception& e) {
      log_.Error("api.worker_exception", {{"what", e.what()}});
    } catch (...) {
      log_.Error("api.worker_exception", {{"what", "unknown"}});
    }
  });
  if (st.code() == Code::kUnavailable) return Status(Code::kUnavailable, "slipwayd is shutting down");
  if (st.code() == Code::kResourceExhausted)
    return Status(Code::kResourceExhausted, "too many requests in progress: " + st.message() + "; try again later");
  return st;
}

// --- Decoding and encoding ---

Result<bool> QueryBool(const Request& request, const std::string& name, bool fallback) {
  auto it = request.query.find(name);
  if (it == request.query.end()) return fallback;
  if (it->second == "true" || it->second == "1") return true;
  if (it->second == "false" || it->second == "0") return false;
  return InvalidArgument("query parameter " + name + " must be true or false (or 1 or 0), not \"" +
                         it->second + "\"");
}

Result<int64_t> QueryInt(const Request& r, const std::string& name, int64_t fallback, int64_t min,
                         int64_t max) {
  auto it = r.query.find(name);
  if (it == r.query.end()) return fallback;
  std::optional<int64_t> n = ParseInt(it->second);
  if (!n || *n < min || *n > max || it->second[0] == '+') {
    return InvalidArgument("query parameter " + name + " must be a whole number from " + std::to_string(min) +
                           " to " + std::to_string(max) + ", not \"" + it->second + "\"");
  }
  return *n;
}

const json* Fields::Get(const std::string& key, bool required, Status* status) {
  known_.insert(key);
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) {
    if (required) *status = InvalidArgument("missing " + Name(key));
    return nullptr;
  }
  return &*it;
}

Status Fields::String(const std::string& key, std::string* out, bool required) {
  Status status;
  const json* value = Get(key, required, &status);
  if (!value) return status;
  if (!value->is_string()) return InvalidArgument(Name(key) + " must be a string");
  const std::string& s = value->get_ref<const std::string&>();
  if (HasControlChar(s)) return InvalidArgument(Name(key) + " holds a control character");
  if (required && s.empty()) return InvalidArgument(Name(key) + " is empty");
  *out = s;
  return Status::Ok();
}

Status Fields::Strings(const std::string& key, std::vector<std::string>* out, bool required) {
  Status status;
  const json* value = Get(key, required, &status);
  if (!value) return status;
  if (!value->is_array()) return InvalidArgument(Name(key) + " must be an array of strings");
  std::vector<std::string> strings;
  for (const json& item : *value) {
    if (!item.is_string()) return InvalidArgument(Name(key) + " must be an array of strings");
    const std::string& s = item.get_ref<const std::string&>();
    if (HasControlChar(s)) return InvalidArgument(Name(key) + " holds a control character");
    strings.push_back(s);
  }
  *out = std::move(strings);
  return Status::Ok();
}

Status Fields::Bool(const std::string& key, bool* out) {
  Status status;
  const json* value = Get(key, false, &status);
  if (!value) return status;
  if (!value->is_boolean()) return InvalidArgument(Name(key) + " must be true or false");
  *out = value->get<bool>();
  return Status::Ok();
}

Status Fields::Int(const std::string& key, int64_t* out, bool required, int64_t min, int64_t max) {
  Status status;
  const json* value = Get(key, required, &status);
  if (!value) return status;
  const Status wrong = InvalidArgument(Name(key) + " must be a whole number from " + std::to_string(min) +
                                       " to " + std::to_string(max));
  if (!value->is_number_integer()) return wrong;
  // An unsigned beyond int64 is not in range either.
  if (value->is_number_unsigned() && value->get<uint64_t>() > static_cast<uint64_t>(max)) return wrong;
  int64_t n = value->get<int64_t>();
  if (n < min || n > max) return wrong;
  *out = n;
  return Status::Ok();
}

Status Fields::Text(const std::string& key, std::string* out) {
  Status status;
  const json* value = Get(key, false, &status);
  if (!value) return status;
  if (!value->is_string()) return InvalidArgument(Name(key) + " must be a string");
  const std::string& s = value->get_ref<const std::string&>();
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
      return InvalidArgument(Name(key) + " holds a control character");
  }
  *out = s;
  return Status::Ok();
}

Status Fields::Object(const std::string& key, const json** out) {
  Status status;
  const json* value = Get(key, false, &status);
  *out = nullptr;
  if (!value) return status;
  if (!value->is_object()) return InvalidArgument(Name(key) + " must be an object");
  *out = value;
  return Status::Ok();
}

const json* Fields::Raw(const std::string& key) {
  Status ignored;
  return Get(key, false, &ignored);
}

Status Fields::StringMap(const std::string& key, std::map<std::string, std::string>* out) {
  Status status;
  const json* value = Get(key, false, &status);
  if (!value) return status;
  const Status wrong = InvalidArgument(Name(key) + " must be an object of strings");
  if (!value->is_object()) return wrong;
  std::map<std::string, std::string> strings;
  for (auto it = value->begin(); it != value->end(); ++it) {
    if (!it->is_string()) return wrong;
    const std::string& s = it->get_ref<const std::string&>();
    if (HasControlChar(it.key()) || HasControlChar(s))
      return InvalidArgument(Name(key) + " holds a control character");
    strings[it.key()] = s;
  }
  *out = std::move(strings);
  return Status::Ok();
}

Status Fields::Finish() const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (!known_.count(it.key())) return InvalidArgument("unknown " + Name(it.key()));
  }
  return Status::Ok();
}

// --- Log streams ---

void Spawn(Context& context, const ReplyPtr& reply, std::function<void()> work) {
  Status st = context.workers.Run(std::move(work));
  if (!st.ok()) reply->Error(st);
}

Result<LogOptions> ParseLogOptions(const Request& request) {
  LogOptions o;
  SLIPWAY_ASSIGN_OR_RETURN(o.follow, QueryBool(request, "follow", false));
  SLIPWAY_ASSIGN_OR_RETURN(o.out, QueryBool(request, "stdout", true));
  SLIPWAY_ASSIGN_OR_RETURN(o.err, QueryBool(request, "stderr", true));
  if (!o.out && !o.err) return InvalidArgument("choose at least one of stdout and stderr");
  o.sse = request.accept.find(kEventStream) != std::string::npos;
  return o;
}

Status StreamLog(const LogOptions& o, Reply& reply, const std::function<Status(const LogChunk&)>& read,
                 const std::function<std::string()>& end_object) {
  if (!reply.Begin(200, o.sse ? kEventStream : kMultiplexed)) return Status::Ok();
  Status st = read([&](Stream s, std::string_view data) {
    bool is_out = s == Stream::kStdout;
    if (is_out ? !o.out : !o.err) return true;
    if (o.sse) return reply.Write(SseEvent(is_out ? "stdout" : "stderr", data));
    return reply.Write(EncodeFrame(s, data));
  });
  if (st.ok() && o.sse) {
    if (std::string end = end_object(); !end.empty()) reply.Write(SseEvent("end", end));
  }
  reply.End();
  return st;
}

std::string SseEvent(std::string_view name, std::string_view data, uint64_t id) {
  std::string event;
  if (id != 0) event = "id: " + std::to_string(id) + "\n";
  event.append("event: ");
  event.append(name);
  event.push_back('\n');
  // Every line ending SSE knows (\r\n, \n, \r) ends a data line. A final
  // line ending is followed by an empty data line, so that the client's
  // data ends with "\n" exactly when the chunk did: a log chunk may end in
  // the middle of a line, and the dashboard must not break the line there.
  size_t start = 0;
  for (;;) {
    size_t end = data.find_first_of("\r\n", start);
    std::string_view line = data.substr(start, end == std::string_view::npos ? end : end - start);
    event.append("data: ").append(line).push_back('\n');
    if (end == std::string_view::npos) break;
    start = end + ((data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n') ? 2 : 1);
  }
  event.push_back('\n');
  return event;
}

std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace slipway::daemon::api
