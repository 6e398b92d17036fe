// GitHub's webhook payloads ("Webhook events and payloads"): push, ping and
// pull_request, under X-GitHub-Event, with X-GitHub-Delivery as the id.
#include "webhooks/forge_parse.h"

namespace slipway::webhooks::internal {
namespace {

using nlohmann::json;

const std::vector<Path> kUrls = {{"repository", "clone_url"},
                                 {"repository", "ssh_url"},
                                 {"repository", "git_url"},
                                 {"repository", "html_url"}};

Result<ForgeEvent> Push(const Headers& headers, const json& body) {
  ForgeEvent event;
  event.forge = Forge::kGitHub;
  SLIPWAY_RETURN_IF_ERROR(SetRepository(event, body, {"repository", "full_name"}, kUrls));
  SLIPWAY_ASSIGN_OR_RETURN(bool deleted, OptionalBool(body, {"deleted"}));
  SLIPWAY_RETURN_IF_ERROR(SetPush(event, body, {"after"}, deleted));
  if (event.kind == EventKind::kPush || event.kind == EventKind::kTag) {
    // head_commit is the pushed head; GitHub sends null for a deletion and
    // may for a tag that points to a commit not on any branch's push.
    if (Present(body, {"head_commit"})) {
      SLIPWAY_RETURN_IF_ERROR(SetHeadCommitInfo(event, body, {"head_commit"}));
    } else {
      SLIPWAY_RETURN_IF_ERROR(SetCommitInfoFromList(event, body, {"commits"}));
    }
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::string ref, RequiredString(body, {"ref"}, kMaxRefBytes));
  SLIPWAY_RETURN_IF_ERROR(SetDeliveryId(event, headers, "x-github-delivery", "push", ref));
  return event;
}

Result<ForgeEvent> PullRequest(const Headers& headers, const json& body) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string action, RequiredString(body, {"action"}, 64));
  if (action != "opened" && action != "reopened" && action != "synchronize") {
    ForgeEvent event = Ignored(Forge::kGitHub, "pull_request action " + Quoted(action) + " is not handled");
    SLIPWAY_RETURN_IF_ERROR(SetDeliveryId(event, headers, "x-github-delivery", "pull_request", action));
    return event;
  }
  ForgeEvent event;
  event.forge = Forge::kGitHub;
  SLIPWAY_RETURN_IF_ERROR(SetGitHubStylePullRequest(event, body, kUrls));
  SLIPWAY_RETURN_IF_ERROR(SetDeliveryId(event, headers, "x-github-delivery", "pull_request", event.head_ref));
  return event;
}

Result<ForgeEvent> Ping(const Headers& headers, const json& body) {
  ForgeEvent event;
  event.forge = Forge::kGitHub;
  event.kind = EventKind::kPing;
  // An organization's hook pings without a repository.
  if (Present(body, {"repository"})) {
    SLIPWAY_RETURN_IF_ERROR(SetRepository(event, body, {"repository", "full_name"}, kUrls));
  }
  SLIPWAY_RETURN_IF_ERROR(SetDeliveryId(event, headers, "x-github-delivery", "ping", ""));
  return event;
}

}  // namespace

Result<ForgeEvent> ParseGitHub(const Headers& headers, std::string_view raw) {
  std::string name = HeaderValue(headers, "x-github-event");
  if (name.empty()) return InvalidArgument("header X-GitHub-Event is missing");
  SLIPWAY_ASSIGN_OR_RETURN(json body, ParseBody(raw));
  if (name == "push") return Push(headers, body);
  if (name == "pull_request") return PullRequest(headers, body);
  if (name == "ping") return Ping(headers, body);
  ForgeEvent event = Ignored(Forge::kGitHub, "event " + Quoted(name) + " is not handled");
  SLIPWAY_RETURN_IF_ERROR(SetDeliveryId(event, headers, "x-github-delivery", "ignored", ""));
  return event;
}

}  // namespace slipway::webhooks::internal
