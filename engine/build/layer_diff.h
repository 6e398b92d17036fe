// Turns a directory into an OCI image layer: the inverse of
// engine/image/layer_unpack. A build step's overlayfs upper directory (what
// a RUN changed) or a staging directory (what a COPY adds) becomes a tar with
// OCI whiteouts, gzip-compressed into the content store, with both digests.
//
// The tar (pax, written by libarchive):
// - Order: depth first, the entries of each directory sorted by their names
//   on disk (bytewise), so a whiteout sits where the name it hides sorts; a
//   directory comes before its contents. Paths are relative ("etc/passwd",
//   directories "etc/"); the root directory itself is not an entry (its
//   metadata belongs to the lower layers).
// - Kept: regular files (content, permission bits with setuid/setgid/sticky,
//   owner, mtime), directories, symlinks (target stored as is, never
//   followed), FIFOs, and hard links: an inode met a second time becomes a
//   hard link entry to the path it was first met at.
// - Owners are numeric uid/gid only; user and group names stay empty (the
//   host's names mean nothing in an image).
// - mtime: whole seconds (sub-second parts dropped, as Docker and buildah
//   do, so that entries need no pax time records). With source_date_epoch,
//   any later mtime becomes that value. atime and ctime are never stored.
// - Extended attributes, read from regular files and directories only (the
//   kernel allows neither kind below on other entries): security.capability
//   and user.* are kept (what layer_unpack applies); everything else is
//   dropped, notably trusted.* (overlayfs' own metadata), security.selinux
//   (a host label), system.* (ACLs) and user.overlay.* (overlayfs' metadata
//   under the userxattr mount option).
// - Sparse files are stored in full (holes as zeros).
// - Unix sockets are skipped: a process a build step left running (an
//   agent) may leave one, and no image format can carry it (Docker and
//   buildah skip them too).
// - Names (and link targets) are stored byte for byte, whatever the
//   process' locale: ASCII in the ustar header, other valid UTF-8 in a pax
//   path record (as Go's archive/tar writes them), anything else raw with
//   that entry marked pax hdrcharset=BINARY.
// - Reproducible: the same tree (same metadata) gives the same tar, hence
//   the same diff id, and at a fixed gzip level the same blob. With
//   source_date_epoch, trees written by two runs of a step at different
//   times are the same tree.
//
// Refused, with an error naming the path:
// - Character devices other than overlay whiteouts, and block devices:
//   builds must not create device nodes (sandboxes get /dev from the
//   runtime, and layer_unpack would not create them anyway).
// - Names starting with ".wh.": OCI layers reserve them for whiteouts, so
//   such a file would delete something when the layer is applied.
// - Files that change while being read (size or identity).
//
// Overlay upper directories (WriteLayerFromUpper) additionally:
// - A character device 0/0 (an overlay whiteout) "d/x" becomes an empty
//   regular file "d/.wh.x" (mode 0600, the whiteout's owner and mtime). The
//   kernel may make whiteouts hard links to one shared inode; they are never
//   treated as hard links.
// - A directory with trusted.overlay.opaque or user.overlay.opaque = "y" (a
//   directory removed and created anew) is written, then an empty regular
//   file "d/.wh..wh..opq" (the directory's rwx bits, owner and mtime),
//   then its contents. Both xattr names count, whether or not the overlay
//   was mounted with userxattr.
// - trusted.overlay.redirect and .metacopy (also under user.overlay.) are
//   refused: they mean the upper dir records renames of lower directories or
//   files whose data still lives in a lower layer, which a layer cannot
//   express. Both come from the redirect_dir and metacopy overlay features,
//   which are off by default; build sandboxes must leave them off.
//
// Directories are walked with dirfd-relative calls (openat, fstatat with
// AT_SYMLINK_NOFOLLOW, O_NOFOLLOW): nothing outside the directory is read,
// whatever symlinks it holds. One directory fd stays open per level of depth.
// The directory must not change while it is written (the build step's
// sandbox has ended).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/base/status.h"
#include "engine/image/content_store.h"
#include "engine/image/layer_writer.h"

namespace slipway {

struct LayerDiffOptions {
  // SOURCE_DATE_EPOCH (seconds): mtimes later than this are clamped to it.
  std::optional<int64_t> source_date_epoch;
  // zlib level for the blob; the diff id does not depend on it.
  int gzip_level = -1;  // Z_DEFAULT_COMPRESSION
};

// What kind of directory is written.
enum class LayerSource {
  kOverlayUpper,  // whiteouts and opaque directories are translated (see above)
  kPlainDir,      // a staging directory: a 0/0 character device is just a device (refused)
};

// Writes the uncompressed tar of `dir` to `sink`, in order. Errors from
// `sink` are returned as they are.
Status WriteLayerTar(const std::string& dir, LayerSource source, const LayerDiffOptions& options,
                     const std::function<Status(std::string_view)>& sink);

// A build step's overlay upper dir as a gzip layer committed through `blob`
// (a new blob writer of the image store): blob digest and size, diff id and
// uncompressed size. The caller holds the image store's write lease until an
// image refers to the blob.
Result<CommittedLayer> WriteLayerFromUpper(std::unique_ptr<BlobWriter> blob, const std::string& upper_dir,
                                           const LayerDiffOptions& options);

// The same for a staging directory (COPY/ADD): no whiteouts.
Result<CommittedLayer> WriteLayerFromDir(std::unique_ptr<BlobWriter> blob, const std::string& dir,
                                         const LayerDiffOptions& options);

}  // namespace slipway
