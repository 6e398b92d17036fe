// /api/v1/repos: docs/api.md, "Repositories". Credentials and secret values
// pass through here on their way to the RepoRegistry, which seals them; no
// answer, error or log event of these routes carries one (errors name the
// field, never its value).
#include <cmath>
#include <mutex>
#include <utility>

#include "engine/base/units.h"
#include "service/daemon/api_routes.h"
#include "webhooks/forge_event.h"

namespace slipway::daemon::api {

namespace {

using pipelines::Credential;
using pipelines::Repository;
using pipelines::StepLimits;

// The credential: an object of its parts, or the text of a credential file
// (`slipway repo add --credential FILE` sends the file as it is, so that
// it is parsed in one place: ParseCredentialFile, here).
Status ReadCredential(Fields& f, const json& body, Credential* out) {
  auto it = body.find("credential");
  if (it != body.end() && it->is_string()) {
    std::string text;
    SLIPWAY_RETURN_IF_ERROR(f.Text("credential", &text));
    SLIPWAY_ASSIGN_OR_RETURN(*out, pipelines::ParseCredentialFile(text));
    return Status::Ok();
  }
  const json* object = nullptr;
  SLIPWAY_RETURN_IF_ERROR(f.Object("credential", &object));
  if (!object) return Status::Ok();
  Fields c(*object, "credential.");
  for (Status st : {c.String("kind", &out->kind, true), c.String("username", &out->username, false),
                    c.String("password", &out->password, false), c.Text("ssh_key", &out->ssh_key),
                    c.Text("known_hosts", &out->ssh_known_hosts),
                    c.String("passphrase", &out->ssh_passphrase, false), c.Finish()}) {
    SLIPWAY_RETURN_IF_ERROR(st);
  }
  return Status::Ok();
}

// "512m" or a number of bytes.
Status ReadMemory(const json* it, StepLimits* limits) {
  if (!it) return Status::Ok();
  const Status wrong =
      InvalidArgument("field \"defaults.memory\" must be a size such as \"512m\" or a number of bytes");
  if (it->is_number_integer()) {
    if (it->is_number_unsigned() && it->get<uint64_t>() > (uint64_t{1} << 60)) return wrong;
    if (it->get<int64_t>() <= 0) return wrong;
    limits->memory_bytes = it->get<int64_t>();
    return Status::Ok();
  }
  if (!it->is_string()) return wrong;
  auto bytes = ParseBytes(it->get<std::string>());
  if (!bytes.ok()) return InvalidArgument("field \"defaults.memory\": " + bytes.status().message());
  limits->memory_bytes = *bytes;
  return Status::Ok();
}

// 1, 0.5 or "0.5", as `docker run --cpus`.
Status ReadCpus(const json* it, StepLimits* limits) {
  if (!it) return Status::Ok();
  const Status wrong = InvalidArgument("field \"defaults.cpus\" must be a number of CPUs such as 1 or 0.5");
  if (it->is_number()) {
    double cpus = it->get<double>();
    if (!std::isfinite(cpus) || cpus <= 0 || cpus > 1024) return wrong;
    limits->millicpus = static_cast<int64_t>(std::llround(cpus * 1000));
    return limits->millicpus > 0 ? Status::Ok() : wrong;
  }
  if (!it->is_string()) return wrong;
  auto millis = ParseCpus(it->get<std::string>());
  if (!millis.ok()) return InvalidArgument("field \"defaults.cpus\": " + millis.status().message());
  limits->millicpus = *millis;
  return Status::Ok();
}

// {"timeout": "10m", "memory": "512m", "cpus": 1, "pids": 256}: limits of
// the repository's steps that set none.
Status ReadDefaults(Fields& f, StepLimits* limits) {
  const json* object = nullptr;
  SLIPWAY_RETURN_IF_ERROR(f.Object("defaults", &object));
  if (!object) return Status::Ok();
  Fields d(*object, "defaults.");
  std::string timeout;
  SLIPWAY_RETURN_IF_ERROR(d.String("timeout", &timeout, false));
  if (!timeout.empty()) {
    auto ms = ParseDuration(timeout);
    if (!ms.ok()) return InvalidArgument("field \"defaults.timeout\": " + ms.status().message());
    limits->timeout_ms = ms->count();
  }
  SLIPWAY_RETURN_IF_ERROR(ReadMemory(d.Raw("memory"), limits));
  SLIPWAY_RETURN_IF_ERROR(ReadCpus(d.Raw("cpus"), limits));
  SLIPWAY_RETURN_IF_ERROR(d.Int("pids", &limits->pids, false, 1, int64_t{1} << 22));
  return d.Finish();
}

// The forge's side of a repository (docs/webhooks.md): which forge, its name
// there, the status API; the webhook secret and the status token are read
// here and only ever handed to the registry, which seals them.
Status ReadForge(Fields& f, Repository* repo, std::string* webhook_secret, std::string* status_token) {
  bool cancel_superseded = true;
  for (Status st :
       {f.String("forge", &repo->forge, false), f.String("full_name", &repo->full_name, false),
        f.String("status_api", &repo->status_api, false), f.String("project_id", &repo->project_id, false),
        f.String("webhook_secret", webhook_secret, false), f.String("status_token", status_token, false),
        f.Bool("cancel_superseded", &cancel_superseded)}) {
    SLIPWAY_RETURN_IF_ERROR(st);
  }
  repo->cancel_superseded = cancel_superseded;
  if (!repo->forge.empty() && !webhooks::ParseForge(repo->forge)) {
    return InvalidArgument("field \"forge\" must be github, gitea or gitlab");
  }
  if (repo->forge.empty()) {
    for (const auto& [name, value] :
         {std::pair<const char*, const std::string*>{"full_name", &repo->full_name},
          {"status_api", &repo->status_api},
          {"project_id", &repo->project_id},
          {"webhook_secret", webhook_secret},
          {"status_token", status_token}}) {
      if (!value->empty())
        return InvalidArgument(std::string("field \"") + name + "\" needs field \"forge\"");
    }
  }
  return Status::Ok();
}

class RepoRoutes {
 public:
  explicit RepoRoutes(Context& c) : c_(c) {}

  void Add(const Request& r, ReplyPtr reply);
  void List(const Request& r, ReplyPtr reply);
  void Get(const Request& r, ReplyPtr reply);
  void Branches(const Request& r, ReplyPtr reply);
  void Remove(const Request& r, ReplyPtr reply);
  void PutSecret(const Request& r, ReplyPtr reply);
  void ListSecrets(const Request& r, ReplyPtr reply);
  void RemoveSecret(const Request& r, ReplyPtr reply);
  void Trigger(const Request& r, ReplyPtr reply);

 private:
  // kFailedPrecondition while a run of `name` is queued or running: its
  // rows and files would go from under it.

  // The repository's JSON, with the URL its forge delivers webhooks to.
  json RepoJson(const Repository& repo) const {
    json body = repo.ToJsonValue();
    if (!repo.forge.empty()) body["webhook_url"] = c_.info.public_url + "/hooks/" + repo.forge;
    return body;
  }

  Context& c_;
};

void RepoRoutes::Add(const Request& r, ReplyPtr reply) {
  Fields f(r.object);
  Repository repo;
  Credential credential;
  std::string webhook_secret, status_token;
  for (Status st :
       {f.String("name", &repo.name, true), f.String("url", &repo.url, true),
        f.String("branch_filter", &repo.branch_filter, false), ReadCredential(f, r.object, &credential),
        ReadDefaults(f, &repo.defaults), ReadForge(f, &repo, &webhook_secret, &status_token), f.Finish()}) {
    if (!st.ok()) return reply->Error(st);
  }
  std::string made_secret;
  const bool forge = !repo.forge.empty();
  auto added = forge ? c_.repos.Add(std::move(repo), credential, webhook_secret, status_token, &made_secret)
                     : c_.repos.Add(std::move(repo), credential);
  if (!added.ok()) return reply->Error(added.status());
  c_.log.Info("repo.added", {{"repo", added->name},
                             {"credential", added->credential_kind},
                             {"forge", added->forge},
                             {"status_token", !added->status_token_sealed.empty()}});
  json body = RepoJson(*added);
  // A secret slipwayd made is shown this once, to be pasted into the forge;
  // one the client gave is never echoed.
  if (!made_secret.empty()) body["webhook_secret"] = made_secret;
  reply->Json(201, body);
}

void RepoRoutes::List(const Request&, ReplyPtr reply) {
  auto repos = c_.repos.List();
  if (!repos.ok()) return reply->Error(repos.status());
  json list = json::array();
  for (const Repository& repo : *repos) list.push_back(RepoJson(repo));
  json body;
  body["repos"] = std::move(list);
  reply->Json(200, body);
}

void RepoRoutes::Get(const Request& r, ReplyPtr reply) {
  auto repo = c_.repos.Get(r.Param("name"));
  if (!repo.ok()) return reply->Error(repo.status());
  reply->Json(200, RepoJson(*repo));
}

// GET /api/v1/repos/:name/branches: each branch with runs and its newest run.
void RepoRoutes::Branches(const Request& r, ReplyPtr reply) {
  auto runs = c_.store.ListBranches(r.Param("name"));
  if (!runs.ok()) return reply->Error(runs.status());
  json list = json::array();
  for (const pipelines::Run& run : *runs) {
    json entry;
    entry["branch"] = run.branch;
    entry["last_run"] = run.ToJsonValue();
    list.push_back(std::move(entry));
  }
  reply->Json(200, list);
}

void RepoRoutes::Remove(const Request& r, ReplyPtr reply) {
  const std::string& name = r.Param("name");
  if (Status st = c_.runs.RemoveRepository(name); !st.ok()) return reply->Error(st);
  reply->NoContent();
}

void RepoRoutes::PutSecret(const Request& r, ReplyPtr reply) {
  const std::string& name = r.Param("name");
  const std::string& key = r.Param("key");
  if (Status st = c_.repos.SetSecret(name, key, r.body); !st.ok()) return reply->Error(st);
  c_.log.Info("repo.secret_set", {{"repo", name}, {"key", key}});
  reply->NoContent();
}

void RepoRoutes::ListSecrets(const Request& r, ReplyPtr reply) {
  auto names = c_.repos.SecretNames(r.Param("name"));
  if (!names.ok()) return reply->Error(names.status());
  json body;
  body["secrets"] = *names;
  reply->Json(200, body);
}

void RepoRoutes::RemoveSecret(const Request& r, ReplyPtr reply) {
  const std::string& name = r.Param("name");
  const std::string& key = r.Param("key");
  if (Status st = c_.repos.RemoveSecret(name, key); !st.ok()) return reply->Error(st);
  c_.log.Info("repo.secret_removed", {{"repo", name}, {"key", key}});
  reply->NoContent();
}

void RepoRoutes::Trigger(const Request& r, ReplyPtr reply) {
  Fields f(r.object);
  pipelines::TriggerRequest request;
  request.repo = r.Param("name");
  for (Status st : {f.String("branch", &request.branch, false), f.String("tag", &request.tag, false),
                    f.String("commit", &request.commit, false), f.Finish()}) {
    if (!st.ok()) return reply->Error(st);
  }
  int given = !request.branch.empty() + !request.tag.empty() + !request.commit.empty();
  if (given > 1) return reply->Error(InvalidArgument("give at most one of branch, tag and commit"));
  Result<pipelines::Run> run = c_.runs.Trigger(request);
  if (!run.ok()) return reply->Error(run.status());
  reply->Json(201, run->ToJsonValue());
}

}  // namespace

void AddRepoRoutes(Router& router, Context& context) {
  auto routes = std::make_shared<RepoRoutes>(context);
  auto bind = [routes](void (RepoRoutes::*method)(const Request&, ReplyPtr)) -> Handler {
    return [routes, method](const Request& r, ReplyPtr reply) { ((*routes).*method)(r, std::move(reply)); };
  };
  const std::string base = "/api/v1/repos";
  router.Add("POST", base, kMutating | kJsonBody, {}, bind(&RepoRoutes::Add));
  router.Add("GET", base, kRead, {}, bind(&RepoRoutes::List));
  router.Add("GET", base + "/:name", kRead, {}, bind(&RepoRoutes::Get));
  router.Add("GET", base + "/:name/branches", kRead, {}, bind(&RepoRoutes::Branches));
  router.Add("DELETE", base + "/:name", kMutating, {}, bind(&RepoRoutes::Remove));
  router.Add("GET", base + "/:name/secrets", kReadOnly, {}, bind(&RepoRoutes::ListSecrets));
  router.Add("PUT", base + "/:name/secrets/:key", kMutating | kRawBody, {}, bind(&RepoRoutes::PutSecret));
  router.Add("DELETE", base + "/:name/secrets/:key", kMutating, {}, bind(&RepoRoutes::RemoveSecret));
  router.Add("POST", base + "/:name/runs", kMutating | kJsonBody, {}, bind(&RepoRoutes::Trigger));
}

}  // namespace slipway::daemon::api
