#include "engine/build/add_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>

#include <memory>
#include <string_view>

#include "engine/base/fd.h"
#include "engine/image/layer_unpack.h"

namespace slipway {
namespace {

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

// The archive at `fd` opened for reading tar entries through any layer
// filter, or nullptr if libarchive does not recognise it as one.
ArchivePtr OpenTar(int fd) {
  ArchivePtr a(archive_read_new());
  if (!a) return nullptr;
  SupportLayerFilters(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_fd(a.get(), fd, 64 << 10) != ARCHIVE_OK) return nullptr;
  return a;
}

bool IsWhiteoutName(std::string_view path) {
  size_t slash = path.find_last_of('/', path.size() > 1 && path.back() == '/' ? path.size() - 2 : path.npos);
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  return base.rfind(".wh.", 0) == 0;
}

}  // namespace

Result<bool> IsTarArchive(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + path);
  ArchivePtr a = OpenTar(fd.get());
  if (!a) return false;
  archive_entry* entry;
  int rc = archive_read_next_header(a.get(), &entry);
  return rc == ARCHIVE_OK || rc == ARCHIVE_WARN;
}

Status UnpackArchive(const std::string& path, const std::string& dest_dir, int64_t max_bytes) {
  // The whiteout check reads the archive once more before anything is
  // written: layer_unpack would otherwise turn such names into deletions.
  {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return ErrnoStatus("open " + path);
    ArchivePtr a = OpenTar(fd.get());
    if (!a) return InvalidArgument(path + ": not a tar archive");
    for (;;) {
      archive_entry* entry;
      int rc = archive_read_next_header(a.get(), &entry);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) {
        const char* why = archive_error_string(a.get());
        return InvalidArgument("read archive: " + std::string(why ? why : "unknown error"));
      }
      const char* name = archive_entry_pathname(entry);
      if (name && IsWhiteoutName(name))
        return InvalidArgument(std::string("archive entry ") + name +
                               ": names starting with .wh. are reserved for layer whiteouts");
    }
  }
  return UnpackLayer(path, dest_dir, max_bytes).status();
}

}  // namespace slipway
