#include "engine/image/layer_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "engine/base/openat2.h"
#include "engine/image/decompress.h"

namespace slipway {
namespace {

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

std::string ArchiveError(archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown libarchive error";
}

std::string Join(const std::vector<std::string>& parts, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}
std::string Join(const std::vector<std::string>& parts) {
  return Join(parts, parts.size());
}

// Splits a tar path into components: leading "/", "./" and repeated slashes
// go; ".." is refused outright rather than resolved, since no well-formed
// layer needs it and it is the classic way out of the destination.
Result<std::vector<std::string>> SplitPath(std::string_view path, const char* what) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return InvalidArgument(std::string(what) + " has a \"..\" component");
    parts.emplace_back(part);
  }
  return parts;
}

// The decompressed layer, from our own decompressor (gzip, zstd) or else
// pulled through libarchive's outer (filter-only) reader, and hashed on the
// way to the tar reader: every byte the tar reader sees, and the trailing
// padding it does not read, goes through Next() exactly once.
class DecompressedStream {
 public:
  DecompressedStream(std::unique_ptr<Decompressor> ours, int64_t max_bytes)
      : ours_(std::move(ours)), eof_(false), max_bytes_(max_bytes) {}
  DecompressedStream(archive* outer, bool empty, int64_t max_bytes)
      : outer_(outer), eof_(empty), max_bytes_(max_bytes) {}

  static la_ssize_t ReadCallback(archive*, void* self, const void** buf) {
    return static_cast<DecompressedStream*>(self)->Next(buf);
  }

  // Reads what is left after the tar end-of-archive marker (blocking-factor
  // padding), which belongs to the diff_id too.
  Status Drain() {
    const void* buf;
    la_ssize_t n;
    while ((n = Next(&buf)) > 0) {
    }
    if (n < 0) return Internal(error_);
    return Status::Ok();
  }

  const std::string& error() const { return error_; }
  int64_t bytes() const { return bytes_; }
  Digest Finish() { return hash_.Finish(); }

 private:
  // The next chunk from whichever decompressor reads the layer.
  la_ssize_t Raw(const void** buf, size_t* size) {
    if (ours_) {
      Result<size_t> n = ours_->Read(buf);
      if (!n.ok()) {
        error_ = "decompress: " + n.status().message();
        return -1;
      }
      *size = *n;
      return *n == 0 ? 0 : 1;
    }
    la_int64_t offset = 0;
    int rc = archive_read_data_block(outer_, buf, size, &offset);
    if (rc == ARCHIVE_EOF) return 0;
    if (rc < ARCHIVE_WARN) {
      error_ = "decompress: " + ArchiveError(outer_);
      return -1;
    }
    if (offset != bytes_) {  // the raw format never makes holes; refuse rather than guess
      error_ = "decompress: unexpected offset " + std::to_string(offset);
      return -1;
    }
    return 1;
  }

  la_ssize_t Next(const void** buf) {
    if (eof_) return 0;
    size_t size = 0;
    la_ssize_t rc = Raw(buf, &size);
    if (rc < 0) return -1;
    if (rc == 0) {
      eof_ = true;
      return 0;
    }
    hash_.Update(*buf, size);
    bytes_ += static_cast<int64_t>(size);
    if (max_bytes_ > 0 && bytes_ > max_bytes_) {
      error_ = "the layer expands to more than " + std::to_string(max_bytes_) + " bytes (max_layer_bytes)";
      too_large_ = true;
      return -1;
    }
    return static_cast<la_ssize_t>(size);
  }

 public:
  bool too_large() const { return too_large_; }
  const char* decompressor() const { return ours_ ? ours_->name() : "libarchive"; }

 private:
  std::unique_ptr<Decompressor> ours_;
  archive* outer_ = nullptr;
  bool eof_;
  int64_t max_bytes_;
  bool too_large_ = false;
  Sha256 hash_;
  int64_t bytes_ = 0;
  std::string error_;
};

void EntryTimes(archive_entry* e, timespec times[2]) {
  times[1] = archive_entry_mtime_is_set(e) ? timespec{archive_entry_mtime(e), archive_entry_mtime_nsec(e)}
                                           : timespec{0, UTIME_OMIT};
  times[0] = archive_entry_atime_is_set(e) ? timespec{archive_entry_atime(e), archive_entry_atime_nsec(e)}
                                           : times[1];
}

// The entry's xattrs by name. libarchive's pax writer stores each one twice
// (LIBARCHIVE.xattr.* and SCHILY.xattr.*), and the reader returns both.
std::map<std::string, std::string> Xattrs(archive_entry* e) {
  std::map<std::string, std::string> out;
  archive_entry_xattr_reset(e);
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    out[name] = std::string(static_cast<const char*>(value), size);
  }
  return out;
}

bool XattrAllowed(std::string_view name) {
  return name.starts_with("user.") || name == "security.capability";
}

// Writes entries below one root directory. Every name is created relative to
// a parent directory fd that was resolved inside the root.
class Extractor {
 public:
  Extractor(int root_fd, std::string root_path, UnpackStats* stats, bool whiteouts)
      : root_(root_fd), root_path_(std::move(root_path)), stats_(stats), whiteouts_(whiteouts) {}

  Status Extract(archive* a, archive_entry* e);
  // Directory times, deepest first: creating children changed them.
  Status Finish();

 private:
  struct DirTimes {
    std::vector<std::string> parts;
    dev_t dev;
    ino_t ino;
    timespec times[2];
  };

  Status ExtractAt(archive* a, archive_entry* e, const std::vector<std::string>& parts);
  Result<UniqueFd> OpenParent(const std::vector<std::string>& parts, size_t n);
  Result<UniqueFd> MakeParent(const std::vector<std::string>& parts, size_t n);
  Status RemoveAt(int dirfd, const std::string& name, const std::string& path);
  Status Whiteout(const std::vector<std::string>& parts, const std::string& target);
  Status Opaque(const std::vector<std::string>& parts);
  // `*replaced`: an older entry of that name had to be removed first.
  Status File(archive* a, archive_entry* e, int parent, const std::string& name, const std::string& path,
              bool* replaced = nullptr);
  Status NewFileEntry(archive* a, archive_entry* e, const std::vector<std::string>& parts,
                      const std::string& name, const std::string& path);
  Status Dir(archive_entry* e, int parent, const std::string& name, const std::vector<std::string>& parts);
  Status Symlink(archive_entry* e, int parent, const std::string& name, const std::string& path);
  Status Fifo(archive_entry* e, int parent, const std::string& name, const std::string& path);
  Status Hardlink(archive_entry* e, int parent, const std::string& name, const std::string& path);
  Status Owner(archive_entry* e, uid_t* uid, gid_t* gid);
  Status Metadata(archive_entry* e, int fd, const std::string& path);  // owner, mode, xattrs
  void SkipXattrs(archive_entry* e) { stats_->skipped_xattrs += static_cast<int>(Xattrs(e).size()); }

  int root_;
  std::string root_path_;  // names the filesystem when it is full
  UnpackStats* stats_;
  bool whiteouts_;  // .wh. names are whiteouts (a layer), else refused (an archive)
  std::vector<DirTimes> dir_times_;
  struct ParentCache {
    std::string path;  // below the root, "." for the root itself
    UniqueFd fd;       // O_PATH, resolved inside the root
  } parent_cache_;
};

Status Extractor::Extract(archive* a, archive_entry* e) {
  const char* raw = archive_entry_pathname(e);
  if (!raw) return InvalidArgument("entry without a path");
  auto parts = SplitPath(raw, "path");
  Status st = parts.ok() ? ExtractAt(a, e, *parts) : parts.status();
  return st.ok() ? st : st.Wrap("entry \"" + std::string(raw) + "\"");
}

Status Extractor::ExtractAt(archive* a, archive_entry* e, const std::vector<std::string>& parts) {
  if (!whiteouts_) {
    for (const std::string& part : parts)
      if (part.starts_with(".wh."))
        return InvalidArgument("names starting with .wh. are reserved for layer whiteouts");
  }
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i].starts_with(".wh..wh.")) return Status::Ok();  // aufs metadata (.wh..wh.plnk/...)
    if (parts[i].starts_with(".wh.")) {
      return InvalidArgument("whiteout name \"" + parts[i] + "\" used as a directory");
    }
  }
  std::string path = Join(parts);
  mode_t type = archive_entry_filetype(e);
  // Anything but a new regular file (a directory, a link, a whiteout, an
  // opaque marker) may change how later paths resolve: the cached parent
  // (NewFileEntry) goes first.
  const bool regular =
      type == AE_IFREG && !archive_entry_hardlink(e) && !parts.empty() && !parts.back().starts_with(".wh.");
  if (!regular) parent_cache_ = {};
  if (parts.empty()) {  // "./": the layer's root directory
    if (type != AE_IFDIR || archive_entry_hardlink(e)) return InvalidArgument("the root is not a directory");
    return Dir(e, root_, "", parts);
  }
  const std::string& name = parts.back();
  if (name == ".wh..wh..opq") return Opaque(parts);
  if (name.starts_with(".wh..wh.")) return Status::Ok();
  if (name.starts_with(".wh.")) return Whiteout(parts, name.substr(4));

  if (regular) return NewFileEntry(a, e, parts, name, path);
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd parent, OpenParent(parts, parts.size() - 1));
  if (archive_entry_hardlink(e)) return Hardlink(e, parent.get(), name, path);
  switch (type) {
    case AE_IFREG: return File(a, e, parent.get(), name, path);
    case AE_IFDIR: return Dir(e, parent.get(), name, parts);
    case AE_IFLNK: return Symlink(e, parent.get(), name, path);
    case AE_IFIFO: return Fifo(e, parent.get(), name, path);
    case AE_IFCHR:
    case AE_IFBLK: stats_->skipped_devices++; return Status::Ok();
    default: {
      char buf[16];
      std::snprintf(buf, sizeof buf, "0%o", static_cast<unsigned>(type));
      return InvalidArgument(std::string("unsupported entry type ") + buf);
    }
  }
}

// A regular file, most of a layer's entries: its parent directory is reused
// from the previous entry when that was a new regular file in the same
// directory (layers list a directory's files together). Creating a file
// under a new name changes no directory and no symlink, so the parent
// resolves as it did; anything else (a directory, a link, a whiteout, a file
// replacing an older entry) clears the cache first.
Status Extractor::NewFileEntry(archive* a, archive_entry* e, const std::vector<std::string>& parts,
                               const std::string& name, const std::string& path) {
  std::string parent_path = Join(parts, parts.size() - 1);
  if (!parent_cache_.fd || parent_cache_.path != parent_path) {
    parent_cache_ = {};
    SLIPWAY_ASSIGN_OR_RETURN(UniqueFd parent, OpenParent(parts, parts.size() - 1));
    parent_cache_ = {std::move(parent_path), std::move(parent)};
  }
  bool replaced = false;
  Status st = File(a, e, parent_cache_.fd.get(), name, path, &replaced);
  if (replaced || !st.ok()) parent_cache_ = {};
  return st;
}

// The directory holding parts[0..n), resolved inside the root (symlinks in it
// resolve as if the root were "/"), created if missing.
Result<UniqueFd> Extractor::OpenParent(const std::vector<std::string>& parts, size_t n) {
  std::string path = Join(parts, n);
  UniqueFd fd(Openat2(root_, path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                      RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS));
  if (fd) return fd;
  if (errno != ENOENT) return ErrnoStatus("openat2 " + path);
  return MakeParent(parts, n);
}

// mkdir -p inside the root. Symlinks met on the way are followed by hand
// with the same rules as RESOLVE_IN_ROOT (absolute targets and ".." stop at
// the root), so a dangling "evil -> /tmp/x" makes <root>/tmp/x. Each step
// opens one real directory with O_NOFOLLOW relative to the previous one, so
// the walk cannot leave the root whatever the links say.
Result<UniqueFd> Extractor::MakeParent(const std::vector<std::string>& parts, size_t n) {
  std::deque<std::string> todo(parts.begin(), parts.begin() + static_cast<long>(n));
  std::vector<UniqueFd> stack;  // stack[0] is the root; each next one a real directory below it
  auto open_root = [&]() -> Status {
    stack.clear();
    stack.emplace_back(::openat(root_, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    return stack.back() ? Status::Ok() : ErrnoStatus("open destination root");
  };
  SLIPWAY_RETURN_IF_ERROR(open_root());
  int links = 0;
  std::string path = Join(parts, n);
  while (!todo.empty()) {
    std::string name = std::move(todo.front());
    todo.pop_front();
    if (name.empty() || name == ".") continue;
    if (name == "..") {
      if (stack.size() > 1) stack.pop_back();
      continue;
    }
    int dir = stack.back().get();
    struct stat st;
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) return ErrnoStatus("fstatat " + name + " in " + path);
      if (::mkdirat(dir, name.c_str(), 0755) != 0) return ErrnoStatus("mkdirat " + name + " in " + path);
      // Exactly 0755 whatever our umask: an image's users must be able to traverse it.
      if (::fchmodat(dir, name.c_str(), 0755, 0) != 0) return ErrnoStatus("fchmodat " + name + " in " + path);
    } else if (S_ISLNK(st.st_mode)) {
      if (++links > 40) return Status::FromErrno(ELOOP, "resolve " + path);
      std::string target(PATH_MAX, '\0');
      ssize_t len = ::readlinkat(dir, name.c_str(), target.data(), target.size());
      if (len < 0) return ErrnoStatus("readlinkat " + name + " in " + path);
      target.resize(static_cast<size_t>(len));
      std::vector<std::string> more;
      size_t pos = 0;
      while (pos <= target.size()) {
        size_t slash = std::min(target.find('/', pos), target.size());
        more.push_back(target.substr(pos, slash - pos));
        pos = slash + 1;
      }
      todo.insert(todo.begin(), more.begin(), more.end());
      if (target.starts_with("/")) SLIPWAY_RETURN_IF_ERROR(open_root());
      continue;
    } else if (!S_ISDIR(st.st_mode)) {
      return Status::FromErrno(ENOTDIR, "mkdir " + path + ": " + name);
    }
    UniqueFd next(::openat(dir, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return ErrnoStatus("openat " + name + " in " + path);
    stack.push_back(std::move(next));
  }
  return std::move(stack.back());
}

// rm -rf of one name below dirfd, never following symlinks.
Status Extractor::RemoveAt(int dirfd, const std::string& name, const std::string& path) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? Status::Ok() : ErrnoStatus("fstatat " + path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dirfd, name.c_str(), 0) != 0) return ErrnoStatus("unlinkat " + path);
    return Status::Ok();
  }
  int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("openat " + path);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return ErrnoStatus("fdopendir " + path);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> closer(d, ::closedir);
  std::vector<std::string> children;
  while (dirent* de = ::readdir(d)) {
    std::string child = de->d_name;
    if (child != "." && child != "..") children.push_back(std::move(child));
  }
  for (const std::string& child : children) SLIPWAY_RETURN_IF_ERROR(RemoveAt(fd, child, path + "/" + child));
  closer.reset();
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) return ErrnoStatus("rmdir " + path);
  return Status::Ok();
}

// ".wh.NAME" -> a 0/0 character device NAME, overlayfs' whiteout.
Status Extractor::Whiteout(const std::vector<std::string>& parts, const std::string& target) {
  if (target.empty() || target == "." || target == "..") {
    return InvalidArgument("whiteout of \"" + target + "\"");
  }
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd parent, OpenParent(parts, parts.size() - 1));
  std::string path = Join(parts, parts.size() - 1) + "/" + target;
  SLIPWAY_RETURN_IF_ERROR(RemoveAt(parent.get(), target, path));
  if (::mknodat(parent.get(), target.c_str(), S_IFCHR, makedev(0, 0)) != 0) {
    return ErrnoStatus("mknodat " + path);
  }
  return Status::Ok();
}

// ".wh..wh..opq" -> trusted.overlay.opaque=y on its directory: lower layers'
// contents of that directory are hidden.
Status Extractor::Opaque(const std::vector<std::string>& parts) {
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd parent, OpenParent(parts, parts.size() - 1));
  std::string path = Join(parts, parts.size() - 1);
  // fsetxattr needs a real fd; O_PATH only resolves.
  UniqueFd dir(::openat(parent.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return ErrnoStatus("openat " + path);
  if (::fsetxattr(dir.get(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
    return ErrnoStatus("fsetxattr trusted.overlay.opaque " + path);
  }
  return Status::Ok();
}

Status Extractor::Owner(archive_entry* e, uid_t* uid, gid_t* gid) {
  la_int64_t u = archive_entry_uid(e), g = archive_entry_gid(e);
  // (uid_t)-1 means "leave unchanged" to chown; refuse it along with overflow.
  constexpr la_int64_t kMax = 0xfffffffeLL;
  if (u < 0 || u > kMax || g < 0 || g > kMax) {
    return InvalidArgument("owner " + std::to_string(u) + ":" + std::to_string(g) + " out of range");
  }
  *uid = static_cast<uid_t>(u);
  *gid = static_cast<gid_t>(g);
  return Status::Ok();
}

// Order matters: chown clears setuid/setgid and security.capability, so
// the mode and the xattrs come after it.
Status Extractor::Metadata(archive_entry* e, int fd, const std::string& path) {
  uid_t uid;
  gid_t gid;
  SLIPWAY_RETURN_IF_ERROR(Owner(e, &uid, &gid));
  if (::fchown(fd, uid, gid) != 0) return ErrnoStatus("fchown " + path);
  if (::fchmod(fd, archive_entry_perm(e) & 07777) != 0) return ErrnoStatus("fchmod " + path);
  for (const auto& [name, value] : Xattrs(e)) {
    if (!XattrAllowed(name)) {
      stats_->skipped_xattrs++;
      continue;
    }
    if (::fsetxattr(fd, name.c_str(), value.data(), value.size(), 0) != 0) {
      return ErrnoStatus("fsetxattr " + name + " " + path);
    }
  }
  return Status::Ok();
}

Status Extractor::File(archive* a, archive_entry* e, int parent, const std::string& name,
                       const std::string& path, bool* replaced) {
  // O_EXCL: never through whatever has the name now (a symlink above all).
  // Most names are new; only when one is taken is the older entry removed.
  constexpr int kFlags = O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd fd(::openat(parent, name.c_str(), kFlags, 0600));
  if (!fd && errno == EEXIST) {
    if (replaced) *replaced = true;
    SLIPWAY_RETURN_IF_ERROR(RemoveAt(parent, name, path));
    fd.reset(::openat(parent, name.c_str(), kFlags, 0600));
  }
  if (!fd) return ErrnoStatus("openat " + path);
  int64_t end = 0;  // past the last byte written
  for (;;) {
    const void* buf;
    size_t size;
    la_int64_t offset;
    int rc = archive_read_data_block(a, &buf, &size, &offset);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) return Internal("read data of " + path + ": " + ArchiveError(a));
    // Blocks come with offsets: a sparse file's holes are simply not written.
    const char* p = static_cast<const char*>(buf);
    while (size > 0) {
      ssize_t n = ::pwrite(fd.get(), p, size, offset);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FileErrnoStatus(errno, "write " + path, root_path_);
      p += n;
      size -= static_cast<size_t>(n);
      offset += n;
    }
    end = std::max<int64_t>(end, offset);
  }
  // Sizes the file when it ends in a hole (only then: one call less a file).
  if (archive_entry_size_is_set(e) && archive_entry_size(e) != end &&
      ::ftruncate(fd.get(), archive_entry_size(e)) != 0) {
    return ErrnoStatus("ftruncate " + path);
  }
  SLIPWAY_RETURN_IF_ERROR(Metadata(e, fd.get(), path));
  timespec times[2];
  EntryTimes(e, times);
  if (::futimens(fd.get(), times) != 0) return ErrnoStatus("futimens " + path);
  return Status::Ok();
}

Status Extractor::Dir(archive_entry* e, int parent, const std::string& name,
                      const std::vector<std::string>& parts) {
  std::string path = Join(parts);
  UniqueFd fd;
  if (name.empty()) {
    fd.reset(::openat(root_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  } else {
    struct stat st;
    bool is_dir = ::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    if (!is_dir) {
      SLIPWAY_RETURN_IF_ERROR(RemoveAt(parent, name, path));
      if (::mkdirat(parent, name.c_str(), 0700) != 0) return ErrnoStatus("mkdirat " + path);
    }
    fd.reset(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  }
  if (!fd) return ErrnoStatus("openat " + path);
  SLIPWAY_RETURN_IF_ERROR(Metadata(e, fd.get(), path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("fstat " + path);
  DirTimes t{parts, st.st_dev, st.st_ino, {}};
  EntryTimes(e, t.times);
  dir_times_.push_back(std::move(t));
  return Status::Ok();
}

Status Extractor::Symlink(archive_entry* e, int parent, const std::string& name, const std::string& path) {
  const char* target = archive_entry_symlink(e);
  if (!target || !*target) return InvalidArgument("symlink without a target");
  SLIPWAY_RETURN_IF_ERROR(RemoveAt(parent, name, path));
  // The target is stored as is and never followed here.
  if (::symlinkat(target, parent, name.c_str()) != 0) return ErrnoStatus("symlinkat " + path);
  uid_t uid;
  gid_t gid;
  SLIPWAY_RETURN_IF_ERROR(Owner(e, &uid, &gid));
  if (::fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus("fchownat " + path);
  }
  SkipXattrs(e);
  timespec times[2];
  EntryTimes(e, times);
  if (::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus("utimensat " + path);
  }
  return Status::Ok();
}

Status Extractor::Fifo(archive_entry* e, int parent, const std::string& name, const std::string& path) {
  SLIPWAY_RETURN_IF_ERROR(RemoveAt(parent, name, path));
  if (::mkfifoat(parent, name.c_str(), 0600) != 0) return ErrnoStatus("mkfifoat " + path);
  uid_t uid;
  gid_t gid;
  SLIPWAY_RETURN_IF_ERROR(Owner(e, &uid, &gid));
  if (::fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus("fchownat " + path);
  }
  // fchmodat follows symlinks, but we just made this name a FIFO ourselves
  // and nothing else writes below the root.
  if (::fchmodat(parent, name.c_str(), archive_entry_perm(e) & 07777, 0) != 0) {
    return ErrnoStatus("fchmodat " + path);
  }
  SkipXattrs(e);
  timespec times[2];
  EntryTimes(e, times);
  if (::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus("utimensat " + path);
  }
  return Status::Ok();
}

Status Extractor::Hardlink(archive_entry* e, int parent, const std::string& name, const std::string& path) {
  const char* raw = archive_entry_hardlink(e);
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> tparts, SplitPath(raw, "hard link target"));
  if (tparts.empty()) return InvalidArgument("hard link to the root");
  std::string target = Join(tparts);
  // No symlinks at all on the way: the target is the entry's own name for an
  // earlier file of this layer, and a link must not be redirected.
  UniqueFd tfd(Openat2(root_, target.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC, 0,
                       RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS));
  if (!tfd) return ErrnoStatus("openat2 hard link target " + target);
  struct stat tst, st;
  if (::fstat(tfd.get(), &tst) != 0) return ErrnoStatus("fstat " + target);
  if (S_ISDIR(tst.st_mode)) return InvalidArgument("hard link to directory " + target);
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == tst.st_dev &&
      st.st_ino == tst.st_ino) {
    return Status::Ok();  // already that very file
  }
  SLIPWAY_RETURN_IF_ERROR(RemoveAt(parent, name, path));
  if (::linkat(tfd.get(), "", parent, name.c_str(), AT_EMPTY_PATH) != 0) {
    return ErrnoStatus("linkat " + target + " to " + path);
  }
  SkipXattrs(e);
  return Status::Ok();
}

Status Extractor::Finish() {
  std::stable_sort(dir_times_.begin(), dir_times_.end(),
                   [](const DirTimes& a, const DirTimes& b) { return a.parts.size() > b.parts.size(); });
  for (const DirTimes& t : dir_times_) {
    std::string path = Join(t.parts);
    if (t.parts.empty()) {
      if (::futimens(root_, t.times) != 0) return ErrnoStatus("futimens " + path);
      continue;
    }
    UniqueFd parent(Openat2(root_, Join(t.parts, t.parts.size() - 1).c_str(),
                            O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS));
    const char* name = t.parts.back().c_str();
    struct stat st;
    // A later entry may have replaced the directory; its times are not ours.
    if (!parent || ::fstatat(parent.get(), name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_dev != t.dev ||
        st.st_ino != t.ino) {
      continue;
    }
    if (::utimensat(parent.get(), name, t.times, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoStatus("utimensat " + path);
    }
  }
  return Status::Ok();
}

// libarchive's read callback over a ReadFn, for the outer reader.
class OuterInput {
 public:
  explicit OuterInput(Decompressor::ReadFn read) : read_(std::move(read)), buf_(1 << 16) {}
  static la_ssize_t Read(archive* a, void* self, const void** out) {
    auto* in = static_cast<OuterInput*>(self);
    Result<size_t> n = in->read_(in->buf_.data(), in->buf_.size());
    if (!n.ok()) {
      archive_set_error(a, EIO, "%s", n.status().message().c_str());
      return -1;
    }
    *out = in->buf_.data();
    return static_cast<la_ssize_t>(*n);
  }

 private:
  Decompressor::ReadFn read_;
  std::vector<uint8_t> buf_;
};

// The outer reader only decompresses: the raw format hands the whole
// decompressed stream over as one entry.
Result<ArchivePtr> OpenOuter(OuterInput& input, const std::string& name, bool* empty) {
  ArchivePtr outer(archive_read_new());
  if (!outer) return Internal("archive_read_new failed");
  archive* a = outer.get();
  SupportLayerFilters(a);
  archive_read_support_format_raw(a);
  archive_read_support_format_empty(a);  // raw does not bid on zero bytes
  if (archive_read_open(a, &input, nullptr, OuterInput::Read, nullptr) != ARCHIVE_OK) {
    return Internal("open layer " + name + ": " + ArchiveError(a));
  }
  archive_entry* entry;
  int rc = archive_read_next_header(a, &entry);
  *empty = rc == ARCHIVE_EOF;  // zero bytes, maybe compressed: an empty stream
  if (*empty) return outer;
  if (rc < ARCHIVE_WARN) return Internal("read layer " + name + ": " + ArchiveError(a));
  return outer;
}

}  // namespace

void SupportLayerFilters(archive* a) {
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_bzip2(a);
}

Result<UniqueFd> OpenCallerArchive(archive* a, const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return InvalidArgument("open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return InvalidArgument("stat " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return InvalidArgument(path + " is not a regular file");
  if (archive_read_open_fd(a, fd.get(), 1 << 20) != ARCHIVE_OK)
    return InvalidArgument("read " + path + ": " + ArchiveError(a));
  return fd;
}

Result<BlobSource> FileBlobSource(const std::string& path) {
  auto fd = std::make_shared<UniqueFd>(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!*fd) return ErrnoStatus("open " + path);
  return BlobSource([fd]() -> Result<Decompressor::ReadFn> { return PreadFn(fd->get()); });
}

Result<UnpackStats> UnpackLayer(const std::string& blob_path, const std::string& dest_dir,
                                const UnpackOptions& options) {
  SLIPWAY_ASSIGN_OR_RETURN(BlobSource source, FileBlobSource(blob_path));
  return UnpackLayerFrom(source, blob_path, dest_dir, options);
}

Result<UnpackStats> UnpackLayerFrom(const BlobSource& source, const std::string& name,
                                    const std::string& dest_dir, const UnpackOptions& options) {
  UniqueFd root(::open(dest_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return ErrnoStatus("open " + dest_dir);
  // gzip and zstd: ours (decompress.h), faster than libarchive's filters;
  // anything else (xz, bzip2, a plain tar): libarchive's, from the start of
  // the source again (sniffing took what it read).
  SLIPWAY_ASSIGN_OR_RETURN(Decompressor::ReadFn sniff_read, source());
  auto ours = SniffDecompressor(std::move(sniff_read), options.gzip_inflater);
  if (!ours.ok()) return ours.status().Wrap("read layer " + name);
  std::optional<OuterInput> outer_input;
  ArchivePtr outer;
  std::optional<DecompressedStream> stream_storage;
  if (*ours) {
    stream_storage.emplace(std::move(*ours), options.max_bytes);
  } else {
    SLIPWAY_ASSIGN_OR_RETURN(Decompressor::ReadFn again, source());
    outer_input.emplace(std::move(again));
    bool empty = false;
    SLIPWAY_ASSIGN_OR_RETURN(outer, OpenOuter(*outer_input, name, &empty));
    stream_storage.emplace(outer.get(), empty, options.max_bytes);
  }
  DecompressedStream& stream = *stream_storage;
  // Past the cap, whichever call noticed first fails: say why, with its code.
  // A broken stream (truncated, corrupt) is the cause, whatever the tar
  // reader made of the read that failed ("unknown libarchive error").
  auto failed = [&](Status status) -> Status {
    if (stream.too_large()) {
      return Status(Code::kResourceExhausted, "unpack layer " + name + ": " + stream.error());
    }
    if (stream.error().empty() || status.message().find(stream.error()) != std::string::npos) return status;
    return Status(status.code(), status.message() + " (" + stream.error() + ")");
  };

  ArchivePtr inner(archive_read_new());
  if (!inner) return Internal("archive_read_new failed");
  archive_read_support_format_tar(inner.get());    // ustar, pax and GNU tar
  archive_read_support_format_empty(inner.get());  // a zero-byte stream is an empty layer
  if (archive_read_open(inner.get(), &stream, nullptr, DecompressedStream::ReadCallback, nullptr) !=
      ARCHIVE_OK) {
    std::string why = stream.error().empty() ? ArchiveError(inner.get()) : stream.error();
    return failed(Internal("read layer " + name + ": " + why));
  }

  UnpackStats stats;
  Extractor extractor(root.get(), dest_dir, &stats, options.whiteouts);
  for (;;) {
    archive_entry* entry;
    int rc = archive_read_next_header(inner.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    // ARCHIVE_WARN is tolerated: libarchive warns about names it cannot
    // convert to the current locale but keeps their bytes, which is what we
    // want for file names.
    if (rc < ARCHIVE_WARN) {
      std::string why = stream.error().empty() ? ArchiveError(inner.get()) : stream.error();
      return failed(Internal("read layer " + name + " after " + std::to_string(stats.entries) +
                             " entries: " + why));
    }
    stats.entries++;
    Status st = extractor.Extract(inner.get(), entry);
    if (!st.ok()) return failed(st.Wrap("unpack layer " + name));
  }
  SLIPWAY_RETURN_IF_ERROR(failed(stream.Drain().Wrap("read layer " + name)));
  SLIPWAY_RETURN_IF_ERROR(extractor.Finish().Wrap("unpack layer " + name));
  stats.uncompressed_bytes = stream.bytes();
  stats.decompressor = stream.decompressor();
  stats.diff_id = stream.Finish();
  return stats;
}

}  // namespace slipway
