#include "engine/build/add_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>

#include <memory>

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
  return UnpackLayer(path, dest_dir, {max_bytes, /*whiteouts=*/false}).status();
}

}  // namespace slipway
