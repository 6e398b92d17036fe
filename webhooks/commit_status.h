// The call that sets a commit's status on a forge: GitHub and Gitea
// `POST {api}/repos/{owner}/{repo}/statuses/{sha}`, GitLab
// `POST {api}/projects/{id}/statuses/{sha}`. Built here, sent by slipwayd
// (this folder does no I/O).
#pragma once

#include <string>

#include "engine/base/status.h"
#include "webhooks/forge_event.h"

namespace slipway::webhooks {

// A run's state as a forge shows it. GitHub and Gitea know pending,
// success, failure and error (running -> pending, cancelled -> error);
// GitLab pending, running, success, failed and canceled.
enum class CommitState { kPending, kRunning, kSuccess, kFailure, kError, kCancelled };

struct StatusTarget {
  Forge forge = Forge::kGitHub;
  std::string api_base;    // "https://api.github.com", "https://gitea.example/api/v1", "https://gitlab.example/api/v4"
  std::string full_name;   // GitHub/Gitea: "owner/repo"
  std::string project_id;  // GitLab: the numeric id (or the URL-encoded path)
  std::string token;       // sent as "Authorization: token ..." / "PRIVATE-TOKEN: ..."
};

struct StatusUpdate {
  std::string commit;  // 40 hex
  CommitState state = CommitState::kPending;
  std::string description;  // at most 140 characters are sent (GitHub's limit)
  std::string target_url;   // the run in slipwayd's API; may be empty
  std::string context = "slipway";
};

struct HttpCall {
  std::string method;  // "POST"
  std::string url;     // absolute
  Headers headers;     // includes the token: never log them
  std::string body;    // JSON
};

// kInvalidArgument for a target or commit that cannot make a call (an
// api_base that is not http(s), a bad commit id).
Result<HttpCall> CommitStatusCall(const StatusTarget& target, const StatusUpdate& update);

}  // namespace slipway::webhooks
