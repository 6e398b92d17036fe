// (internal) What the three forges' parsers share: the repository's names,
// refs, commit ids, the head commit's author and message, the delivery id.
// Each forge's parser (github_event.cc, gitea_event.cc, gitlab_event.cc)
// reads its own payload shape with these.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"
#include "webhooks/forge_event.h"
#include "webhooks/payload_json.h"

namespace slipway::webhooks::internal {

// The first line of a commit message kept in ForgeEvent::message, in bytes
// (cut on a UTF-8 boundary).
inline constexpr size_t kMaxSubjectBytes = 200;

// The value of header `name` (lowercase), or "" when absent.
std::string HeaderValue(const Headers& headers, std::string_view name);

// The delivery id from header `name` if the forge sent one (at most
// kMaxIdBytes of printable ASCII, else an error naming the header),
// otherwise "<event>:<ref>:<commit>".
Status SetDeliveryId(ForgeEvent& event, const Headers& headers, std::string_view name,
                     std::string_view event_name, std::string_view ref);

// full_name from `name_path` (required, "owner/repo" or GitLab's
// "group/sub/project": non-empty parts between single slashes) and every
// URL present at `url_paths`, in order, without duplicates.
Status SetRepository(ForgeEvent& event, const nlohmann::json& body, const Path& name_path,
                     const std::vector<Path>& url_paths);

// A required commit id at `path`: 40 lowercase hex digits. The all-zero id
// (a deletion's "after") only where `allow_zero` says so: it names no
// commit to run.
Result<std::string> CommitAt(const nlohmann::json& body, const Path& path, bool allow_zero = false);
bool IsZeroCommit(std::string_view commit);

// A required ref at `path`, valid as a git ref name.
Result<std::string> RefAt(const nlohmann::json& body, const Path& path);

// A branch name (without "refs/heads/") at `path`, valid as a git ref.
Result<std::string> BranchAt(const nlohmann::json& body, const Path& path);

// author ("Name <email>") and message (first line) from the commit object at
// `commit_path` ({message, author: {name, email}}), where present.
Status SetHeadCommitInfo(ForgeEvent& event, const nlohmann::json& body, const Path& commit_path);

// The same from the element of the array at `commits_path` whose "id" is
// event.commit (a push lists its commits; the head is usually last).
Status SetCommitInfoFromList(ForgeEvent& event, const nlohmann::json& body, const Path& commits_path);

// A push's ref, after and deletion, shared by GitHub's and Gitea's push
// events and GitLab's push and tag push hooks: kPush with branch, kTag with
// tag, kBranchDeleted, or kIgnored for another kind of ref.
// `deleted` is the forge's own flag; an all-zero or absent (GitLab: null)
// head commit means deletion too.
Status SetPush(ForgeEvent& event, const nlohmann::json& body, const Path& commit_path, bool deleted);

// A pull request in the shape GitHub and Gitea share: the repository (at
// repository.full_name and `url_paths`), its number, head commit, base
// branch, head ref ("refs/pull/N/head", which both forges keep) and whether
// it comes from a fork (its head repository is another one, or gone: a
// deleted fork gives head.repo null). Either way a fork gets no secrets.
Status SetGitHubStylePullRequest(ForgeEvent& event, const nlohmann::json& body, const std::vector<Path>& url_paths);

ForgeEvent Ignored(Forge forge, std::string reason);

// `word` quoted for a reason ("\"issues\""), if it is at most 64 letters,
// digits, spaces, '_' or '-'; otherwise "an unnamed one": reasons end up
// in answers and logs, so a hostile header or action is not echoed.
std::string Quoted(std::string_view word);

Result<ForgeEvent> ParseGitHub(const Headers& headers, std::string_view body);
Result<ForgeEvent> ParseGitea(const Headers& headers, std::string_view body);
Result<ForgeEvent> ParseGitLab(const Headers& headers, std::string_view body);

}  // namespace slipway::webhooks::internal
