#include "engine/build/layer_diff.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <locale.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/fs.h"

namespace slipway {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryFree>;

using Sink = std::function<Status(std::string_view)>;

// Pins this thread's locale to C.UTF-8 while a layer is written, so that
// the tar does not depend on the process' locale: libarchive converts names
// from the locale's charset to pax' UTF-8. Valid UTF-8 names are then stored
// as they are (a pax path record when not ASCII, as Go's archive/tar does);
// other bytes fail the conversion and libarchive stores them raw, marking
// that entry hdrcharset=BINARY. Without C.UTF-8 (glibc < 2.35), "C": every
// non-ASCII name is stored raw that way.
class ScopedUtf8Locale {
 public:
  ScopedUtf8Locale() {
    loc_ = ::newlocale(LC_ALL_MASK, "C.UTF-8", nullptr);
    if (!loc_) loc_ = ::newlocale(LC_ALL_MASK, "C", nullptr);
    if (loc_) old_ = ::uselocale(loc_);
  }
  ~ScopedUtf8Locale() {
    if (!loc_) return;
    ::uselocale(old_);
    ::freelocale(loc_);
  }
  ScopedUtf8Locale(const ScopedUtf8Locale&) = delete;
  ScopedUtf8Locale& operator=(const ScopedUtf8Locale&) = delete;

 private:
  locale_t loc_ = nullptr;
  locale_t old_ = nullptr;
};

// libarchive's pax writer, its output going to a Sink.
class TarWriter {
 public:
  explicit TarWriter(const Sink& sink) : sink_(sink) {}

  Status Open();
  Status WriteHeader(archive_entry* e, const std::string& path);
  Status WriteData(const char* data, size_t size, const std::string& path);
  // Writes the end-of-archive marker.
  Status Close();

 private:
  static la_ssize_t WriteCallback(archive* a, void* self, const void* buf, size_t size);
  // The sink's own error if it failed, else libarchive's.
  Status Error(const std::string& what);

  const Sink& sink_;
  std::unique_ptr<archive, ArchiveWriteFree> a_;
  Status sink_status_;
};

Status TarWriter::Open() {
  a_.reset(archive_write_new());
  if (!a_) return Internal("archive_write_new failed");
  archive* a = a_.get();
  // pax_restricted: plain ustar headers unless an entry needs more (xattrs,
  // long names, large ids), which keeps the common entry at 512 bytes.
  // xattrheader=SCHILY: the one xattr record Go's archive/tar (Docker,
  // containerd, skopeo) reads; libarchive reads it too.
  // bytes_in_last_block=1: no padding after the end-of-archive marker.
  if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
      archive_write_set_format_option(a, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK) {
    return Error("configure tar writer");
  }
  if (archive_write_open(a, this, nullptr, WriteCallback, nullptr) != ARCHIVE_OK) {
    return Error("open tar writer");
  }
  return Status::Ok();
}

la_ssize_t TarWriter::WriteCallback(archive* a, void* self, const void* buf, size_t size) {
  auto* w = static_cast<TarWriter*>(self);
  Status st = w->sink_(std::string_view(static_cast<const char*>(buf), size));
  if (!st.ok()) {
    w->sink_status_ = std::move(st);
    archive_set_error(a, EIO, "layer sink failed");
    return -1;
  }
  return static_cast<la_ssize_t>(size);
}

Status TarWriter::Error(const std::string& what) {
  if (!sink_status_.ok()) return sink_status_;
  const char* e = a_ ? archive_error_string(a_.get()) : nullptr;
  return Internal(what + ": " + (e ? e : "unknown libarchive error"));
}

Status TarWriter::WriteHeader(archive_entry* e, const std::string& path) {
  // ARCHIVE_WARN: a name that is not UTF-8, stored raw (see ScopedUtf8Locale).
  if (archive_write_header(a_.get(), e) < ARCHIVE_WARN) return Error("write tar header for " + path);
  return Status::Ok();
}

Status TarWriter::WriteData(const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    la_ssize_t n = archive_write_data(a_.get(), data, size);
    if (n <= 0) return Error("write tar data for " + path);
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status TarWriter::Close() {
  if (archive_write_close(a_.get()) != ARCHIVE_OK) return Error("finish tar");
  return Status::Ok();
}

// The xattrs of one file or directory that matter to a layer.
struct XattrSet {
  std::vector<std::pair<std::string, std::string>> kept;  // sorted by name
  bool opaque = false;                                    // an overlay opaque directory
};

bool KeptXattr(std::string_view name) {
  return name == "security.capability" || (name.starts_with("user.") && !name.starts_with("user.overlay."));
}

// "trusted.overlay.<what>" or "user.overlay.<what>" (the userxattr mount option).
bool IsOverlayXattr(std::string_view name, std::string_view what) {
  for (std::string_view prefix : {"trusted.overlay.", "user.overlay."}) {
    if (name.size() == prefix.size() + what.size() && name.starts_with(prefix) && name.ends_with(what)) {
      return true;
    }
  }
  return false;
}

// Both calls retry when the list or value grew between the size query and the read.
Result<std::vector<std::string>> ListXattrs(int fd, const std::string& path) {
  for (;;) {
    ssize_t size = ::flistxattr(fd, nullptr, 0);
    if (size < 0 && (errno == ENOTSUP || errno == EOPNOTSUPP)) return std::vector<std::string>{};
    if (size < 0) return ErrnoStatus("flistxattr " + path);
    std::string names(static_cast<size_t>(size), '\0');
    ssize_t n = ::flistxattr(fd, names.data(), names.size());
    if (n < 0 && errno == ERANGE) continue;
    if (n < 0) return ErrnoStatus("flistxattr " + path);
    std::vector<std::string> out;
    for (size_t pos = 0; pos < static_cast<size_t>(n);) {
      size_t end = names.find('\0', pos);
      if (end == std::string::npos) end = static_cast<size_t>(n);
      if (end > pos) out.push_back(names.substr(pos, end - pos));
      pos = end + 1;
    }
    std::sort(out.begin(), out.end());
    return out;
  }
}

Result<std::string> GetXattr(int fd, const std::string& name, const std::string& path) {
  for (;;) {
    ssize_t size = ::fgetxattr(fd, name.c_str(), nullptr, 0);
    if (size < 0) return ErrnoStatus("fgetxattr " + name + " " + path);
    std::string value(static_cast<size_t>(size), '\0');
    ssize_t n = ::fgetxattr(fd, name.c_str(), value.data(), value.size());
    if (n < 0 && errno == ERANGE) continue;
    if (n < 0) return ErrnoStatus("fgetxattr " + name + " " + path);
    value.resize(static_cast<size_t>(n));
    return value;
  }
}

// The kept xattrs of `fd`; with `overlay`, also what overlayfs' own say.
Result<XattrSet> ReadXattrs(int fd, const std::string& path, bool overlay) {
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> names, ListXattrs(fd, path));
  XattrSet out;
  for (const std::string& name : names) {
    if (overlay && (IsOverlayXattr(name, "redirect") || IsOverlayXattr(name, "metacopy"))) {
      return FailedPrecondition(path + " has " + name +
                                ": the overlay uses redirect_dir or metacopy, which a layer cannot express "
                                "(mount build overlays with both off, the default)");
    }
    if (overlay && IsOverlayXattr(name, "opaque")) {
      Result<std::string> value = GetXattr(fd, name, path);
      if (!value.ok()) return value.status();
      out.opaque |= value->size() == 1 && (*value)[0] == 'y';  // "x" (6.7+): xwhiteouts inside, not opaque
      continue;
    }
    if (!KeptXattr(name)) continue;
    SLIPWAY_ASSIGN_OR_RETURN(std::string value, GetXattr(fd, name, path));
    out.kept.emplace_back(name, std::move(value));
  }
  return out;
}

// The names in the directory `fd`, sorted bytewise.
Result<std::vector<std::string>> SortedNames(int fd, const std::string& path) {
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirAt(fd, path));
  std::sort(names.begin(), names.end());
  return names;
}

std::string FileTypeName(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFCHR: return "character device";
    case S_IFBLK: return "block device";
    default: {
      char buf[16];
      std::snprintf(buf, sizeof buf, "0%o", static_cast<unsigned>(mode & S_IFMT));
      return std::string("file type ") + buf;
    }
  }
}

// Walks one directory tree into a TarWriter (see the header for the rules).
class Walker {
 public:
  Walker(TarWriter& tar, std::string root, LayerSource source, const LayerDiffOptions& options)
      : tar_(tar),
        root_(std::move(root)),
        overlay_(source == LayerSource::kOverlayUpper),
        options_(options) {}

  // The entries below directory `fd`, whose path in the layer is `rel` ("" for the root).
  Status WalkDir(int fd, const std::string& rel);

 private:
  Status Visit(int dirfd, const std::string& name, const std::string& rel);
  Status Directory(int parent, const std::string& name, const std::string& rel, const struct stat& st);
  Status RegularFile(int parent, const std::string& name, const std::string& rel, const struct stat& st);
  Status CopyContent(int fd, off_t size, const std::string& path);
  Status Symlink(int parent, const std::string& name, const std::string& rel, const struct stat& st);
  Status Whiteout(const std::string& name, const std::string& rel, const struct stat& st);
  Status OpaqueMarker(const std::string& rel, const struct stat& st);
  Status Hardlink(const std::string& rel, const struct stat& st, const std::string& target);
  Status Write(archive_entry* e, const std::string& rel) { return tar_.WriteHeader(e, Full(rel)); }

  bool IsWhiteout(const struct stat& st) const { return overlay_ && S_ISCHR(st.st_mode) && st.st_rdev == 0; }
  EntryPtr NewEntry(const std::string& path, const struct stat& st) const;
  int64_t Mtime(const struct stat& st) const;
  std::string Full(const std::string& rel) const { return rel.empty() ? root_ : root_ + "/" + rel; }
  // `fd`, opened by name after fstatat, must still be the inode fstatat saw.
  Status CheckSame(int fd, const struct stat& st, const std::string& rel) const;

  TarWriter& tar_;
  std::string root_;
  bool overlay_;
  const LayerDiffOptions& options_;
  std::map<std::pair<dev_t, ino_t>, std::string> first_links_;  // inode -> first path in the layer
  std::vector<char> buf_ = std::vector<char>(1 << 16);
};

Status Walker::WalkDir(int fd, const std::string& rel) {
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> names, SortedNames(fd, Full(rel)));
  for (const std::string& name : names) {
    SLIPWAY_RETURN_IF_ERROR(Visit(fd, name, rel.empty() ? name : rel + "/" + name));
  }
  return Status::Ok();
}

Status Walker::Visit(int dirfd, const std::string& name, const std::string& rel) {
  if (name.starts_with(kWhiteoutPrefix)) {
    return InvalidArgument(Full(rel) + ": names starting with \".wh.\" are reserved for whiteouts in layers");
  }
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus("fstatat " + Full(rel));
  }
  // Whiteouts may all be links to one shared inode: never hard links here.
  if (IsWhiteout(st)) return Whiteout(name, rel, st);
  if (S_ISSOCK(st.st_mode)) return Status::Ok();
  if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
    auto [it, first] = first_links_.try_emplace({st.st_dev, st.st_ino}, rel);
    if (!first) return Hardlink(rel, st, it->second);
  }
  switch (st.st_mode & S_IFMT) {
    case S_IFDIR: return Directory(dirfd, name, rel, st);
    case S_IFREG: return RegularFile(dirfd, name, rel, st);
    case S_IFLNK: return Symlink(dirfd, name, rel, st);
    case S_IFIFO: return Write(NewEntry(rel, st).get(), rel);
    case S_IFCHR:
    case S_IFBLK:
      return InvalidArgument(Full(rel) + ": " + FileTypeName(st.st_mode) + " " +
                             std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev)) +
                             " in a layer (builds may not create device nodes)");
    default: return InvalidArgument(Full(rel) + ": unsupported " + FileTypeName(st.st_mode));
  }
}

Status Walker::CheckSame(int fd, const struct stat& st, const std::string& rel) const {
  struct stat now;
  if (::fstat(fd, &now) != 0) return ErrnoStatus("fstat " + Full(rel));
  if (now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
    return FailedPrecondition(Full(rel) + " was replaced while the layer was written");
  }
  return Status::Ok();
}

int64_t Walker::Mtime(const struct stat& st) const {
  int64_t t = st.st_mtim.tv_sec;
  return options_.source_date_epoch ? std::min(t, *options_.source_date_epoch) : t;
}

EntryPtr Walker::NewEntry(const std::string& path, const struct stat& st) const {
  EntryPtr e(archive_entry_new());
  archive_entry_copy_pathname(e.get(), path.c_str());
  archive_entry_set_mode(e.get(), st.st_mode);  // type and permission bits
  archive_entry_set_uid(e.get(), st.st_uid);
  archive_entry_set_gid(e.get(), st.st_gid);
  archive_entry_set_mtime(e.get(), Mtime(st), 0);
  return e;
}

void AddXattrs(archive_entry* e, const XattrSet& x) {
  for (const auto& [name, value] : x.kept) {
    archive_entry_xattr_add_entry(e, name.c_str(), value.data(), value.size());
  }
}

Status Walker::Directory(int parent, const std::string& name, const std::string& rel, const struct stat& st) {
  UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return ErrnoStatus("openat " + Full(rel));
  SLIPWAY_RETURN_IF_ERROR(CheckSame(fd.get(), st, rel));
  SLIPWAY_ASSIGN_OR_RETURN(XattrSet x, ReadXattrs(fd.get(), Full(rel), overlay_));
  EntryPtr e = NewEntry(rel + "/", st);
  AddXattrs(e.get(), x);
  SLIPWAY_RETURN_IF_ERROR(Write(e.get(), rel));
  // The marker before the contents: whoever applies the layer hides the
  // lower directory's contents first, then adds these.
  if (x.opaque) SLIPWAY_RETURN_IF_ERROR(OpaqueMarker(rel, st));
  return WalkDir(fd.get(), rel);
}

Status Walker::RegularFile(int parent, const std::string& name, const std::string& rel,
                           const struct stat& st) {
  // O_NONBLOCK: should the name have become a FIFO since fstatat, open must
  // not hang (CheckSame then refuses it).
  UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("openat " + Full(rel));
  SLIPWAY_RETURN_IF_ERROR(CheckSame(fd.get(), st, rel));
  SLIPWAY_ASSIGN_OR_RETURN(XattrSet x, ReadXattrs(fd.get(), Full(rel), overlay_));
  EntryPtr e = NewEntry(rel, st);
  archive_entry_set_size(e.get(), st.st_size);
  AddXattrs(e.get(), x);
  SLIPWAY_RETURN_IF_ERROR(Write(e.get(), rel));
  return CopyContent(fd.get(), st.st_size, Full(rel));
}

// Exactly `size` bytes, as the header said: a file that shrank or grew
// meanwhile is an error, not a corrupt or truncated entry.
Status Walker::CopyContent(int fd, off_t size, const std::string& path) {
  off_t left = size;
  while (left > 0) {
    size_t want = static_cast<size_t>(std::min<off_t>(left, static_cast<off_t>(buf_.size())));
    ssize_t n = ::read(fd, buf_.data(), want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read " + path);
    if (n == 0) return FailedPrecondition(path + " shrank while the layer was written");
    SLIPWAY_RETURN_IF_ERROR(tar_.WriteData(buf_.data(), static_cast<size_t>(n), path));
    left -= n;
  }
  char extra;
  ssize_t n;
  do {
    n = ::read(fd, &extra, 1);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoStatus("read " + path);
  if (n > 0) return FailedPrecondition(path + " grew while the layer was written");
  return Status::Ok();
}

Status Walker::Symlink(int parent, const std::string& name, const std::string& rel, const struct stat& st) {
  std::string target(PATH_MAX, '\0');
  ssize_t len = ::readlinkat(parent, name.c_str(), target.data(), target.size());
  if (len < 0) return ErrnoStatus("readlinkat " + Full(rel));
  if (static_cast<size_t>(len) == target.size()) {
    return InvalidArgument(Full(rel) + ": symlink target too long");
  }
  target.resize(static_cast<size_t>(len));
  EntryPtr e = NewEntry(rel, st);
  archive_entry_copy_symlink(e.get(), target.c_str());
  return Write(e.get(), rel);
}

// Overlay's whiteout "d/x" (a 0/0 character device) -> OCI's "d/.wh.x".
Status Walker::Whiteout(const std::string& name, const std::string& rel, const struct stat& st) {
  std::string path = rel.substr(0, rel.size() - name.size()) + std::string(kWhiteoutPrefix) + name;
  EntryPtr e = NewEntry(path, st);
  archive_entry_set_mode(e.get(), AE_IFREG | 0600);
  archive_entry_set_size(e.get(), 0);
  return Write(e.get(), rel);
}

Status Walker::OpaqueMarker(const std::string& rel, const struct stat& st) {
  EntryPtr e = NewEntry(rel + "/" + std::string(kOpaqueMarker), st);
  archive_entry_set_mode(e.get(), AE_IFREG | (st.st_mode & 0777));
  archive_entry_set_size(e.get(), 0);
  return Write(e.get(), rel);
}

Status Walker::Hardlink(const std::string& rel, const struct stat& st, const std::string& target) {
  EntryPtr e = NewEntry(rel, st);
  archive_entry_copy_hardlink(e.get(), target.c_str());
  archive_entry_set_size(e.get(), 0);  // pax would otherwise expect the data again
  return Write(e.get(), rel);
}

Result<CommittedLayer> WriteLayer(std::unique_ptr<BlobWriter> blob, const std::string& dir,
                                  LayerSource source, const LayerDiffOptions& options) {
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<GzipLayerWriter> writer,
                           GzipLayerWriter::Create(std::move(blob), options.gzip_level));
  Status st = WriteLayerTar(dir, source, options, [&](std::string_view data) { return writer->Write(data); });
  if (!st.ok()) return st.Wrap("write layer from " + dir);
  return writer->Commit();
}

}  // namespace

Status WriteLayerTar(const std::string& dir, LayerSource source, const LayerDiffOptions& options,
                     const Sink& sink) {
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return ErrnoStatus("open " + dir);
  ScopedUtf8Locale locale;  // before the writer: libarchive picks its charset when it starts
  TarWriter tar(sink);
  SLIPWAY_RETURN_IF_ERROR(tar.Open());
  Walker walker(tar, dir, source, options);
  SLIPWAY_RETURN_IF_ERROR(walker.WalkDir(root.get(), ""));
  return tar.Close();
}

Result<CommittedLayer> WriteLayerFromUpper(std::unique_ptr<BlobWriter> blob, const std::string& upper_dir,
                                           const LayerDiffOptions& options) {
  return WriteLayer(std::move(blob), upper_dir, LayerSource::kOverlayUpper, options);
}

Result<CommittedLayer> WriteLayerFromDir(std::unique_ptr<BlobWriter> blob, const std::string& dir,
                                         const LayerDiffOptions& options) {
  return WriteLayer(std::move(blob), dir, LayerSource::kPlainDir, options);
}

}  // namespace slipway
