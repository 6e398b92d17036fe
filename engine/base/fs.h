// Small filesystem helpers whose errors name the call and the path.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/status.h"

namespace slipway {

Result<std::string> ReadFile(const std::string& path);
// read(2) until end of file from `fd` (which stays the caller's); `what`
// names it in errors.
Result<std::string> ReadAll(int fd, const std::string& what);
// write(2) until all of `data` is written; `path` names the file in errors
// (and, on a full disk, its filesystem: see FileErrnoStatus).
Status WriteAll(int fd, std::string_view data, const std::string& path);

// The mount point of the filesystem holding `path`: its topmost ancestor on
// the same device (of `path`'s parent if `path` does not exist). "" if
// neither can be examined.
std::string MountPointOf(const std::string& path);
// Status::FromErrno(err, what) for a write into the filesystem holding
// `fs_path`, except that a full disk (ENOSPC, EDQUOT) is always
// kResourceExhausted and says which filesystem is full, which the file's
// own path does not tell an operator ("write /var/lib/slipway/x: No space
// left on device (the filesystem at /var/lib is full)").
Status FileErrnoStatus(int err, const std::string& what, const std::string& fs_path);
// " (the filesystem at M is full)" for `path`, or "" if M cannot be found.
std::string FilesystemFullNote(const std::string& path);
// fsync a directory, so that a rename into it survives a crash.
Status FsyncDir(const std::string& dir);
// rename(2) that never replaces: kAlreadyExists if `to` exists (a file, or a
// non-empty directory). On a filesystem without RENAME_NOREPLACE it falls
// back to rename(2), which replaces a file: callers use it where the file
// there would be identical (content-addressed blobs and snapshots).
Status RenameNoReplace(const std::string& from, const std::string& to);
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
// The names in `dir`, without "." and "..", in no particular order; empty if
// it cannot be read.
std::vector<std::string> ListDir(const std::string& dir);
// The names in the directory open at `fd` (which stays the caller's), without
// "." and "..", in no particular order; `path` only names it in errors.
// For walks that must not resolve paths again (dirfd-relative code).
Result<std::vector<std::string>> ListDirAt(int fd, const std::string& path);
// Opens (creating, 0600) the lock file `path` and flock(2)s it with
// `operation` (LOCK_SH, LOCK_EX, | LOCK_NB), retrying on EINTR. The lock
// lasts as long as the returned descriptor, so a crash releases it. With
// LOCK_NB, a held lock is an error whose errno is EWOULDBLOCK.
Result<UniqueFd> LockFile(const std::string& path, int operation);
// A random lowercase hex string of `bytes` * 2 characters, from getrandom(2).
std::string RandomHex(size_t bytes);

}  // namespace slipway
