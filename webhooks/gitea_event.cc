// Gitea's (and Forgejo's) webhook payloads: push and pull_request under
// X-Gitea-Event (Forgejo also sends X-Forgejo-Event), X-Gitea-Delivery as
// the id. Gitea shapes them after GitHub's, with its own action names
// ("synchronized") and without git_url.
#include "webhooks/forge_parse.h"

namespace slipway::webhooks::internal {
namespace {

using nlohmann::json;

const std::vector<Path> kUrls = {
    {"repository", "clone_url"}, {"repository", "ssh_url"}, {"repository", "html_url"}};

// Gitea's header, else Forgejo's own name for it.
std::string GiteaHeader(const Headers& headers, std::string_view suffix) {
  std::string v = HeaderValue(headers, "x-gitea-" + std::string(suffix));
  return v.empty() ? HeaderValue(headers, "x-forgejo-" + std::string(suffix)) : v;
}

Status SetGiteaDeliveryId(ForgeEvent& event, const Headers& headers, std::string_view event_name,
                          std::string_view ref) {
  const char* header =
      HeaderValue(headers, "x-gitea-delivery").empty() && !HeaderValue(headers, "x-forgejo-delivery").empty()
          ? "x-forgejo-delivery"
          : "x-gitea-delivery";
  return SetDeliveryId(event, headers, header, event_name, ref);
}

Result<ForgeEvent> Push(const Headers& headers, const json& body) {
  ForgeEvent event;
  event.forge = Forge::kGitea;
  SLIPWAY_RETURN_IF_ERROR(SetRepository(event, body, {"repository", "full_name"}, kUrls));
  // Gitea has no "deleted" flag (it sends a "delete" event, and a push whose
  // after is all zeros); Forgejo's newer payloads may carry one.
  SLIPWAY_ASSIGN_OR_RETURN(bool deleted, OptionalBool(body, {"deleted"}));
  SLIPWAY_RETURN_IF_ERROR(SetPush(event, body, {"after"}, deleted));
  if (event.kind == EventKind::kPush || event.kind == EventKind::kTag) {
    if (Present(body, {"head_commit"})) {
      SLIPWAY_RETURN_IF_ERROR(SetHeadCommitInfo(event, body, {"head_commit"}));
    } else {
      SLIPWAY_RETURN_IF_ERROR(SetCommitInfoFromList(event, body, {"commits"}));
    }
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::string ref, RequiredString(body, {"ref"}, kMaxRefBytes));
  SLIPWAY_RETURN_IF_ERROR(SetGiteaDeliveryId(event, headers, "push", ref));
  return event;
}

Result<ForgeEvent> PullRequest(const Headers& headers, const json& body) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string action, RequiredString(body, {"action"}, 64));
  if (action != "opened" && action != "reopened" && action != "synchronized") {
    ForgeEvent event = Ignored(Forge::kGitea, "pull_request action " + Quoted(action) + " is not handled");
    SLIPWAY_RETURN_IF_ERROR(SetGiteaDeliveryId(event, headers, "pull_request", action));
    return event;
  }
  ForgeEvent event;
  event.forge = Forge::kGitea;
  SLIPWAY_RETURN_IF_ERROR(SetGitHubStylePullRequest(event, body, kUrls));
  SLIPWAY_RETURN_IF_ERROR(SetGiteaDeliveryId(event, headers, "pull_request", event.head_ref));
  return event;
}

}  // namespace

Result<ForgeEvent> ParseGitea(const Headers& headers, std::string_view raw) {
  std::string name = GiteaHeader(headers, "event");
  if (name.empty()) return InvalidArgument("header X-Gitea-Event is missing");
  SLIPWAY_ASSIGN_OR_RETURN(json body, ParseBody(raw));
  if (name == "push") return Push(headers, body);
  // X-Gitea-Event says "pull_request" for every pull request event; the
  // finer X-Gitea-Event-Type ("pull_request_sync") is not needed: the
  // action says it.
  if (name == "pull_request") return PullRequest(headers, body);
  std::string reason;
  if (name == "create") {
    reason = "create events are not handled (the push event of the same branch or tag is)";
  } else if (name == "delete") {
    reason = "delete events are not handled (a deletion starts nothing)";
  } else {
    reason = "event " + Quoted(name) + " is not handled";
  }
  ForgeEvent event = Ignored(Forge::kGitea, std::move(reason));
  SLIPWAY_RETURN_IF_ERROR(SetGiteaDeliveryId(event, headers, "ignored", ""));
  return event;
}

}  // namespace slipway::webhooks::internal
