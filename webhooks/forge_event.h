// A forge's webhook delivery, parsed: what GitHub, Gitea (and Forgejo) and
// GitLab send on a push, a tag, a pull (merge) request or a ping, reduced to
// what Slipway acts on. Pure: no I/O. The body is hostile until parsed: its
// size is bounded by the caller, and every field used is checked for type,
// length and form (a commit id is 40 hex digits, a ref a valid git ref).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"

namespace slipway::webhooks {

enum class Forge { kGitHub, kGitea, kGitLab };
const char* ForgeName(Forge forge);  // "github", "gitea", "gitlab"
std::optional<Forge> ParseForge(std::string_view name);

// Request headers as received, names in lowercase.
using Headers = std::map<std::string, std::string>;

enum class EventKind {
  kPush,           // commits pushed to a branch
  kTag,            // a tag pushed (created or moved)
  kPullRequest,    // a pull/merge request opened, reopened or synchronized (new commits)
  kPing,           // the forge checking the hook (GitHub ping; answered 200)
  kBranchDeleted,  // a push deleting a branch or tag: starts nothing
  kIgnored,        // an event or action Slipway does not handle: `ignored_reason` says which
};
const char* EventKindName(EventKind kind);

struct ForgeEvent {
  Forge forge = Forge::kGitHub;
  EventKind kind = EventKind::kIgnored;
  std::string ignored_reason;  // kIgnored: e.g. "issues events are not handled", "pull_request action closed"
  // The delivery's id (X-GitHub-Delivery, X-Gitea-Delivery,
  // X-Gitlab-Event-UUID); where the forge sends none,
  // "<event>:<ref>:<commit>" from the body, so a replay is still seen.
  std::string delivery_id;
  // The repository as the forge names it, to find the registered one: its
  // full name ("owner/repo"; GitLab: path_with_namespace) and its clone URLs
  // (https and ssh, as the body gives them).
  std::string full_name;
  std::vector<std::string> clone_urls;
  std::string project_id;  // GitLab's numeric project id (its status API takes it); empty elsewhere
  // push: the branch; tag: empty; pull request: its target (base) branch.
  std::string branch;
  std::string tag;     // kTag
  std::string commit;  // 40 lowercase hex: the pushed head, or the pull request's head
  std::string author;  // "Name <email>" of the head commit where the body says
  std::string message;  // the head commit's first line, where the body says
  // Pull requests: their number, the ref that holds their head on the
  // base repository ("refs/pull/7/head", GitLab "refs/merge-requests/7/head"),
  // and whether the head comes from another repository (a fork: such runs
  // get no secrets).
  int64_t pull_request = 0;
  std::string head_ref;
  bool from_fork = false;
};

// Parses a delivery for `forge`: the event's name comes from X-GitHub-Event,
// X-Gitea-Event or X-Gitlab-Event. An event or action not handled is a
// ForgeEvent of kind kIgnored, not an error. kInvalidArgument for a body that
// is not a JSON object, or lacks a field a handled event needs, naming the
// field ("repository.full_name", "after") and never echoing its value at
// length. The signature is not checked here (signature.h).
Result<ForgeEvent> ParseDelivery(Forge forge, const Headers& headers, std::string_view body);

}  // namespace slipway::webhooks
