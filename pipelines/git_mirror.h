// One bare mirror of a repository, kept up to date with libgit2, and
// checkouts of its commits into run workspaces.
//
// Layout, for a mirror at `path` (e.g. <data_dir>/repos/<name>.git):
//   <path>/              a bare repository: every branch and tag of the
//                        remote, as refs/heads/* and refs/tags/* (pruned)
//   <path>.lock          flock(2): exclusive for a fetch, shared for reads
//   <path>.tmp-<hex>/    a mirror being created (renamed to <path> after its
//                        first fetch succeeded; leftovers of a crash are
//                        removed by the next fetch)
//
// Concurrency: any number of GitMirror objects, threads and processes may use
// one mirror. Fetches are serialized by the lock file (a fetch waits for the
// one before it, then transfers only what is still missing); Resolve and
// Checkout hold it shared, so they never see a fetch's half-updated refs.
//
// Failure: a fetch that fails (host down, credentials refused, unknown
// commit) leaves the refs as they were; objects it already stored are
// unreferenced and harmless. A first fetch that fails leaves no mirror.
//
// Secrets: credentials (and a password inside the URL) go to libgit2's
// credential callback only; every message names the URL without its
// userinfo and has every secret replaced by "****".
//
// libgit2 reads no global, XDG or system git config here (HOME's .gitconfig
// could otherwise rewrite URLs or set proxies for slipwayd).
//
// Known limit: libgit2 1.5 has no network timeout. A server that accepts the
// connection and then stalls blocks Fetch (and, through the lock, the next
// fetches of this mirror) until the kernel drops the TCP connection; a
// caller that needs a deadline must run the fetch where it can be killed.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "pipelines/git_checkout.h"

namespace slipway::pipelines {

// How to authenticate to the remote. Every field is optional; which one is
// used depends on what the server asks for.
struct GitCredentials {
  // http(s) basic auth. A token goes into `password`; with an empty
  // `username` the user name sent is "x-access-token" (GitHub's convention;
  // GitLab and Gitea accept any name with a personal access token).
  std::string username;
  std::string password;
  // ssh: the private key file (the public key is derived from it), its
  // passphrase, and a known_hosts file. ssh is refused without
  // `ssh_known_hosts`: a host key nobody checked would hand the key's
  // signature and the code to whoever answers.
  std::string ssh_key_path;
  std::string ssh_key_passphrase;
  std::string ssh_known_hosts;
};

// Who wrote a commit and why, as a run shows it.
struct CommitInfo {
  std::string author;   // "Name <email>"
  std::string message;  // the first line (the summary), at most 200 bytes
};

struct FetchResult {
  std::string commit;           // what the fetch was asked for, as a 40-hex commit id
  bool created = false;         // this fetch created the mirror
  size_t received_objects = 0;  // objects transferred by this fetch (0: nothing new)
};

class GitMirror {
 public:
  // `path`: the mirror's directory. Its parent is created (0700) if missing.
  explicit GitMirror(std::string path);

  const std::string& path() const { return path_; }

  // Fetches every branch and tag of `url` into the mirror (creating it on
  // first use), then resolves `what` in it (see Resolve). A `what` that is a
  // ref outside refs/heads and refs/tags ("refs/pull/1/head") is fetched too;
  // it must be a valid ref name, not a pattern. Errors name the URL
  // without userinfo and the reason: kUnavailable (host down),
  // kUnauthenticated (credentials missing or refused), kNotFound (no such
  // branch, tag or commit), kInvalidArgument (bad URL).
  Result<FetchResult> Fetch(const std::string& url, const GitCredentials& credentials,
                            const std::string& what);

  // A branch, tag or commit to a 40-hex commit id, from the mirror alone (no
  // network): a full ref ("refs/heads/x", "refs/tags/v1"), a full commit id,
  // or a short name tried as refs/heads/<name>, then refs/tags/<name> (branch
  // first, unlike git's rev-parse: pipelines are triggered by branches; pass
  // "refs/tags/<name>" for a tag that shares a branch's name). Annotated tags
  // are peeled to their commit.
  Result<std::string> Resolve(const std::string& what) const;

  // Writes the tree of `commit` (a full commit id) into `workspace`, which must
  // not exist or be an empty directory, as a plain tree without .git. The
  // tree is written into <workspace>.tmp-<hex> beside it and renamed into
  // place, so a failed checkout leaves no workspace behind.
  //
  // The tree is the attacker's: entries named "", ".", "..", ".git" (any
  // case) or holding '/' are refused, as are duplicate names (a symlink
  // and a directory of the same name); every file is created relative to its
  // parent directory's descriptor with O_NOFOLLOW/O_EXCL, so no symlink in
  // the tree is ever followed. Regular files are 0644, executables 0755,
  // directories 0755; symlinks are created as they are (never followed by us;
  // in a sandbox they resolve inside its root). No device, fifo, setuid bit or
  // owner comes from the repository. Gitlinks are skipped and listed. Blobs
  // pass through git's built-in filters as `git checkout` would apply them on
  // Linux (.gitattributes of that commit: eol, ident); nothing else (no LFS,
  // no filter drivers).
  Result<CheckoutResult> Checkout(const std::string& commit, const std::string& workspace) const;

  // The author and summary of `commit` (a full commit id), from the mirror.
  Result<CommitInfo> Describe(const std::string& commit) const;

 private:
  std::string path_;
  std::string lock_path_;
};

}  // namespace slipway::pipelines
