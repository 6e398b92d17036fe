#include "engine/image/snapshots.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "engine/base/fd.h"
#include "engine/base/fs.h"

namespace slipway {
namespace {

constexpr char kTmpPrefix[] = "tmp-";

// An exclusive flock on a directory: tells Open (in any process) that the
// tmp dir is in use. Released when the fd closes, so a crash releases it.
Result<UniqueFd> LockDir(const std::string& path, bool wait) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + path);
  if (::flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) return ErrnoStatus("flock " + path);
  return fd;
}

// Removes `path`; if that fails, says so in the error being returned.
Status RemoveAfterError(const std::string& path, Status st) {
  Status rm = RemoveTree(path);
  if (!rm.ok()) return Status(st.code(), st.message() + " (and cleaning up failed: " + rm.message() + ")");
  return st;
}

}  // namespace

Result<std::unique_ptr<SnapshotStore>> SnapshotStore::Open(const std::string& root, int64_t max_layer_bytes) {
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(root, 0700));
  if (::chmod(root.c_str(), 0700) != 0) return ErrnoStatus("chmod " + root);
  for (const std::string& name : ListDir(root)) {
    if (!name.starts_with(kTmpPrefix)) continue;
    std::string path = root + "/" + name;
    auto lock = LockDir(path, /*wait=*/false);
    if (!lock.ok() && lock.status().code() == Code::kResourceExhausted) continue;  // EWOULDBLOCK: in use
    // Not lockable as a directory (a stray file) or ours now: either way stale.
    SLIPWAY_RETURN_IF_ERROR(RemoveTree(path).Wrap("remove stale snapshot dir"));
  }
  return std::unique_ptr<SnapshotStore>(new SnapshotStore(root, max_layer_bytes));
}

bool SnapshotStore::Has(const Digest& chain_id) const {
  struct stat st;
  return !chain_id.empty() && ::lstat(Path(chain_id).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<UnpackStats> SnapshotStore::Create(const Digest& chain_id, const std::string& blob_path,
                                          const Digest& expected_diff_id) {
  auto source = FileBlobSource(blob_path);
  if (!source.ok()) return source.status().Wrap("create snapshot " + chain_id.str());
  return Create(chain_id, *source, blob_path, expected_diff_id, nullptr);
}

Result<UnpackStats> SnapshotStore::Create(const Digest& chain_id, const BlobSource& source,
                                          const std::string& layer, const Digest& expected_diff_id,
                                          const Gate& gate) {
  const std::string what = "create snapshot " + chain_id.str();
  std::string tmp = root_ + "/" + kTmpPrefix + RandomHex(8);
  if (::mkdir(tmp.c_str(), 0755) != 0) return ErrnoStatus("mkdir " + tmp).Wrap(what);
  // The root of an image unless a layer says otherwise ("./"): 0755 whatever our umask.
  if (::chmod(tmp.c_str(), 0755) != 0) return RemoveAfterError(tmp, ErrnoStatus("chmod " + tmp).Wrap(what));
  auto lock = LockDir(tmp, /*wait=*/true);
  if (!lock.ok()) return RemoveAfterError(tmp, lock.status().Wrap(what));

  Result<UnpackStats> stats = UnpackLayerFrom(source, layer, tmp, {max_layer_bytes_});
  if (!stats.ok()) return RemoveAfterError(tmp, stats.status().Wrap(what));
  if (stats->diff_id != expected_diff_id) {
    return RemoveAfterError(
        tmp, InvalidArgument(what + ": layer " + layer + " has diff_id " + stats->diff_id.str() +
                             ", expected " + expected_diff_id.str()));
  }
  if (gate) {
    if (Status st = gate(); !st.ok()) return RemoveAfterError(tmp, st.Wrap(what + ": layer " + layer));
  }
  // Data first, then the name: after a crash a snapshot under its chain id
  // must be complete. One syncfs is far cheaper than an fsync per file.
  if (::syncfs(lock->get()) != 0) return RemoveAfterError(tmp, ErrnoStatus("syncfs " + tmp).Wrap(what));
  Status st = RenameNoReplace(tmp, Path(chain_id));
  if (st.code() == Code::kAlreadyExists) {
    // A concurrent creator won with the same content. Should removing our
    // copy fail, the next Open removes it; the snapshot itself is fine.
    (void)RemoveTree(tmp);
    return stats;
  }
  if (!st.ok()) return RemoveAfterError(tmp, st.Wrap(what));
  SLIPWAY_RETURN_IF_ERROR(FsyncDir(root_).Wrap(what));
  return stats;
}

Status SnapshotStore::Remove(const Digest& chain_id) {
  const std::string what = "remove snapshot " + chain_id.str();
  std::string path = Path(chain_id);
  std::string tmp = root_ + "/" + kTmpPrefix + RandomHex(8);
  // Lock, then rename away: the chain id disappears atomically, and if we
  // are interrupted half-way through the removal, Open finishes the job.
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd lock, LockDir(path, /*wait=*/true));
  if (::rename(path.c_str(), tmp.c_str()) != 0) {
    return ErrnoStatus("rename " + path + " to " + tmp).Wrap(what);
  }
  return RemoveTree(tmp).Wrap(what);
}

std::vector<Digest> SnapshotStore::List() const {
  std::vector<Digest> out;
  for (const std::string& name : ListDir(root_)) {
    auto d = Digest::Parse("sha256:" + name);
    if (d.ok() && Has(*d)) out.push_back(*d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace slipway
