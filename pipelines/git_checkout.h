// Writing one commit's tree from a repository into a directory, safely
// against a hostile tree. The contract is GitMirror::Checkout's
// (git_mirror.h), which holds the mirror's lock around it.
#pragma once

#include <git2/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "engine/base/status.h"

namespace slipway::pipelines {

struct CheckoutResult {
  // Submodule entries (gitlinks) are not checked out: their paths, for the
  // run's log.
  std::vector<std::string> skipped_submodules;
  size_t files = 0;  // regular files and symlinks written
};

// The tree of `commit` into `workspace` (absent or an empty directory),
// through <workspace>.tmp-<hex> and a rename.
Result<CheckoutResult> CheckoutTree(git_repository* repo, const git_oid& commit,
                                    const std::string& workspace);

}  // namespace slipway::pipelines
