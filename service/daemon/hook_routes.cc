// POST /hooks/github, /hooks/gitea, /hooks/gitlab: a forge's webhook
// delivery starts a run (docs/api.md, "Webhooks"; docs/webhooks.md).
//
// Each delivery goes through, in this order, and stops at the first that
// answers:
//   body size (the framing, before a byte of it is read: 413)
//   -> parse (webhooks::ParseDelivery: 400 naming the field; an event not
//      handled that names no repository: 202 {"ignored": why} at once)
//   -> the repository (RepoRegistry::Match: 404)
//   -> its signature (webhooks::VerifyDelivery with the repository's
//      webhook secret: 401, logged with the repository and why)
//   -> ping: 200 {"pong": true}
//   -> dedup (RunStore::RecordDelivery: a delivery seen before is 200
//      {"duplicate": true}; recorded only once authentic, so that a flood of
//      forged deliveries cannot fill the table)
//   -> events not handled, branch deletions, branches the repository's
//      branch_filter does not match: 202 {"ignored": why}, no run
//   -> RunService::Trigger: 201 {"run": ...}.
// Nothing here waits for the network: the run is only queued (the fetch
// happens on the run's own thread), so the forge gets its answer in
// milliseconds, as GitHub (10 s) and GitLab expect.
#include <utility>

#include "engine/base/time.h"
#include "pipelines/when.h"
#include "service/daemon/api_routes.h"
#include "webhooks/forge_event.h"
#include "webhooks/signature.h"

namespace slipway::daemon::api {

namespace {

using webhooks::EventKind;
using webhooks::ForgeEvent;

pipelines::Event RunEventOf(EventKind kind) {
  switch (kind) {
    case EventKind::kTag: return pipelines::Event::kTag;
    case EventKind::kPullRequest: return pipelines::Event::kPullRequest;
    default: return pipelines::Event::kPush;
  }
}

// Why a delivery of this repository starts no run, or "" if it starts one.
// The branch filter applies to branches (a push's, and a pull request's
// target); tags pass it, as a step's `when: branches` does not filter tag
// runs either (pipelines/when.h): a tag is a deliberate release, and the
// pipeline's `when: tags` decides what it runs.
std::string NoRunReason(const ForgeEvent& event, const pipelines::Repository& repo) {
  switch (event.kind) {
    case EventKind::kIgnored: return event.ignored_reason;
    case EventKind::kBranchDeleted:
      return (event.tag.empty() ? "branch " + event.branch : "tag " + event.tag) + " deleted: nothing to run";
    case EventKind::kPing: return "ping";
    case EventKind::kTag: return "";
    case EventKind::kPush:
    case EventKind::kPullRequest:
      if (!repo.branch_filter.empty() && !pipelines::GlobMatches(repo.branch_filter, event.branch)) {
        return "no run: branch " + event.branch + " does not match the filter " + repo.branch_filter;
      }
      return "";
  }
  return "unknown event";
}

class HookRoutes {
 public:
  explicit HookRoutes(Context& c) : c_(c) {}

  void Deliver(webhooks::Forge forge, const Request& r, ReplyPtr reply);

 private:
  Context& c_;
};

void HookRoutes::Deliver(webhooks::Forge forge, const Request& r, ReplyPtr reply) {
  const char* forge_name = webhooks::ForgeName(forge);
  Result<ForgeEvent> parsed = webhooks::ParseDelivery(forge, r.headers, r.body);
  if (!parsed.ok()) return reply->Error(parsed.status());
  const ForgeEvent& event = *parsed;
  // An event not handled that names no repository (parsers skip the body
  // of events they ignore): nothing to verify it against, and nothing will
  // be queued or recorded for it, so it is answered as ignored at once.
  if (event.kind == EventKind::kIgnored && event.full_name.empty() && event.clone_urls.empty()) {
    json body;
    body["ignored"] = event.ignored_reason;
    return reply->Json(202, body);
  }

  Result<pipelines::Repository> repo = c_.repos.Match(forge_name, event.full_name, event.clone_urls);
  if (!repo.ok()) {
    if (repo.status().code() != Code::kNotFound) return reply->Error(repo.status());
    // The name comes from the (not yet authenticated) body: it is shown
    // only as far as the parser accepted it.
    return reply->Error(404, "not_found",
                        std::string("no repository registered for ") + forge_name + " repository \"" +
                            event.full_name + "\" (slipway repo add --forge " + forge_name +
                            " --full-name ...)");
  }

  // A repository without a secret takes no deliveries: an unsigned hook
  // would let anyone who can reach slipwayd start runs.
  Status verified;
  Result<std::string> secret = c_.repos.WebhookSecret(*repo);
  if (secret.ok()) {
    verified = webhooks::VerifyDelivery(forge, r.headers, r.body, *secret);
  } else if (secret.status().code() == Code::kNotFound) {
    verified = Status(Code::kUnauthenticated, "the repository has no webhook secret");
  } else {
    return reply->Error(secret.status());
  }
  if (!verified.ok()) {
    c_.log.Warn("webhook.refused",
                {{"forge", forge_name}, {"repo", repo->name}, {"why", verified.message()}});
    return reply->Error(401, "unauthenticated",
                        "delivery refused for repository " + repo->name + ": " + verified.message());
  }

  if (event.kind == EventKind::kPing) {
    c_.log.Info("webhook.ping", {{"forge", forge_name}, {"repo", repo->name}});
    json body;
    body["pong"] = true;
    body["repo"] = repo->name;
    return reply->Json(200, body);
  }

  Result<bool> first = c_.store.RecordDelivery(forge_name, event.delivery_id, NowUnixMs(),
                                               static_cast<int64_t>(c_.delivery_keep.count()));
  if (!first.ok()) return reply->Error(first.status());
  if (!*first) {
    c_.log.Info("webhook.duplicate",
                {{"forge", forge_name}, {"repo", repo->name}, {"delivery", event.delivery_id}});
    json body;
    body["duplicate"] = true;
    body["delivery"] = event.delivery_id;
    body["repo"] = repo->name;
    return reply->Json(200, body);
  }

  if (std::string why = NoRunReason(event, *repo); !why.empty()) {
    c_.log.Info("webhook.ignored", {{"forge", forge_name},
                                    {"repo", repo->name},
                                    {"event", webhooks::EventKindName(event.kind)},
                                    {"delivery", event.delivery_id},
                                    {"why", why}});
    json body;
    body["ignored"] = why;
    body["repo"] = repo->name;
    return reply->Json(202, body);
  }

  pipelines::TriggerRequest request;
  request.repo = repo->name;
  request.event = RunEventOf(event.kind);
  request.commit = event.commit;
  if (event.kind == EventKind::kTag) {
    request.tag = event.tag;
  } else {
    request.branch = event.branch;
  }
  request.author = event.author;
  request.message = event.message;
  request.pull_request = event.pull_request;
  request.head_ref = event.head_ref;
  request.no_secrets = event.from_fork;
  Result<pipelines::Run> run = c_.runs.Trigger(request);
  if (!run.ok()) {
    // Nothing was queued: the forge's retry of this delivery must run, not
    // be answered as a replay.
    Status forgot = c_.store.ForgetDelivery(forge_name, event.delivery_id);
    c_.log.Error("webhook.trigger_failed", {{"forge", forge_name},
                                            {"repo", repo->name},
                                            {"delivery", event.delivery_id},
                                            {"error", run.status().message()},
                                            {"forgotten", forgot.ok()}});
    return reply->Error(run.status());
  }
  c_.log.Info("webhook.run", {{"forge", forge_name},
                              {"repo", repo->name},
                              {"event", webhooks::EventKindName(event.kind)},
                              {"delivery", event.delivery_id},
                              {"run", run->id}});
  json body;
  body["run"] = run->ToJsonValue();
  reply->Json(201, body);
}

}  // namespace

void AddHookRoutes(Router& router, Context& context) {
  auto routes = std::make_shared<HookRoutes>(context);
  for (webhooks::Forge forge :
       {webhooks::Forge::kGitHub, webhooks::Forge::kGitea, webhooks::Forge::kGitLab}) {
    router.Add(
        "POST", std::string("/hooks/") + webhooks::ForgeName(forge), kMutating | kWebhook, {},
        [routes, forge](const Request& r, ReplyPtr reply) { routes->Deliver(forge, r, std::move(reply)); });
  }
}

}  // namespace slipway::daemon::api
