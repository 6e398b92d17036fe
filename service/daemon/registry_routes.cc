// /api/v1/registries (logins to registries; docs/api.md, "Registries") and
// /api/v1/signing-key (the provenance key's public half). A password comes
// in through here on its way to RegistryLogins, which seals it; no answer,
// error or log event of these routes carries one.
#include "engine/base/time.h"
#include "pipelines/signing_key.h"
#include "service/daemon/api_routes.h"
#include "service/daemon/registry_logins.h"

namespace slipway::daemon::api {

namespace {

class RegistryRoutes {
 public:
  explicit RegistryRoutes(Context& c) : c_(c) {}

  // POST /api/v1/registries/:host/login {"username", "password", "verify"}:
  // checks the credentials against the registry (GET /v2/ with them) unless
  // "verify" is false, then stores them.
  void Login(const Request& r, ReplyPtr reply) {
    Fields f(r.object);
    Credentials credentials;
    bool verify = true;
    for (Status st :
         {f.String("username", &credentials.username, true),
          f.String("password", &credentials.password, true), f.Bool("verify", &verify), f.Finish()}) {
      if (!st.ok()) return reply->Error(st);
    }
    auto host = RegistryLogins::CheckHost(r.Param("host"));
    if (!host.ok()) return reply->Error(host.status());
    Context& c = c_;
    Spawn(c_, reply, [&c, reply, host = *host, credentials = std::move(credentials), verify]() {
      if (verify) {
        Status checked = c.images.CheckLogin(host, credentials);
        if (!checked.ok()) {
          c.log.Warn("registry.login_failed",
                     {{"host", host}, {"username", credentials.username}, {"error", checked.message()}});
          // The registry's refusal is the client's problem, not ours.
          if (checked.code() == Code::kUnauthenticated) {
            checked = Status(Code::kPermissionDenied, checked.message());
          }
          return reply->Error(checked.Wrap("login to " + host));
        }
      }
      Status stored = c.registry_logins->Login(host, credentials);
      if (!stored.ok()) return reply->Error(stored);
      c.log.Info("registry.login",
                 {{"host", host}, {"username", credentials.username}, {"verified", verify}});
      json body;
      body["host"] = host;
      body["username"] = credentials.username;
      body["verified"] = verify;
      reply->Json(200, body);
    });
  }

  void List(const Request&, ReplyPtr reply) {
    json list = json::array();
    for (const RegistryLogin& login : c_.registry_logins->List()) {
      json entry;
      entry["host"] = login.host;
      entry["username"] = login.username;
      entry["updated_at"] = FormatRfc3339Millis(login.updated_unix_ms);
      list.push_back(std::move(entry));
    }
    json body;
    body["registries"] = std::move(list);
    reply->Json(200, body);
  }

  void Logout(const Request& r, ReplyPtr reply) {
    Status st = c_.registry_logins->Logout(r.Param("host"));
    if (!st.ok()) return reply->Error(st);
    c_.log.Info("registry.logout", {{"host", *RegistryLogins::CheckHost(r.Param("host"))}});
    reply->NoContent();
  }

  void SigningKey(const Request&, ReplyPtr reply) {
    json body;
    body["algorithm"] = "ed25519";
    body["key_id"] = c_.signing_key->key_id();
    body["public_key"] = c_.signing_key->PublicKeyPem();
    reply->Json(200, body);
  }

 private:
  Context& c_;
};

}  // namespace

void AddRegistryRoutes(Router& router, Context& context) {
  auto routes = std::make_shared<RegistryRoutes>(context);
  auto bind = [routes](void (RegistryRoutes::*method)(const Request&, ReplyPtr)) -> Handler {
    return [routes, method](const Request& r, ReplyPtr reply) { ((*routes).*method)(r, std::move(reply)); };
  };
  if (context.registry_logins) {
    const std::string base = "/api/v1/registries";
    router.Add("GET", base, kReadOnly, {}, bind(&RegistryRoutes::List));
    router.Add("POST", base + "/:host/login", kMutating | kJsonBody, {}, bind(&RegistryRoutes::Login));
    router.Add("DELETE", base + "/:host", kMutating, {}, bind(&RegistryRoutes::Logout));
  }
  if (context.signing_key)
    router.Add("GET", "/api/v1/signing-key", kReadOnly, {}, bind(&RegistryRoutes::SigningKey));
}

}  // namespace slipway::daemon::api
