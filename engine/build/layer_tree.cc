#include "engine/build/layer_tree.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "engine/base/openat2.h"

namespace slipway {
namespace {

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

// `path` below `root`, never through a symlink; with O_PATH | O_NOFOLLOW a
// trailing symlink is opened itself. Returns the fd, or -errno.
int OpenBeneathRaw(const std::string& root, const std::string& path, uint64_t flags) {
  UniqueFd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return -errno;
  const char* p = path.empty() ? "." : path.c_str();
  int fd = Openat2(dir.get(), p, flags | O_CLOEXEC, 0,
                   RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
  return fd >= 0 ? fd : -errno;
}

Result<UniqueFd> OpenBeneath(const std::string& root, const std::string& path, uint64_t flags) {
  int fd = OpenBeneathRaw(root, path, flags);
  if (fd == -ELOOP) return InvalidArgument(path + ": path goes through a symlink (not supported)");
  if (fd < 0) return Status::FromErrno(-fd, "open " + path);
  return UniqueFd(fd);
}

bool IsWhiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

bool IsOpaque(int fd) {
  char value[4];
  for (const char* name : {"trusted.overlay.opaque", "user.overlay.opaque"}) {
    ssize_t n = ::fgetxattr(fd, name, value, sizeof value);
    if (n == 1 && value[0] == 'y') return true;
  }
  return false;
}

// What one root says about `path`.
struct Probe {
  enum Kind { kAbsent, kHidesLower, kWhiteout, kPresent } kind = kAbsent;
  struct stat st {};
  bool opaque = false;
};

Result<Probe> ProbeRoot(const std::string& root, const std::string& path) {
  Probe probe;
  int raw = OpenBeneathRaw(root, path, O_PATH | O_NOFOLLOW);
  if (raw >= 0) {
    UniqueFd fd(raw);
    if (::fstat(fd.get(), &probe.st) != 0) return ErrnoStatus("stat " + path);
    probe.kind = IsWhiteout(probe.st) ? Probe::kWhiteout : Probe::kPresent;
    if (S_ISDIR(probe.st.st_mode)) {
      // fgetxattr needs a real fd, not O_PATH.
      UniqueFd real(::openat(fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      probe.opaque = real && IsOpaque(real.get());
    }
    return probe;
  }
  if (raw != -ENOENT && raw != -ENOTDIR && raw != -ELOOP) return Status::FromErrno(-raw, "open " + path);
  // Absent here: does an ancestor in this root hide the lower roots' copy?
  for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    auto parent = ProbeRoot(root, path.substr(0, slash));
    if (!parent.ok()) return parent.status();
    if (parent->kind == Probe::kAbsent) break;
    if (parent->kind == Probe::kWhiteout || parent->kind == Probe::kHidesLower) {
      probe.kind = Probe::kHidesLower;
      return probe;
    }
    if (!S_ISDIR(parent->st.st_mode)) {
      if (S_ISLNK(parent->st.st_mode))
        return InvalidArgument(path + ": path goes through a symlink (not supported)");
      probe.kind = Probe::kHidesLower;
      return probe;
    }
  }
  // The innermost existing ancestor being opaque hides lower copies too.
  std::string parent = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  for (;;) {
    UniqueFd p(OpenBeneathRaw(root, parent, O_RDONLY | O_DIRECTORY));
    if (p) {
      if (IsOpaque(p.get())) probe.kind = Probe::kHidesLower;
      break;
    }
    if (parent.empty()) break;
    size_t slash = parent.rfind('/');
    parent = slash == std::string::npos ? "" : parent.substr(0, slash);
  }
  return probe;
}

Status CopyFile(const LayerTree::Entry& e, const std::string& dest, uid_t uid, gid_t gid, mode_t mode) {
  UniqueFd out(::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) return ErrnoStatus("create " + dest);
  SLIPWAY_RETURN_IF_ERROR(
      LayerTree::ReadContent(e, [&](std::string_view chunk) { return WriteAll(out.get(), chunk, dest); }));
  if (::fchown(out.get(), uid, gid) != 0) return ErrnoStatus("chown " + dest);
  // After chown, which clears setuid/setgid bits.
  if (::fchmod(out.get(), mode) != 0) return ErrnoStatus("chmod " + dest);
  struct timespec times[2] = {e.st.st_atim, e.st.st_mtim};
  if (::futimens(out.get(), times) != 0) return ErrnoStatus("utimens " + dest);
  return Status::Ok();
}

Status CopySymlink(const LayerTree::Entry& e, const std::string& dest, uid_t uid, gid_t gid) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string target, LayerTree::ReadLinkTarget(e));
  if (::symlink(target.c_str(), dest.c_str()) != 0) return ErrnoStatus("symlink " + dest);
  if (::lchown(dest.c_str(), uid, gid) != 0) return ErrnoStatus("chown " + dest);
  struct timespec times[2] = {e.st.st_atim, e.st.st_mtim};
  if (::utimensat(AT_FDCWD, dest.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoStatus("utimens " + dest);
  return Status::Ok();
}

Status CopyEntry(const LayerTree& tree, const LayerTree::Entry& e, const std::string& dest,
                 const CopyAttrs& attrs, const CopySkip& skip) {
  uid_t uid = attrs.uid.value_or(e.st.st_uid);
  gid_t gid = attrs.gid.value_or(e.st.st_gid);
  mode_t mode = attrs.mode.value_or(e.st.st_mode & 07777);
  mode_t type = e.st.st_mode & S_IFMT;
  if (type == S_IFREG) return CopyFile(e, dest, uid, gid, mode);
  if (type == S_IFLNK) return CopySymlink(e, dest, uid, gid);
  if (type != S_IFDIR) return InvalidArgument(e.path + ": cannot copy a device, socket or fifo");
  if (::mkdir(dest.c_str(), 0700) != 0) return ErrnoStatus("mkdir " + dest);
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> names, tree.List(e.path));
  for (const std::string& name : names) {
    std::string child = Join(e.path, name);
    SLIPWAY_ASSIGN_OR_RETURN(std::optional<LayerTree::Entry> entry, tree.Find(child));
    if (!entry) continue;
    if (skip && skip(child, S_ISDIR(entry->st.st_mode))) continue;
    SLIPWAY_RETURN_IF_ERROR(CopyEntry(tree, *entry, dest + "/" + name, attrs, skip));
  }
  if (::lchown(dest.c_str(), uid, gid) != 0) return ErrnoStatus("chown " + dest);
  if (::chmod(dest.c_str(), mode) != 0) return ErrnoStatus("chmod " + dest);
  struct timespec times[2] = {e.st.st_atim, e.st.st_mtim};
  if (::utimensat(AT_FDCWD, dest.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoStatus("utimens " + dest);
  return Status::Ok();
}

}  // namespace

Result<std::string> CleanRelativePath(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part == "..") {
      if (parts.empty()) return InvalidArgument(path + ": path outside the build context");
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (const std::string& part : parts) out = Join(out, part);
  return out;
}

Status LayerTree::ReadContent(const Entry& e, const std::function<Status(std::string_view)>& sink) {
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd in, OpenBeneath(e.root, e.path, O_RDONLY | O_NOFOLLOW));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(in.get(), buf, sizeof buf);
    if (n < 0) return ErrnoStatus("read " + e.path);
    if (n == 0) return Status::Ok();
    SLIPWAY_RETURN_IF_ERROR(sink(std::string_view(buf, static_cast<size_t>(n))));
  }
}

Result<std::string> LayerTree::ReadLinkTarget(const Entry& e) {
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd fd, OpenBeneath(e.root, e.path, O_PATH | O_NOFOLLOW));
  char target[4096];
  ssize_t n = ::readlinkat(fd.get(), "", target, sizeof target);
  if (n < 0) return ErrnoStatus("readlink " + e.path);
  return std::string(target, static_cast<size_t>(n));
}

Result<std::optional<LayerTree::Entry>> LayerTree::Find(const std::string& path) const {
  for (const std::string& root : roots_) {
    SLIPWAY_ASSIGN_OR_RETURN(Probe probe, ProbeRoot(root, path));
    if (probe.kind == Probe::kAbsent) continue;
    if (probe.kind != Probe::kPresent) return std::optional<Entry>();
    return std::optional<Entry>(Entry{root, path, probe.st});
  }
  return std::optional<Entry>();
}

Result<std::vector<std::string>> LayerTree::List(const std::string& dir) const {
  std::set<std::string> present, gone;
  for (const std::string& root : roots_) {
    SLIPWAY_ASSIGN_OR_RETURN(Probe probe, ProbeRoot(root, dir));
    if (probe.kind == Probe::kAbsent) continue;
    if (probe.kind != Probe::kPresent || !S_ISDIR(probe.st.st_mode)) break;
    SLIPWAY_ASSIGN_OR_RETURN(UniqueFd fd, OpenBeneath(root, dir, O_RDONLY | O_DIRECTORY));
    for (const std::string& name : ListDir("/proc/self/fd/" + std::to_string(fd.get()))) {
      if (present.count(name) || gone.count(name)) continue;
      struct stat st;
      if (::fstatat(fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return ErrnoStatus("stat " + name);
      (IsWhiteout(st) ? gone : present).insert(name);
    }
    if (probe.opaque) break;
  }
  return std::vector<std::string>(present.begin(), present.end());
}

Result<std::vector<std::string>> LayerTree::Glob(const std::string& pattern) const {
  SLIPWAY_ASSIGN_OR_RETURN(std::string clean, CleanRelativePath(pattern));
  std::vector<std::string> matches = {""};
  size_t start = 0;
  while (!clean.empty() && start <= clean.size()) {
    size_t end = clean.find('/', start);
    if (end == std::string::npos) end = clean.size();
    std::string part = clean.substr(start, end - start);
    std::vector<std::string> next;
    for (const std::string& dir : matches) {
      if (part.find_first_of("*?[\\") == std::string::npos) {
        next.push_back(Join(dir, part));
        continue;
      }
      SLIPWAY_ASSIGN_OR_RETURN(std::optional<Entry> entry, Find(dir));
      if (!entry || !S_ISDIR(entry->st.st_mode)) continue;
      SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> names, List(dir));
      for (const std::string& name : names)
        if (::fnmatch(part.c_str(), name.c_str(), 0) == 0) next.push_back(Join(dir, name));
    }
    matches = std::move(next);
    start = end + 1;
  }
  std::vector<std::string> out;
  for (const std::string& m : matches) {
    SLIPWAY_ASSIGN_OR_RETURN(std::optional<Entry> entry, Find(m));
    if (entry) out.push_back(m);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status CopyOut(const LayerTree& tree, const std::string& path, const std::string& dest,
               const CopyAttrs& attrs, const CopySkip& skip) {
  SLIPWAY_ASSIGN_OR_RETURN(std::optional<LayerTree::Entry> entry, tree.Find(path));
  if (!entry) return NotFound(path + ": not found");
  return CopyEntry(tree, *entry, dest, attrs, skip);
}

}  // namespace slipway
