// Small filesystem helpers whose errors name the call and the path.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "engine/base/status.h"

namespace slipway {

Result<std::string> ReadFile(const std::string& path);
// Writes `data` to an existing file (cgroup and proc files) without creating it.
Status WriteExisting(const std::string& path, std::string_view data);
// Writes `data` to `path` atomically: a temp file in the same dir, rename.
// With `durable`, fsync first (skip it for runtime state on tmpfs, which a
// reboot loses anyway).
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                       bool durable = true);
// mkdir -p. Existing directories are fine.
Status MakeDirs(const std::string& path, mode_t mode = 0755);
// rm -rf that never crosses into another filesystem (a leftover mount point is
// an error, not something to delete through).
Status RemoveTree(const std::string& path);
bool PathExists(const std::string& path);
// A random lowercase hex string of `bytes` * 2 characters, from getrandom(2).
std::string RandomHex(size_t bytes);

}  // namespace slipway
