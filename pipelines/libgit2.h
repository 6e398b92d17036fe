// libgit2 for the pipelines module: one-time initialisation, owning handles,
// and its last error as text. Internal to pipelines/git_*.cc.
#pragma once

#include <git2.h>

#include <memory>
#include <string>

namespace slipway::pipelines {

// git_libgit2_init once per process, and no global, XDG or system config:
// what the mirrors do must not depend on a .gitconfig in slipwayd's HOME
// (url.insteadOf, proxies, credential helpers). Never shut down: other
// threads may still use it. Writes into repositories are fsync'ed.
void InitLibgit2();

template <typename T, void (*Free)(T*)>
struct GitFree {
  void operator()(T* p) const { Free(p); }
};
using GitRepository = std::unique_ptr<git_repository, GitFree<git_repository, git_repository_free>>;
using GitRemote = std::unique_ptr<git_remote, GitFree<git_remote, git_remote_free>>;
using GitObject = std::unique_ptr<git_object, GitFree<git_object, git_object_free>>;
using GitCommit = std::unique_ptr<git_commit, GitFree<git_commit, git_commit_free>>;
using GitTree = std::unique_ptr<git_tree, GitFree<git_tree, git_tree_free>>;
using GitBlob = std::unique_ptr<git_blob, GitFree<git_blob, git_blob_free>>;
using GitReference = std::unique_ptr<git_reference, GitFree<git_reference, git_reference_free>>;

// The calling thread's last libgit2 error message (libgit2 keeps it per
// thread), or "unknown libgit2 error". May hold a URL: callers redact it.
std::string GitErrorMessage();

// A 40-hex object id.
std::string OidHex(const git_oid& oid);

}  // namespace slipway::pipelines
