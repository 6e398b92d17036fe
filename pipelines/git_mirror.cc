#include "pipelines/git_mirror.h"

#include <sys/file.h>

#include <map>
#include <optional>

#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "engine/runtime/log_masker.h"
#include "pipelines/git_url.h"
#include "pipelines/known_hosts.h"
#include "pipelines/libgit2.h"

namespace slipway::pipelines {

namespace {

constexpr char kTmpInfix[] = ".tmp-";

// Every secret of one fetch, to be replaced by "****" in any text that
// leaves it (libgit2's messages may quote the URL or what the server said).
// The masking is the step logs' (engine/runtime/log_masker.h), so both hide
// the same way.
class Redactor {
 public:
  Redactor(const GitUrl& url, const GitCredentials& creds)
      : url_(url), secrets_({url.password, creds.password, creds.ssh_key_passphrase}) {}
  std::string operator()(std::string text) const {
    Replace(text, url_.for_libgit2, url_.display);
    return MaskSecrets(text, secrets_);
  }

 private:
  static void Replace(std::string& text, const std::string& from, const std::string& to) {
    if (from.empty() || from == to) return;
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
      text.replace(at, from.size(), to);
    }
  }
  const GitUrl& url_;
  SecretMatcher secrets_;  // empty values (no password) are ignored
};

// What the callbacks of one fetch share with it.
struct FetchContext {
  const GitUrl* url = nullptr;
  const GitCredentials* creds = nullptr;
  int credential_calls = 0;
  bool credentials_refused = false;  // libgit2 asked again after we answered
  bool credentials_missing = false;  // nothing we have fits what the server asked for
  std::string host_key_error;        // why an ssh host key was not accepted
};

int AcquireCredential(git_credential** out, const char* /*url*/, const char* username_from_url,
                      unsigned int allowed, void* payload) {
  auto* ctx = static_cast<FetchContext*>(payload);
  const GitCredentials& c = *ctx->creds;
  std::string user = !c.username.empty() ? c.username : ctx->url->username;
  if (user.empty() && username_from_url) user = username_from_url;
  // ssh without a user in the URL: libgit2 first asks for the user name
  // alone, then for the key. That first question is not an attempt.
  if (allowed == GIT_CREDENTIAL_USERNAME)
    return git_credential_username_new(out, user.empty() ? "git" : user.c_str());
  // libgit2 asks again only when the server refused what we gave: giving the
  // same again would loop (and could lock an account).
  if (++ctx->credential_calls > 1) {
    ctx->credentials_refused = true;
    git_error_set_str(GIT_ERROR_NET, "the server refused the credentials");
    return GIT_EAUTH;
  }
  std::string password = !c.password.empty() ? c.password : ctx->url->password;
  if ((allowed & GIT_CREDENTIAL_SSH_KEY) && !c.ssh_key_path.empty()) {
    return git_credential_ssh_key_new(out, user.empty() ? "git" : user.c_str(), nullptr,
                                      c.ssh_key_path.c_str(),
                                      c.ssh_key_passphrase.empty() ? nullptr : c.ssh_key_passphrase.c_str());
  }
  if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && !password.empty()) {
    return git_credential_userpass_plaintext_new(out, user.empty() ? "x-access-token" : user.c_str(),
                                                 password.c_str());
  }
  if ((allowed & GIT_CREDENTIAL_USERNAME) && !user.empty()) {
    return git_credential_username_new(out, user.c_str());
  }
  ctx->credentials_missing = true;
  git_error_set_str(GIT_ERROR_NET, "the server asks for credentials and none that fit are configured");
  return GIT_EAUTH;
}

int CheckCertificate(git_cert* cert, int /*valid*/, const char* host, void* payload) {
  auto* ctx = static_cast<FetchContext*>(payload);
  if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2) {
    return GIT_PASSTHROUGH;  // TLS: OpenSSL's verdict against the system's CAs stands
  }
  auto* key = reinterpret_cast<git_cert_hostkey*>(cert);
  const std::string& known_hosts = ctx->creds->ssh_known_hosts;
  if (known_hosts.empty()) {
    ctx->host_key_error = "no ssh known_hosts file is configured for this repository, so the host key of " +
                          std::string(host) + " cannot be checked";
  } else if (!(key->type & GIT_CERT_SSH_RAW)) {
    ctx->host_key_error = "the ssh host key of " + std::string(host) + " is not available to check";
  } else {
    auto listed = KnownHostsLists(known_hosts, ctx->url->host, ctx->url->port,
                                  std::string_view(key->hostkey, key->hostkey_len));
    if (listed.ok() && *listed) return 0;
    ctx->host_key_error =
        listed.ok() ? "the ssh host key of " + std::string(host) + " is not listed in " + known_hosts
                    : listed.status().message();
  }
  git_error_set_str(GIT_ERROR_SSH, ctx->host_key_error.c_str());
  return GIT_ECERTIFICATE;
}

// The refs `what` may name, in the order they are tried.
std::vector<std::string> CandidateRefs(const std::string& what) {
  if (what.starts_with("refs/")) return {what};
  return {"refs/heads/" + what, "refs/tags/" + what};
}

bool IsFullCommitId(const std::string& what) {
  if (what.size() != GIT_OID_HEXSZ) return false;
  for (char c : what) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The commit that object `oid` is or (annotated tags) points to.
Result<std::string> PeelToCommit(git_repository* repo, const git_oid& oid, const std::string& what) {
  git_object* raw = nullptr;
  if (git_object_lookup(&raw, repo, &oid, GIT_OBJECT_ANY) != 0) {
    return NotFound("no commit " + what + " in the mirror");
  }
  GitObject object(raw);
  git_object* peeled = nullptr;
  if (git_object_peel(&peeled, object.get(), GIT_OBJECT_COMMIT) != 0) {
    return InvalidArgument(what + " does not name a commit");
  }
  GitObject commit(peeled);
  return OidHex(*git_object_id(commit.get()));
}

// `what` in `repo`, where `ref_target` looks a ref name up (in the mirror's
// refs, or in what the remote advertised).
template <typename Lookup>
Result<std::string> ResolveWith(git_repository* repo, const std::string& what, Lookup ref_target) {
  if (what.empty()) return InvalidArgument("empty branch, tag or commit");
  if (IsFullCommitId(what)) {
    git_oid oid;
    git_oid_fromstr(&oid, what.c_str());
    return PeelToCommit(repo, oid, what);
  }
  for (const std::string& ref : CandidateRefs(what)) {
    if (std::optional<git_oid> oid = ref_target(ref)) return PeelToCommit(repo, *oid, what);
  }
  return NotFound("no branch, tag or commit \"" + what + "\"");
}

Result<std::string> ResolveInRepo(git_repository* repo, const std::string& what) {
  return ResolveWith(repo, what, [&](const std::string& ref) -> std::optional<git_oid> {
    git_oid oid;
    if (git_reference_name_to_id(&oid, repo, ref.c_str()) != 0) return std::nullopt;
    return oid;
  });
}

Code FetchErrorCode(int rc, const FetchContext& ctx) {
  if (ctx.credentials_refused || ctx.credentials_missing) return Code::kUnauthenticated;
  if (!ctx.host_key_error.empty() || rc == GIT_ECERTIFICATE) return Code::kPermissionDenied;
  if (rc == GIT_ENOTFOUND) return Code::kNotFound;
  const git_error* e = git_error_last();
  if (rc == GIT_EAUTH) return Code::kUnauthenticated;
  if (e && (e->klass == GIT_ERROR_NET || e->klass == GIT_ERROR_OS || e->klass == GIT_ERROR_SSH ||
            e->klass == GIT_ERROR_HTTP || e->klass == GIT_ERROR_SSL)) {
    return Code::kUnavailable;
  }
  return Code::kInternal;
}

// Removes <path>.tmp-* (mirrors whose creation a crash interrupted). Only
// under the exclusive lock, when nobody can be creating one.
std::string ParentOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Removes <path>.tmp-* (mirrors whose creation a crash interrupted). Only
// under the exclusive lock, when nobody can be creating one.
Status RemoveLeftovers(const std::string& path) {
  std::string dir = ParentOf(path);
  std::string prefix = path.substr(path.find_last_of('/') + 1) + kTmpInfix;  // npos + 1 == 0
  for (const std::string& name : ListDir(dir)) {
    if (name.starts_with(prefix)) SLIPWAY_RETURN_IF_ERROR(RemoveTree(dir + "/" + name));
  }
  return Status::Ok();
}

// `what` becomes part of a refspec when it is a ref outside heads and tags:
// it must be one valid ref name, not a pattern or a "src:dst" pair.
Status CheckWhat(const std::string& what) {
  if (what.empty()) return InvalidArgument("empty branch, tag or commit");
  int valid = 0;
  if (what.starts_with("refs/") && (git_reference_name_is_valid(&valid, what.c_str()) != 0 || !valid ||
                                    what.find('*') != std::string::npos)) {
    return InvalidArgument("\"" + what + "\" is not a valid ref name");
  }
  return Status::Ok();
}

}  // namespace

GitMirror::GitMirror(std::string path) : path_(std::move(path)) {
  while (path_.size() > 1 && path_.back() == '/') path_.pop_back();
  lock_path_ = path_ + ".lock";
}

Result<FetchResult> GitMirror::Fetch(const std::string& url, const GitCredentials& credentials,
                                     const std::string& what) {
  InitLibgit2();
  SLIPWAY_ASSIGN_OR_RETURN(GitUrl u, ParseGitUrl(url));
  Redactor redact(u, credentials);
  const std::string context = "fetch " + u.display;
  SLIPWAY_RETURN_IF_ERROR(CheckWhat(what).Wrap(context));

  SLIPWAY_RETURN_IF_ERROR(MakeDirs(ParentOf(path_), 0700));
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd lock, LockFile(lock_path_, LOCK_EX));
  SLIPWAY_RETURN_IF_ERROR(RemoveLeftovers(path_));

  FetchResult result;
  result.created = !PathExists(path_);
  // A new mirror is made beside its final place and renamed there only once
  // its first fetch succeeded: no crash leaves half a mirror at `path_`.
  std::string dir = result.created ? path_ + kTmpInfix + RandomHex(8) : path_;
  git_repository* raw_repo = nullptr;
  int rc = result.created ? git_repository_init(&raw_repo, dir.c_str(), /*is_bare=*/1)
                          : git_repository_open_bare(&raw_repo, dir.c_str());
  if (rc != 0) {
    Status st = Internal(context + ": " + (result.created ? "create" : "open") + " mirror " + dir + ": " +
                         GitErrorMessage());
    if (result.created) (void)RemoveTree(dir);
    return st;
  }
  GitRepository repo(raw_repo);
  auto fail = [&](Status st) {
    repo.reset();
    if (result.created) {
      Status rm = RemoveTree(dir);
      if (!rm.ok())
        st = Status(st.code(), st.message() + " (and removing " + dir + ": " + rm.message() + ")");
    }
    return st;
  };

  FetchContext ctx;
  ctx.url = &u;
  ctx.creds = &credentials;
  auto git_failure = [&](int code, const std::string& step) {
    std::string message = redact(GitErrorMessage());
    return fail(Status(FetchErrorCode(code, ctx), context + ": " + step + message));
  };

  git_remote* raw_remote = nullptr;
  if ((rc = git_remote_create_anonymous(&raw_remote, repo.get(), u.for_libgit2.c_str())) != 0) {
    return git_failure(rc, "");
  }
  GitRemote remote(raw_remote);

  git_remote_callbacks callbacks = GIT_REMOTE_CALLBACKS_INIT;
  callbacks.credentials = AcquireCredential;
  callbacks.certificate_check = CheckCertificate;
  callbacks.payload = &ctx;
  git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
  opts.callbacks = callbacks;
  opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;  // tags come through the refspec
  opts.update_fetchhead = 0;
  opts.follow_redirects = GIT_REMOTE_REDIRECT_INITIAL;  // like git: not to another host mid-fetch

  // A mirror: the remote's branches and tags as they are, force-updated
  // (a force push upstream is what the mirror must show), plus `what` when
  // it is another ref (refs/pull/1/head).
  std::vector<std::string> specs = {"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"};
  if (what.starts_with("refs/") && !what.starts_with("refs/heads/") && !what.starts_with("refs/tags/")) {
    specs.push_back("+" + what + ":" + what);
  }
  std::vector<char*> spec_ptrs;
  for (std::string& s : specs) spec_ptrs.push_back(s.data());
  git_strarray refspecs{spec_ptrs.data(), spec_ptrs.size()};

  if ((rc = git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &opts.callbacks, &opts.proxy_opts,
                               &opts.custom_headers)) != 0) {
    return git_failure(rc, "");
  }
  // Objects first; refs only once `what` is known to be there, so an unknown
  // branch or commit leaves every ref as it was.
  if ((rc = git_remote_download(remote.get(), &refspecs, &opts)) != 0) return git_failure(rc, "");
  result.received_objects = git_remote_stats(remote.get())->received_objects;

  const git_remote_head** heads = nullptr;
  size_t head_count = 0;
  if ((rc = git_remote_ls(&heads, &head_count, remote.get())) != 0) return git_failure(rc, "");
  std::map<std::string, git_oid> advertised;
  for (size_t i = 0; i < head_count; ++i) advertised.emplace(heads[i]->name, heads[i]->oid);
  auto commit = ResolveWith(repo.get(), what, [&](const std::string& ref) -> std::optional<git_oid> {
    auto it = advertised.find(ref);
    if (it == advertised.end()) return std::nullopt;
    return it->second;
  });
  if (!commit.ok()) return fail(commit.status().Wrap(context));
  result.commit = *commit;

  if ((rc = git_remote_update_tips(remote.get(), &opts.callbacks, /*update_fetchhead=*/0,
                                   GIT_REMOTE_DOWNLOAD_TAGS_NONE, "slipway fetch")) != 0) {
    return git_failure(rc, "update refs: ");
  }
  if ((rc = git_remote_prune(remote.get(), &opts.callbacks)) != 0) return git_failure(rc, "prune refs: ");
  git_remote_disconnect(remote.get());
  remote.reset();
  repo.reset();

  if (result.created) {
    Status st = FsyncDir(dir);
    if (st.ok()) st = RenameNoReplace(dir, path_);
    if (!st.ok()) return fail(st);
    SLIPWAY_RETURN_IF_ERROR(FsyncDir(ParentOf(path_)));
  }
  return result;
}

Result<std::string> GitMirror::Resolve(const std::string& what) const {
  InitLibgit2();
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd lock, LockFile(lock_path_, LOCK_SH));
  git_repository* raw = nullptr;
  if (git_repository_open_bare(&raw, path_.c_str()) != 0) {
    return NotFound("open mirror " + path_ + ": " + GitErrorMessage());
  }
  GitRepository repo(raw);
  auto commit = ResolveInRepo(repo.get(), what);
  if (!commit.ok()) return commit.status().Wrap("mirror " + path_);
  return commit;
}

Result<CheckoutResult> GitMirror::Checkout(const std::string& commit, const std::string& workspace) const {
  InitLibgit2();
  if (!IsFullCommitId(commit)) {
    return InvalidArgument("check out \"" + commit + "\": not a full commit id (40 lowercase hex digits)");
  }
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd lock, LockFile(lock_path_, LOCK_SH));
  git_repository* raw = nullptr;
  if (git_repository_open_bare(&raw, path_.c_str()) != 0) {
    return NotFound("open mirror " + path_ + ": " + GitErrorMessage());
  }
  GitRepository repo(raw);
  git_oid oid;
  git_oid_fromstr(&oid, commit.c_str());
  return CheckoutTree(repo.get(), oid, workspace);
}

Result<CommitInfo> GitMirror::Describe(const std::string& commit) const {
  InitLibgit2();
  if (!IsFullCommitId(commit)) {
    return InvalidArgument("describe \"" + commit + "\": not a full commit id (40 lowercase hex digits)");
  }
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd lock, LockFile(lock_path_, LOCK_SH));
  git_repository* raw_repo = nullptr;
  if (git_repository_open_bare(&raw_repo, path_.c_str()) != 0) {
    return NotFound("open mirror " + path_ + ": " + GitErrorMessage());
  }
  GitRepository repo(raw_repo);
  git_oid oid;
  git_oid_fromstr(&oid, commit.c_str());
  git_commit* raw = nullptr;
  if (git_commit_lookup(&raw, repo.get(), &oid) != 0) {
    return NotFound("commit " + commit + " in mirror " + path_ + ": " + GitErrorMessage());
  }
  GitCommit c(raw);
  CommitInfo info;
  if (const git_signature* who = git_commit_author(c.get())) {
    info.author = std::string(who->name ? who->name : "") + " <" + (who->email ? who->email : "") + ">";
  }
  const char* summary = git_commit_summary(c.get());
  info.message = summary ? summary : "";
  // A summary is the whole first paragraph, unbounded: a run keeps a line.
  if (info.message.size() > 200) info.message.resize(200);
  return info;
}

}  // namespace slipway::pipelines
