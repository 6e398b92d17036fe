// GitLab's webhook payloads ("Webhook events"): "Push Hook", "Tag Push
// Hook" and "Merge Request Hook" under X-Gitlab-Event, X-Gitlab-Event-UUID
// as the id. GitLab names its repository a project: path_with_namespace,
// a numeric id (its status API takes it), git_http_url and git_ssh_url.
#include "webhooks/forge_parse.h"

namespace slipway::webhooks::internal {
namespace {

using nlohmann::json;

const std::vector<Path> kUrls = {
    {"project", "git_http_url"}, {"project", "git_ssh_url"}, {"project", "web_url"}};

Status SetProject(ForgeEvent& event, const json& body, const Path& id_path) {
  SLIPWAY_RETURN_IF_ERROR(SetRepository(event, body, {"project", "path_with_namespace"}, kUrls));
  SLIPWAY_ASSIGN_OR_RETURN(int64_t id, RequiredId(body, id_path));
  event.project_id = std::to_string(id);
  return Status::Ok();
}

Result<ForgeEvent> Push(const Headers& headers, const json& body) {
  ForgeEvent event;
  event.forge = Forge::kGitLab;
  SLIPWAY_RETURN_IF_ERROR(
      SetProject(event, body, Present(body, {"project_id"}) ? Path{"project_id"} : Path{"project", "id"}));
  // A deletion: after is all zeros and checkout_sha null. Otherwise
  // checkout_sha is the commit to run: for an annotated tag, after is the
  // tag object and checkout_sha the commit it points to.
  SLIPWAY_ASSIGN_OR_RETURN(std::string after, CommitAt(body, {"after"}, /*allow_zero=*/true));
  bool deleted = IsZeroCommit(after) || !Present(body, {"checkout_sha"});
  SLIPWAY_RETURN_IF_ERROR(SetPush(event, body, {"checkout_sha"}, deleted));
  if (event.kind == EventKind::kPush || event.kind == EventKind::kTag) {
    SLIPWAY_RETURN_IF_ERROR(SetCommitInfoFromList(event, body, {"commits"}));
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::string ref, RequiredString(body, {"ref"}, kMaxRefBytes));
  SLIPWAY_RETURN_IF_ERROR(SetDeliveryId(event, headers, "x-gitlab-event-uuid", "push", ref));
  return event;
}

Result<ForgeEvent> MergeRequest(const Headers& headers, const json& body) {
  // An update without oldrev changed the title, labels or the like, not the
  // commits: nothing to run.
  SLIPWAY_ASSIGN_OR_RETURN(std::string action, RequiredString(body, {"object_attributes", "action"}, 64));
  bool handled = action == "open" || action == "reopen" ||
                 (action == "update" && Present(body, {"object_attributes", "oldrev"}));
  if (!handled) {
    std::string reason = action == "update" ? "merge request update without new commits is not handled"
                                            : "merge request action " + Quoted(action) + " is not handled";
    ForgeEvent event = Ignored(Forge::kGitLab, std::move(reason));
    SLIPWAY_RETURN_IF_ERROR(SetDeliveryId(event, headers, "x-gitlab-event-uuid", "merge_request", action));
    return event;
  }
  ForgeEvent event;
  event.forge = Forge::kGitLab;
  event.kind = EventKind::kPullRequest;
  // The project is the target's: where the merge request lives and where
  // its head is kept (refs/merge-requests/N/head).
  SLIPWAY_RETURN_IF_ERROR(SetProject(event, body, {"project", "id"}));
  SLIPWAY_ASSIGN_OR_RETURN(event.pull_request, RequiredId(body, {"object_attributes", "iid"}));
  SLIPWAY_ASSIGN_OR_RETURN(event.commit, CommitAt(body, {"object_attributes", "last_commit", "id"}));
  SLIPWAY_ASSIGN_OR_RETURN(event.branch, BranchAt(body, {"object_attributes", "target_branch"}));
  SLIPWAY_RETURN_IF_ERROR(SetHeadCommitInfo(event, body, {"object_attributes", "last_commit"}));
  event.head_ref = "refs/merge-requests/" + std::to_string(event.pull_request) + "/head";
  // A source project that is gone (source_project_id null) is no longer
  // the target: a fork's, as far as secrets go.
  SLIPWAY_ASSIGN_OR_RETURN(int64_t target, RequiredId(body, {"object_attributes", "target_project_id"}));
  if (Present(body, {"object_attributes", "source_project_id"})) {
    SLIPWAY_ASSIGN_OR_RETURN(int64_t source, RequiredId(body, {"object_attributes", "source_project_id"}));
    event.from_fork = source != target;
  } else {
    event.from_fork = true;
  }
  SLIPWAY_RETURN_IF_ERROR(
      SetDeliveryId(event, headers, "x-gitlab-event-uuid", "merge_request", event.head_ref));
  return event;
}

}  // namespace

Result<ForgeEvent> ParseGitLab(const Headers& headers, std::string_view raw) {
  std::string name = HeaderValue(headers, "x-gitlab-event");
  if (name.empty()) return InvalidArgument("header X-Gitlab-Event is missing");
  SLIPWAY_ASSIGN_OR_RETURN(json body, ParseBody(raw));
  if (name == "Push Hook" || name == "Tag Push Hook") return Push(headers, body);
  if (name == "Merge Request Hook") return MergeRequest(headers, body);
  std::string reason = name == "System Hook" ? "system hooks are not handled (register a project hook)"
                                             : "event " + Quoted(name) + " is not handled";
  ForgeEvent event = Ignored(Forge::kGitLab, std::move(reason));
  SLIPWAY_RETURN_IF_ERROR(SetDeliveryId(event, headers, "x-gitlab-event-uuid", "ignored", ""));
  return event;
}

}  // namespace slipway::webhooks::internal
