#include "webhooks/forge_event.h"

#include "engine/base/ascii.h"
#include "webhooks/forge_parse.h"
#include "webhooks/git_ref.h"

namespace slipway::webhooks {

const char* ForgeName(Forge forge) {
  switch (forge) {
    case Forge::kGitHub: return "github";
    case Forge::kGitea: return "gitea";
    case Forge::kGitLab: return "gitlab";
  }
  return "unknown";
}

std::optional<Forge> ParseForge(std::string_view name) {
  if (name == "github") return Forge::kGitHub;
  // Forgejo sends what Gitea sends, under the same headers.
  if (name == "gitea" || name == "forgejo") return Forge::kGitea;
  if (name == "gitlab") return Forge::kGitLab;
  return std::nullopt;
}

const char* EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kPush: return "push";
    case EventKind::kTag: return "tag";
    case EventKind::kPullRequest: return "pull_request";
    case EventKind::kPing: return "ping";
    case EventKind::kBranchDeleted: return "branch_deleted";
    case EventKind::kIgnored: return "ignored";
  }
  return "unknown";
}

Result<ForgeEvent> ParseDelivery(Forge forge, const Headers& headers, std::string_view body) {
  switch (forge) {
    case Forge::kGitHub: return internal::ParseGitHub(headers, body);
    case Forge::kGitea: return internal::ParseGitea(headers, body);
    case Forge::kGitLab: return internal::ParseGitLab(headers, body);
  }
  return InvalidArgument("unknown forge");
}

namespace internal {
namespace {

// Cuts `s` to at most `max_bytes` without splitting a UTF-8 sequence.
std::string CutUtf8(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(0, end));
}

// One line of text fit for a log: control characters (tabs, C1) become
// spaces.
std::string OneLine(std::string_view text, size_t max_bytes) {
  size_t nl = text.find_first_of("\r\n");
  std::string line = CutUtf8(text.substr(0, nl), max_bytes);
  std::string out;
  out.reserve(line.size());
  for (size_t i = 0; i < line.size(); ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    if (c == 0xC2 && i + 1 < line.size() && static_cast<unsigned char>(line[i + 1]) <= 0x9F &&
        static_cast<unsigned char>(line[i + 1]) >= 0x80) {
      out += ' ';
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      out += ' ';
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool IsPrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7F) return false;
  }
  return true;
}

// "owner/repo", "group/sub/project": non-empty parts, single slashes.
bool IsRepoPath(std::string_view s) {
  if (s.empty() || s.front() == '/' || s.back() == '/') return false;
  if (s.find("//") != std::string_view::npos || s.find('/') == std::string_view::npos) return false;
  return s.find_first_of(" \\") == std::string_view::npos;
}

}  // namespace

std::string HeaderValue(const Headers& headers, std::string_view name) {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

ForgeEvent Ignored(Forge forge, std::string reason) {
  ForgeEvent event;
  event.forge = forge;
  event.kind = EventKind::kIgnored;
  event.ignored_reason = std::move(reason);
  return event;
}

std::string Quoted(std::string_view word) {
  if (word.empty() || word.size() > 64) return "an unnamed one";
  for (char c : word) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
              c == '_' || c == '-';
    if (!ok) return "an unnamed one";
  }
  return "\"" + std::string(word) + "\"";
}

Status SetDeliveryId(ForgeEvent& event, const Headers& headers, std::string_view name,
                     std::string_view event_name, std::string_view ref) {
  std::string id = HeaderValue(headers, name);
  if (!id.empty()) {
    if (id.size() > kMaxIdBytes || !IsPrintableAscii(id)) {
      return InvalidArgument("header " + std::string(name) + " is not a delivery id (at most " +
                             std::to_string(kMaxIdBytes) + " printable ASCII characters)");
    }
    event.delivery_id = std::move(id);
    return Status::Ok();
  }
  event.delivery_id = std::string(event_name) + ":" + std::string(ref) + ":" + event.commit;
  return Status::Ok();
}

Status SetRepository(ForgeEvent& event, const nlohmann::json& body, const Path& name_path,
                     const std::vector<Path>& url_paths) {
  SLIPWAY_ASSIGN_OR_RETURN(event.full_name, RequiredString(body, name_path, kMaxNameBytes));
  if (!IsRepoPath(event.full_name)) {
    return InvalidArgument("field " + PathName(name_path) + " is not a repository path (owner/name)");
  }
  for (const Path& p : url_paths) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string url, OptionalString(body, p, kMaxUrlBytes));
    if (url.empty()) continue;
    if (url.find(' ') != std::string::npos) {
      return InvalidArgument("field " + PathName(p) + " is not a URL (it holds a space)");
    }
    bool seen = false;
    for (const auto& u : event.clone_urls) seen = seen || u == url;
    if (!seen) event.clone_urls.push_back(std::move(url));
  }
  return Status::Ok();
}

Result<std::string> CommitAt(const nlohmann::json& body, const Path& path, bool allow_zero) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string commit, RequiredString(body, path, 64));
  if (commit.size() != 40 || !IsLowerHex(commit)) {
    return InvalidArgument("field " + PathName(path) + " is not a commit id (40 lowercase hex digits)");
  }
  if (!allow_zero && IsZeroCommit(commit)) {
    return InvalidArgument("field " + PathName(path) + " is the all-zero id, no commit");
  }
  return commit;
}

bool IsZeroCommit(std::string_view commit) {
  return commit.size() == 40 && commit.find_first_not_of('0') == std::string_view::npos;
}

Result<std::string> RefAt(const nlohmann::json& body, const Path& path) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string ref, RequiredString(body, path, kMaxRefBytes));
  if (!IsValidRefName(ref)) return InvalidArgument("field " + PathName(path) + " is not a valid git ref");
  return ref;
}

Result<std::string> BranchAt(const nlohmann::json& body, const Path& path) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string branch, RequiredString(body, path, kMaxRefBytes));
  if (!IsValidRefName("refs/heads/" + branch)) {
    return InvalidArgument("field " + PathName(path) + " is not a valid branch name");
  }
  return branch;
}

namespace {

// author and message from one commit object ({message, author: {name, email}}),
// `where` naming it in errors.
Status CommitInfo(ForgeEvent& event, const nlohmann::json& commit, const std::string& where) {
  if (!commit.is_object()) return InvalidArgument("field " + where + " is not an object");
  auto message = OptionalText(commit, {"message"}, kMaxMessageBytes);
  auto name = OptionalText(commit, {"author", "name"}, kMaxNameBytes);
  auto email = OptionalText(commit, {"author", "email"}, kMaxNameBytes);
  for (const Status* st : {&message.status(), &name.status(), &email.status()}) {
    // "field message is not a string" -> "field head_commit.message is not a string"
    if (!st->ok()) return Status(st->code(), "field " + where + "." + st->message().substr(6));
  }
  event.message = OneLine(*message, kMaxSubjectBytes);
  std::string n = OneLine(*name, kMaxNameBytes);
  std::string e = OneLine(*email, kMaxNameBytes);
  if (!n.empty() && !e.empty()) {
    event.author = n + " <" + e + ">";
  } else {
    event.author = !n.empty() ? n : e;
  }
  return Status::Ok();
}

}  // namespace

Status SetHeadCommitInfo(ForgeEvent& event, const nlohmann::json& body, const Path& commit_path) {
  const nlohmann::json* commit = Find(body, commit_path);
  if (commit == nullptr) return Status::Ok();
  return CommitInfo(event, *commit, PathName(commit_path));
}

Status SetCommitInfoFromList(ForgeEvent& event, const nlohmann::json& body, const Path& commits_path) {
  const nlohmann::json* commits = Find(body, commits_path);
  if (commits == nullptr) return Status::Ok();
  if (!commits->is_array()) return InvalidArgument("field " + PathName(commits_path) + " is not an array");
  // From the end: the head is the last commit of a push.
  for (auto it = commits->rbegin(); it != commits->rend(); ++it) {
    if (!it->is_object()) continue;
    auto id = it->find("id");
    if (id == it->end() || !id->is_string() || id->get_ref<const std::string&>() != event.commit) continue;
    return CommitInfo(event, *it, PathName(commits_path) + "[]");
  }
  return Status::Ok();
}

Status SetGitHubStylePullRequest(ForgeEvent& event, const nlohmann::json& body,
                                 const std::vector<Path>& url_paths) {
  event.kind = EventKind::kPullRequest;
  SLIPWAY_RETURN_IF_ERROR(SetRepository(event, body, {"repository", "full_name"}, url_paths));
  SLIPWAY_ASSIGN_OR_RETURN(event.pull_request, RequiredId(body, {"pull_request", "number"}));
  SLIPWAY_ASSIGN_OR_RETURN(event.commit, CommitAt(body, {"pull_request", "head", "sha"}));
  SLIPWAY_ASSIGN_OR_RETURN(event.branch, BranchAt(body, {"pull_request", "base", "ref"}));
  event.head_ref = "refs/pull/" + std::to_string(event.pull_request) + "/head";
  SLIPWAY_ASSIGN_OR_RETURN(
      std::string head_repo,
      OptionalString(body, {"pull_request", "head", "repo", "full_name"}, kMaxNameBytes));
  SLIPWAY_ASSIGN_OR_RETURN(
      std::string base_repo,
      OptionalString(body, {"pull_request", "base", "repo", "full_name"}, kMaxNameBytes));
  if (base_repo.empty()) base_repo = event.full_name;
  event.from_fork = head_repo.empty() || head_repo != base_repo;
  return Status::Ok();
}

Status SetPush(ForgeEvent& event, const nlohmann::json& body, const Path& commit_path, bool deleted) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string ref, RefAt(body, {"ref"}));
  SplitRef split = Split(ref);
  if (split.kind == RefKind::kOther) {
    event.kind = EventKind::kIgnored;
    event.ignored_reason = "a push to a ref that is neither a branch nor a tag is not handled";
    return Status::Ok();
  }
  if (split.kind == RefKind::kBranch) {
    event.branch = split.name;
  } else {
    event.tag = split.name;
  }
  const nlohmann::json* after = Find(body, commit_path);
  // A push always names its new head; GitLab's checkout_sha is null when a
  // branch is deleted, and the forges' all-zero id says the same below.
  if (!deleted && after == nullptr) return InvalidArgument("field " + PathName(commit_path) + " is missing");
  if (deleted || after->is_null()) {
    event.kind = EventKind::kBranchDeleted;
    return Status::Ok();
  }
  SLIPWAY_ASSIGN_OR_RETURN(event.commit, CommitAt(body, commit_path, /*allow_zero=*/true));
  if (IsZeroCommit(event.commit)) {
    event.commit.clear();
    event.kind = EventKind::kBranchDeleted;
    return Status::Ok();
  }
  event.kind = split.kind == RefKind::kBranch ? EventKind::kPush : EventKind::kTag;
  return Status::Ok();
}

}  // namespace internal
}  // namespace slipway::webhooks
