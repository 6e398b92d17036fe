#include "webhooks/commit_status.h"

#include <nlohmann/json.hpp>

#include "engine/base/ascii.h"
#include "engine/base/url.h"

namespace slipway::webhooks {
namespace {

// GitHub refuses a longer description; Gitea and GitLab take it as well.
constexpr size_t kMaxDescriptionChars = 140;

const char* GitHubState(CommitState s) {
  switch (s) {
    case CommitState::kPending:
    case CommitState::kRunning: return "pending";
    case CommitState::kSuccess: return "success";
    case CommitState::kFailure: return "failure";
    case CommitState::kError:
    case CommitState::kCancelled: return "error";
  }
  return "error";
}

const char* GitLabState(CommitState s) {
  switch (s) {
    case CommitState::kPending: return "pending";
    case CommitState::kRunning: return "running";
    case CommitState::kSuccess: return "success";
    case CommitState::kFailure:
    case CommitState::kError: return "failed";
    case CommitState::kCancelled: return "canceled";
  }
  return "failed";
}

// The first `max_chars` code points of `s` (a lead byte and its
// continuation bytes count once), never cutting a sequence.
std::string TruncateUtf8(std::string_view s, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (chars == max_chars) return std::string(s.substr(0, i));
      ++chars;
    }
  }
  return std::string(s);
}

Result<std::string> ApiBase(std::string_view base) {
  if (base.substr(0, 8) != "https://" && base.substr(0, 7) != "http://") {
    return InvalidArgument("status target: api_base is not an http(s) URL");
  }
  if (HasControlChar(base) || base.find_first_of(" ?#") != std::string_view::npos) {
    return InvalidArgument("status target: api_base holds a space, a control character, '?' or '#'");
  }
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return std::string(base);
}

// owner/repo as two encoded path segments.
Result<std::string> RepoPath(std::string_view full_name) {
  size_t slash = full_name.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == full_name.size() ||
      full_name.find('/', slash + 1) != std::string_view::npos) {
    return InvalidArgument("status target: full_name is not owner/repo");
  }
  return PercentEncode(full_name.substr(0, slash)) + "/" + PercentEncode(full_name.substr(slash + 1));
}

}  // namespace

Result<HttpCall> CommitStatusCall(const StatusTarget& target, const StatusUpdate& update) {
  if (update.commit.size() != 40 || !IsLowerHex(update.commit)) {
    return InvalidArgument("status update: commit is not a commit id (40 lowercase hex digits)");
  }
  // The token goes into a header: a newline in it would split the request.
  if (target.token.empty() || HasControlChar(target.token)) {
    return InvalidArgument("status target: token is empty or holds a control character");
  }
  if (HasControlChar(update.target_url)) {
    return InvalidArgument("status update: target_url holds a control character");
  }
  if (update.context.empty()) return InvalidArgument("status update: context is empty");
  SLIPWAY_ASSIGN_OR_RETURN(std::string base, ApiBase(target.api_base));

  HttpCall call;
  call.method = "POST";
  // Header names in lowercase, like received ones (forge_event.h's Headers).
  call.headers["content-type"] = "application/json";
  call.headers["user-agent"] = "slipway";
  nlohmann::json body = nlohmann::json::object();
  std::string description = TruncateUtf8(update.description, kMaxDescriptionChars);
  switch (target.forge) {
    case Forge::kGitHub:
    case Forge::kGitea: {
      SLIPWAY_ASSIGN_OR_RETURN(std::string repo, RepoPath(target.full_name));
      call.url = base + "/repos/" + repo + "/statuses/" + update.commit;
      call.headers["authorization"] = "token " + target.token;
      call.headers["accept"] =
          target.forge == Forge::kGitHub ? "application/vnd.github+json" : "application/json";
      body["state"] = GitHubState(update.state);
      body["context"] = update.context;
      break;
    }
    case Forge::kGitLab: {
      if (target.project_id.empty()) return InvalidArgument("status target: project_id is empty");
      // A numeric id, or a project path ("group/project") encoded as one
      // segment, as GitLab's API takes it.
      call.url = base + "/projects/" + PercentEncode(target.project_id) + "/statuses/" + update.commit;
      call.headers["private-token"] = target.token;
      call.headers["accept"] = "application/json";
      body["state"] = GitLabState(update.state);
      body["name"] = update.context;
      break;
    }
  }
  if (!update.target_url.empty()) body["target_url"] = update.target_url;
  body["description"] = description;
  // Invalid UTF-8 in a description (a run's message) is replaced, not thrown on.
  call.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return call;
}

}  // namespace slipway::webhooks
