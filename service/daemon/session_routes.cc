// Access tokens and the dashboard's session (docs/dashboard.md): the token
// API (control token only), GET /api/v1/session, and POST /ui/login and
// /ui/logout, which set and clear the session cookie. A token comes in
// through the login and goes out once, when made; no answer after that,
// error or log event of these routes carries one (events name the token by
// its name).
#include "engine/base/ascii.h"
#include "engine/base/time_json.h"
#include "engine/base/url.h"
#include "service/daemon/access_tokens.h"
#include "service/daemon/api_routes.h"

namespace slipway::daemon::api {

namespace {

// "application/json; charset=utf-8" -> "application/json".
std::string MediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  return Lower(type);
}

// The `token` of a login body: a form (token=...) or JSON ({"token": "..."}).
// kInvalidArgument (or 415's code) for anything else; the message never
// repeats what was sent.
Result<std::string> LoginToken(const Request& r, bool* form) {
  const std::string type = MediaType(r.content_type);
  *form = type == "application/x-www-form-urlencoded";
  if (*form) {
    std::optional<std::string> token;
    size_t at = 0;
    while (at <= r.body.size()) {
      size_t end = r.body.find('&', at);
      if (end == std::string::npos) end = r.body.size();
      std::string_view pair = std::string_view(r.body).substr(at, end - at);
      at = end + 1;
      if (pair.empty()) continue;
      size_t eq = pair.find('=');
      std::optional<std::string> name = PercentDecode(pair.substr(0, eq), true);
      if (!name) return InvalidArgument("malformed form body");
      if (*name != "token") return InvalidArgument("the form's only field is \"token\"");
      if (token) return InvalidArgument("form field \"token\" is repeated");
      token = PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
      if (!token) return InvalidArgument("malformed form body");
    }
    if (!token || token->empty()) return InvalidArgument("form field \"token\" is missing");
    return *token;
  }
  json object = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object())
    return InvalidArgument("the login body must be a JSON object {\"token\": \"...\"}");
  Fields f(object);
  std::string token;
  SLIPWAY_RETURN_IF_ERROR(f.String("token", &token, true));
  SLIPWAY_RETURN_IF_ERROR(f.Finish());
  return token;
}

json TokenJson(const AccessToken& t) {
  json entry;
  entry["name"] = t.name;
  entry["scope"] = ScopeName(t.scope);
  entry["created_at"] = Rfc3339Millis(t.created_unix_ms);
  entry["last_used_at"] = t.last_used_unix_ms ? Rfc3339Millis(t.last_used_unix_ms) : json(nullptr);
  return entry;
}

class SessionRoutes {
 public:
  explicit SessionRoutes(Context& c) : c_(c) {}

  // POST /api/v1/tokens {"name", "scope"}: the token, shown this once.
  void Create(const Request& r, ReplyPtr reply) {
    Fields f(r.object);
    std::string name, scope_name;
    for (Status st : {f.String("name", &name, true), f.String("scope", &scope_name, true), f.Finish()}) {
      if (!st.ok()) return reply->Error(st);
    }
    std::optional<Scope> scope = ParseScope(scope_name);
    if (!scope) return reply->Error(InvalidArgument("field \"scope\" must be \"read\" or \"operate\""));
    AccessToken made;
    auto token = c_.tokens->Create(name, *scope, &made);
    if (!token.ok()) return reply->Error(token.status());
    c_.log.Info("token.created", {{"name", made.name}, {"scope", ScopeName(made.scope)}});
    json body;
    body["name"] = made.name;
    body["scope"] = ScopeName(made.scope);
    body["created_at"] = Rfc3339Millis(made.created_unix_ms);
    body["token"] = *token;
    reply->Json(201, body);
  }

  void List(const Request&, ReplyPtr reply) {
    json list = json::array();
    for (const AccessToken& t : c_.tokens->List()) list.push_back(TokenJson(t));
    reply->Json(200, list);
  }

  void Remove(const Request& r, ReplyPtr reply) {
    Status st = c_.tokens->Remove(r.Param("name"));
    if (!st.ok()) return reply->Error(st);
    c_.log.Info("token.removed", {{"name", r.Param("name")}});
    if (c_.on_token_removed) c_.on_token_removed();
    reply->NoContent();
  }

  // GET /api/v1/session: who the request is, and its CSRF value.
  void Session(const Request& r, ReplyPtr reply) {
    const Principal& p = r.principal;
    json body;
    body["name"] = p.anonymous ? "" : p.name;
    body["scope"] = RoleName(p.role);
    body["csrf"] = c_.auth->Csrf(p);
    reply->Json(200, body);
  }

  // POST /ui/login: form or JSON with an access token; sets the cookie.
  void Login(const Request& r, ReplyPtr reply) {
    const std::string type = MediaType(r.content_type);
    if (type != "application/x-www-form-urlencoded" && type != "application/json") {
      return reply->Error(415, "unsupported_media_type",
                          "the login body must be a form (application/x-www-form-urlencoded) or JSON");
    }
    bool form = false;
    auto token = LoginToken(r, &form);
    if (!token.ok()) return reply->Error(token.status());
    std::optional<AccessToken> known = c_.tokens ? c_.tokens->Authenticate(*token) : std::nullopt;
    if (!known) {
      c_.log.Warn("ui.login_failed", {{"reason", "not an access token"}});
      return reply->Error(401, "unauthenticated", "not a valid access token");
    }
    c_.log.Info("ui.login", {{"name", known->name}, {"scope", ScopeName(known->scope)}});
    std::string cookie = std::string(kSessionCookie) + "=" + *token + "; Path=/; HttpOnly; SameSite=Strict";
    if (c_.info.public_url.starts_with("https://")) cookie += "; Secure";
    reply->SetHeader("Set-Cookie", cookie);
    reply->SetHeader("Cache-Control", "no-store");
    if (!form) return reply->NoContent();
    reply->SetHeader("Location", "/ui/");
    reply->Send(303, "text/plain; charset=utf-8", "");
  }

  // POST /ui/logout: clears the cookie (the server checked the CSRF header
  // of a request the cookie authenticated).
  void Logout(const Request&, ReplyPtr reply) {
    std::string cookie = std::string(kSessionCookie) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict";
    if (c_.info.public_url.starts_with("https://")) cookie += "; Secure";
    reply->SetHeader("Set-Cookie", cookie);
    reply->NoContent();
  }

 private:
  Context& c_;
};

}  // namespace

void AddSessionRoutes(Router& router, Context& context) {
  auto routes = std::make_shared<SessionRoutes>(context);
  auto bind = [routes](void (SessionRoutes::*method)(const Request&, ReplyPtr)) -> Handler {
    return [routes, method](const Request& r, ReplyPtr reply) { ((*routes).*method)(r, std::move(reply)); };
  };
  router.Add("GET", "/api/v1/session", kRead, {}, bind(&SessionRoutes::Session));
  if (context.tokens) {
    router.Add("POST", "/api/v1/tokens", kMutating | kJsonBody, {}, bind(&SessionRoutes::Create));
    router.Add("GET", "/api/v1/tokens", kReadOnly, {}, bind(&SessionRoutes::List));
    router.Add("DELETE", "/api/v1/tokens/:name", kMutating, {}, bind(&SessionRoutes::Remove));
  }
  if (context.dashboard) {
    router.Add("POST", "/ui/login", kMutating | kRawBody, {}, bind(&SessionRoutes::Login));
    router.Add("POST", "/ui/logout", kReadOnly, {}, bind(&SessionRoutes::Logout));
  }
}

}  // namespace slipway::daemon::api
