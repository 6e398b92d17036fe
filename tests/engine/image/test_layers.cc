#include "tests/engine/image/test_layers.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <stdexcept>

namespace slipway::testing {

TarEntry File(std::string path, std::string data, unsigned perm) {
  TarEntry e;
  e.path = std::move(path);
  e.data = std::move(data);
  e.perm = perm;
  return e;
}

TarEntry Dir(std::string path, unsigned perm) {
  TarEntry e;
  e.path = std::move(path);
  e.type = AE_IFDIR;
  e.perm = perm;
  return e;
}

TarEntry Symlink(std::string path, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.type = AE_IFLNK;
  e.symlink = std::move(target);
  e.perm = 0777;
  return e;
}

TarEntry Hardlink(std::string path, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.hardlink = std::move(target);
  return e;
}

TarEntry Device(std::string path, bool block, dev_t rdev) {
  TarEntry e;
  e.path = std::move(path);
  e.type = block ? AE_IFBLK : AE_IFCHR;
  e.rdev = rdev;
  e.perm = 0666;
  return e;
}

namespace {

void Check(archive* a, int rc, const char* what) {
  if (rc >= ARCHIVE_WARN) return;
  const char* err = archive_error_string(a);
  throw std::runtime_error(std::string(what) + ": " + (err ? err : "unknown error"));
}

struct WriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

la_ssize_t AppendToString(archive*, void* client, const void* buf, size_t n) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

void AddEntry(archive* a, archive_entry* e, const TarEntry& t) {
  archive_entry_clear(e);
  archive_entry_copy_pathname(e, t.path.c_str());
  if (!t.hardlink.empty()) {
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_copy_hardlink(e, t.hardlink.c_str());
    archive_entry_set_size(e, 0);
  } else {
    archive_entry_set_filetype(e, t.type);
    archive_entry_set_size(e, t.type == AE_IFREG ? static_cast<la_int64_t>(t.data.size()) : 0);
  }
  if (t.type == AE_IFLNK) archive_entry_copy_symlink(e, t.symlink.c_str());
  archive_entry_set_perm(e, t.perm);
  archive_entry_set_uid(e, t.uid);
  archive_entry_set_gid(e, t.gid);
  archive_entry_set_mtime(e, t.mtime, t.mtime_nsec);
  archive_entry_set_rdev(e, t.rdev);
  for (const auto& [name, value] : t.xattrs) {
    archive_entry_xattr_add_entry(e, name.c_str(), value.data(), value.size());
  }
  for (const auto& [offset, length] : t.sparse) archive_entry_sparse_add_entry(e, offset, length);
  Check(a, archive_write_header(a, e), ("write_header " + t.path).c_str());
  // For a sparse entry this is the whole logical file; the writer drops the holes.
  if (t.type == AE_IFREG && t.hardlink.empty() && !t.data.empty() &&
      archive_write_data(a, t.data.data(), t.data.size()) < 0) {
    Check(a, ARCHIVE_FATAL, "write_data");
  }
}

// A pax tar of `entries`, or (raw_input) `tar` compressed with `c`.
std::string Write(const std::vector<TarEntry>& entries, const std::string& tar, Compression c,
                  bool raw_input) {
  std::unique_ptr<archive, WriteFree> owner(archive_write_new());
  archive* a = owner.get();
  if (raw_input) {
    Check(a, archive_write_set_format_raw(a), "set_format_raw");
    archive_write_set_bytes_in_last_block(a, 1);  // no zero padding after the compressed data
  } else {
    Check(a, archive_write_set_format_pax_restricted(a), "set_format_pax_restricted");
  }
  switch (c) {
    case Compression::kNone: Check(a, archive_write_add_filter_none(a), "add_filter_none"); break;
    case Compression::kGzip: Check(a, archive_write_add_filter_gzip(a), "add_filter_gzip"); break;
    case Compression::kZstd: Check(a, archive_write_add_filter_zstd(a), "add_filter_zstd"); break;
  }
  std::string out;
  Check(a, archive_write_open(a, &out, nullptr, AppendToString, nullptr), "open");
  std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
  if (raw_input) {
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(tar.size()));
    Check(a, archive_write_header(a, e.get()), "write_header");
    if (!tar.empty() && archive_write_data(a, tar.data(), tar.size()) < 0)
      Check(a, ARCHIVE_FATAL, "write_data");
  }
  for (const TarEntry& t : entries) AddEntry(a, e.get(), t);
  Check(a, archive_write_close(a), "close");
  return out;
}

}  // namespace

std::string MakeTar(const std::vector<TarEntry>& entries) {
  return Write(entries, "", Compression::kNone, false);
}

std::string Compress(const std::string& tar, Compression c) {
  if (c == Compression::kNone) return tar;
  return Write({}, tar, c, true);
}

void WriteTestFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
  if (!out) throw std::runtime_error("write " + path);
}

std::string ExternalSha256(const std::string& data) {
  char tmpl[] = "/tmp/sha-input-XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error("mkstemp");
  ::close(fd);
  WriteTestFile(tmpl, data);
  FILE* p = ::popen(("sha256sum " + std::string(tmpl)).c_str(), "r");
  char buf[65] = {};
  size_t n = p ? std::fread(buf, 1, 64, p) : 0;
  if (p) ::pclose(p);
  ::unlink(tmpl);
  if (n != 64) throw std::runtime_error("sha256sum failed");
  return std::string(buf, 64);
}

}  // namespace slipway::testing
