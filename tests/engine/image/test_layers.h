// Builds layer tarballs in tests with libarchive's writer, so that tests can
// craft any entry a hostile layer might contain.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace slipway::testing {

struct TarEntry {
  std::string path;
  unsigned type = 0100000;  // AE_IFREG; AE_IFDIR, AE_IFLNK, AE_IFIFO, AE_IFCHR, AE_IFBLK
  std::string data;         // a regular file's contents (for sparse files: the whole logical file)
  std::string symlink;      // a symlink's target
  std::string hardlink;     // when set, a hard link to this path (type is ignored)
  unsigned perm = 0644;
  int64_t uid = 0;
  int64_t gid = 0;
  int64_t mtime = 1600000000;
  long mtime_nsec = 0;
  dev_t rdev = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
  std::vector<std::pair<int64_t, int64_t>> sparse;  // data regions (offset, length); the rest are holes
};

TarEntry File(std::string path, std::string data, unsigned perm = 0644);
TarEntry Dir(std::string path, unsigned perm = 0755);
TarEntry Symlink(std::string path, std::string target);
TarEntry Hardlink(std::string path, std::string target);
TarEntry Device(std::string path, bool block, dev_t rdev);

enum class Compression { kNone, kGzip, kZstd };

// The uncompressed tar stream (pax), with libarchive's default 10 KiB blocking.
std::string MakeTar(const std::vector<TarEntry>& entries);
// The tar, compressed.
std::string Compress(const std::string& tar, Compression c);

// Writes `data` to `path` (test files: throws on failure).
void WriteTestFile(const std::string& path, const std::string& data);
// sha256 hex of `data` computed by sha256sum(1), independent of our Sha256.
std::string ExternalSha256(const std::string& data);

}  // namespace slipway::testing
