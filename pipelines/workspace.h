// A run's workspace from a local working tree (`slipway pipeline exec`):
// the tree as it is on disk, uncommitted changes included, without .git.
#pragma once

#include <string>

#include "engine/base/status.h"

namespace slipway::pipelines {

// Copies the tree at `source` (a directory) into `target` (which must not
// exist): directories, regular files (their permission bits, no setuid,
// setgid or sticky bit, no owner) and symlinks as they are (never followed).
// The top-level .git is left out; sockets, fifos and devices are skipped.
// Every entry is opened relative to its parent's descriptor with O_NOFOLLOW,
// so a symlink swapped in while copying is never followed. The copy is made
// in <target>.tmp-<hex> and renamed into place: a failed copy leaves nothing.
Status CopyWorkingTree(const std::string& source, const std::string& target);

}  // namespace slipway::pipelines
