// ADD of a local tar archive: Docker unpacks it into the destination
// instead of copying the file.
//
// - An archive is a tar (ustar, pax, GNU), uncompressed or compressed with
//   gzip, bzip2, xz or zstd, recognised by content, never by name. A file
//   that only looks like one (a .tar.gz that is not a tar, a gzip'd text
//   file) is not an archive and is copied as is, as with Docker.
// - Unpacking is engine/image/layer_unpack's: the archive is untrusted, so
//   no entry can write outside the directory (`..`, absolute names, links
//   out), and device nodes and trusted.* xattrs are never created. OCI
//   whiteout names (.wh.*) have no meaning in an ADDed archive: they are
//   refused rather than turned into deletions. On error `dest_dir` holds
//   a partial tree that the caller removes.
#pragma once

#include <string>

#include "engine/base/status.h"

namespace slipway {

// Whether the file at `path` (opened without following a final symlink) is a
// tar archive, possibly compressed.
Result<bool> IsTarArchive(const std::string& path);

// Unpacks the archive at `path` into `dest_dir`, an existing empty directory.
// Entries keep the archive's modes, owners and mtimes. `max_bytes` caps the
// uncompressed size as for layers (kResourceExhausted past it; 0: no cap).
Status UnpackArchive(const std::string& path, const std::string& dest_dir, int64_t max_bytes);

}  // namespace slipway
