// Unpacks one OCI/Docker image layer into a directory, in the overlayfs
// format (whiteouts become 0/0 character devices, opaque directories get
// trusted.overlay.opaque=y), so that the directory can serve as an overlay
// lower dir.
//
// A layer is untrusted input. Every path is resolved relative to the
// destination with openat2(RESOLVE_IN_ROOT) or an equivalent walk that never
// follows a symlink out of it, so no entry (however it is named, and whatever
// symlinks earlier entries planted) can create, modify or link anything
// outside dest_dir.
//
// Policies:
// - Character and block devices are never created (a layer could otherwise
//   hand a sandbox /dev/sda); they are skipped and counted. Sandboxes get
//   their /dev from the runtime. FIFOs are created.
// - Extended attributes: only user.* and security.capability are written.
//   Everything else is dropped and counted: trusted.* above all (a layer
//   carrying trusted.overlay.* could forge whiteouts, opaque dirs or
//   redirects), and also security.selinux, system.* and the like, which
//   appear in layers built on hosts that use them and are not ours to apply.
//   Xattrs on entries other than regular files and directories are dropped
//   (the kernel does not allow user.* there). POSIX ACLs are not applied.
// - Sparse files: data blocks are written at their offsets and the file is
//   sized with ftruncate, so holes stay holes.
// - A later entry replaces an earlier one of the same name (a file, a link,
//   or a whole directory tree), as with tar; a directory entry over an
//   existing directory only updates its metadata.
// - Hard links keep the metadata of the inode they link to.
// - aufs metadata (.wh..wh.* other than .wh..wh..opq) is skipped.
// - Size: a small blob can expand to any size (a decompression bomb), so the
//   uncompressed stream is capped (`max_bytes`); past it the unpack fails
//   with kResourceExhausted and the caller removes the partial tree.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/base/fd.h"
#include "engine/base/status.h"
#include "engine/image/decompress.h"
#include "engine/oci/digest.h"

struct archive;

namespace slipway {

struct UnpackStats {
  Digest diff_id;                  // sha256 of the uncompressed tar stream
  int64_t uncompressed_bytes = 0;  // length of that stream
  int entries = 0;                 // tar entries read, skipped ones included
  int skipped_devices = 0;         // char/block device entries not created
  int skipped_xattrs = 0;          // xattrs outside the allow-list, not written
  // Who decompressed: "isal", "zlib", "zstd" (decompress.h), or
  // "libarchive" (xz, bzip2, an uncompressed tar).
  const char* decompressor = "";
};

// The default cap on a layer's uncompressed size: above the largest layers
// real images ship (CUDA, toolchains: a few GiB), far below a disk.
constexpr int64_t kDefaultMaxLayerBytes = int64_t{16} << 30;

// Unpacks an OCI/Docker layer (gzip, zstd, xz, bzip2 or uncompressed tar;
// detected from content; gzip and zstd inflated by decompress.h, the others
// by libarchive's filters) into dest_dir (an existing empty dir), computing the
// diff_id (sha256 of the uncompressed tar stream) in the same pass. Errors
// name the entry and the failed call; on error dest_dir holds a partial tree
// that the caller removes.
struct UnpackOptions {
  int64_t max_bytes = kDefaultMaxLayerBytes;  // cap on the uncompressed stream; 0: no cap
  // false for a plain archive rather than a layer (Dockerfile ADD): a name
  // starting with .wh. is then an error, never a deletion.
  bool whiteouts = true;
  // Which library inflates gzip (decompress.h); zstd is always libzstd's.
  GzipInflater gzip_inflater = DefaultGzipInflater();
};
Result<UnpackStats> UnpackLayer(const std::string& blob_path, const std::string& dest_dir,
                                const UnpackOptions& options = {});

// Where a layer's compressed bytes come from: each call gives a reader from
// the first byte (telling the format apart may take a second look). A file
// (FileBlobSource), or a blob still downloading (BlobFeed::Reader).
using BlobSource = std::function<Result<Decompressor::ReadFn>()>;
// A BlobSource over the file at `path`, opened now; the fd lives as long as
// the source.
Result<BlobSource> FileBlobSource(const std::string& path);
// UnpackLayer from any source; `name` names the layer in errors (its path,
// or its digest).
Result<UnpackStats> UnpackLayerFrom(const BlobSource& source, const std::string& name,
                                    const std::string& dest_dir, const UnpackOptions& options = {});

// Enables on `a` the decompression filters layers and archives may use:
// gzip, zstd, xz, bzip2. Never archive_read_support_filter_all, which would
// also run external programs (lrzip, lzop, grzip) that hostile input could
// select.
void SupportLayerFilters(::archive* a);

// Opens `path`, an archive a caller names (import, load), and starts `a`
// reading it. Only a regular file: a FIFO or a device would block a worker
// forever or never end. Every failure is kInvalidArgument naming the path
// (the caller's input is wrong). The fd is returned to be kept open as long
// as `a` reads.
Result<UniqueFd> OpenCallerArchive(::archive* a, const std::string& path);

}  // namespace slipway
