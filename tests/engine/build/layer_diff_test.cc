// WriteLayerFromUpper/FromDir against real overlay mounts. Needs root
// (mounts, chown, mknod, trusted.* xattrs). Every test runs twice: with the
// scratch directory on tmpfs (as a sandbox's writable layer is) and on the
// disk under $TEST_TMPDIR.
#include "engine/build/layer_diff.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "engine/image/content_store.h"
#include "engine/image/layer_unpack.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

std::string Hex(const std::string& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += {kDigits[c >> 4], kDigits[c & 15]};
  return out;
}

// Version 2 file capabilities: cap_net_bind_service (10), effective.
std::string CapNetBindService() {
  unsigned char v[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00};
  return std::string(reinterpret_cast<char*>(v), sizeof v);
}

// --- Making trees. Each helper records a test failure if a call fails. ---

void MakeFile(const std::string& path, const std::string& data, mode_t mode, uid_t uid = 0, gid_t gid = 0) {
  UniqueFd fd(::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600));
  ASSERT_TRUE(fd) << Errno("open " + path);
  ASSERT_TRUE(WriteAll(fd.get(), data, path).ok());
  // chown before chmod: chown clears setuid bits.
  ASSERT_EQ(::fchown(fd.get(), uid, gid), 0) << Errno("fchown " + path);
  ASSERT_EQ(::fchmod(fd.get(), mode), 0) << Errno("fchmod " + path);
}

void MakeDir(const std::string& path, mode_t mode) {
  ASSERT_EQ(::mkdir(path.c_str(), mode), 0) << Errno("mkdir " + path);
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << Errno("chmod " + path);
}

void SetXattr(const std::string& path, const std::string& name, const std::string& value) {
  ASSERT_EQ(::lsetxattr(path.c_str(), name.c_str(), value.data(), value.size(), 0), 0)
      << Errno("lsetxattr " + name + " " + path);
}

void SetMtime(const std::string& path, time_t sec) {
  timespec times[2] = {{sec, 0}, {sec, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << Errno("utimensat " + path);
}

// --- Reading layers back, independently of the code under test. ---

std::string Gunzip(const std::string& gz) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[65536];
  int rc;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  } while (rc == Z_OK);
  EXPECT_EQ(rc, Z_STREAM_END) << "gunzip failed";
  EXPECT_EQ(z.avail_in, 0u) << "bytes after the gzip stream";
  inflateEnd(&z);
  return out;
}

// sha256 hex by sha256sum(1).
std::string ExternalSha256(const std::string& dir, const std::string& data) {
  std::string path = dir + "/sha-input";
  UniqueFd fd(::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600));
  EXPECT_TRUE(fd && WriteAll(fd.get(), data, path).ok());
  std::string out;
  EXPECT_EQ(testing::RunShell("sha256sum " + path, &out), 0) << out;
  ::unlink(path.c_str());
  return out.substr(0, 64);
}

struct TarItem {
  std::string line;  // "path type perm uid:gid ..." (see Describe)
  int64_t mtime = 0;
  bool has_names = false;  // a user or group name was stored
  bool nanoseconds = false;
};

// One line per entry: path, type letter, octal permissions, owner, then
// content ("data"), symlink target (-> t), hard link target (=> t) and xattrs
// (name=hex), each only if there is one.
std::string Describe(const std::string& path, char type, unsigned perm, int64_t uid, int64_t gid,
                     const std::string& extra = "") {
  std::ostringstream line;
  line << path << " " << type << " " << std::oct << perm << std::dec << " " << uid << ":" << gid;
  if (!extra.empty()) line << " " << extra;
  return line.str();
}

// A hard link's own type is not stored: 'h'.
char TypeLetter(archive_entry* e) {
  if (archive_entry_hardlink(e)) return 'h';
  switch (archive_entry_filetype(e)) {
    case AE_IFREG: return 'f';
    case AE_IFDIR: return 'd';
    case AE_IFLNK: return 'l';
    case AE_IFIFO: return 'p';
    case AE_IFCHR: return 'c';
    case AE_IFBLK: return 'b';
    default: return '?';
  }
}

std::vector<TarItem> ParseTar(const std::string& tar) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_tar(a.get());
  EXPECT_EQ(archive_read_open_memory(a.get(), tar.data(), tar.size()), ARCHIVE_OK);
  std::vector<TarItem> items;
  archive_entry* e;
  int rc;
  // ARCHIVE_WARN: a name that is not valid in this (C) locale; its bytes are kept.
  while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
    char type = TypeLetter(e);
    std::string extra;
    std::string data;
    char buf[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(n));
    if (type == 'f' && !archive_entry_hardlink(e)) extra += "\"" + data + "\"";
    if (archive_entry_symlink(e)) extra += "-> " + std::string(archive_entry_symlink(e));
    if (archive_entry_hardlink(e)) extra += "=> " + std::string(archive_entry_hardlink(e));
    archive_entry_xattr_reset(e);
    const char* name;
    const void* value;
    size_t size;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
      extra += " " + std::string(name) + "=" + Hex(std::string(static_cast<const char*>(value), size));
    }
    TarItem item;
    item.line = Describe(archive_entry_pathname(e), type, archive_entry_perm(e), archive_entry_uid(e),
                         archive_entry_gid(e), extra);
    item.mtime = archive_entry_mtime(e);
    item.nanoseconds = archive_entry_mtime_nsec(e) != 0;
    const char* uname = archive_entry_uname(e);
    const char* gname = archive_entry_gname(e);
    item.has_names = (uname && *uname) || (gname && *gname);
    items.push_back(std::move(item));
  }
  EXPECT_EQ(rc, ARCHIVE_EOF) << archive_error_string(a.get());
  return items;
}

std::vector<std::string> Lines(const std::vector<TarItem>& items) {
  std::vector<std::string> out;
  for (const TarItem& i : items) out.push_back(i.line);
  return out;
}

// What a user of the tree sees below `dir` (the root itself excluded): per
// path its type and mode, owner, mtime (seconds: layers keep no more),
// content, link target, link count (not for directories: overlay reports 1
// for merged ones) and the xattrs layers carry.
std::vector<std::string> View(const std::string& dir) {
  std::vector<std::string> out;
  for (const std::string& path : testing::ListTree(dir)) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      ADD_FAILURE() << Errno("lstat " + path);
      continue;
    }
    std::ostringstream line;
    line << path.substr(dir.size()) << " " << std::oct << st.st_mode << std::dec << " " << st.st_uid << ":"
         << st.st_gid << " t=" << st.st_mtim.tv_sec;
    if (!S_ISDIR(st.st_mode)) line << " n=" << st.st_nlink;
    if (S_ISREG(st.st_mode)) line << " \"" << ReadFile(path).value() << "\"";
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlink(path.c_str(), target, sizeof target);
      line << " -> " << std::string(target, n > 0 ? static_cast<size_t>(n) : 0);
    }
    char names[4096];
    ssize_t len = ::llistxattr(path.c_str(), names, sizeof names);
    std::vector<std::string> xattrs;
    for (ssize_t i = 0; i < len; i += static_cast<ssize_t>(std::strlen(names + i)) + 1) {
      std::string name = names + i;
      if (name != "security.capability" && !name.starts_with("user.")) continue;
      char value[4096];
      ssize_t n = ::lgetxattr(path.c_str(), name.c_str(), value, sizeof value);
      xattrs.push_back(name + "=" + Hex(std::string(value, n > 0 ? static_cast<size_t>(n) : 0)));
    }
    std::sort(xattrs.begin(), xattrs.end());
    for (const std::string& x : xattrs) line << " " << x;
    out.push_back(line.str());
  }
  return out;
}

// Mounts made by a test, unmounted (most recent first) by Unmount or at the latest
// by the destructor.
class Mounts {
 public:
  ~Mounts() { UnmountAll(); }

  ::testing::AssertionResult Mount(const std::string& type, const std::string& target,
                                   const std::string& options, unsigned long flags = 0) {
    if (::mount(type.c_str(), target.c_str(), type.c_str(), flags, options.c_str()) != 0) {
      return ::testing::AssertionFailure() << Errno("mount " + type + " " + options + " on " + target);
    }
    targets_.push_back(target);
    return ::testing::AssertionSuccess();
  }
  ::testing::AssertionResult Unmount(const std::string& target) {
    auto it = std::find(targets_.begin(), targets_.end(), target);
    if (it == targets_.end()) return ::testing::AssertionFailure() << target << " is not mounted";
    targets_.erase(it);
    if (::umount2(target.c_str(), 0) != 0) return ::testing::AssertionFailure() << Errno("umount " + target);
    return ::testing::AssertionSuccess();
  }
  void UnmountAll() {
    while (!targets_.empty()) {
      std::string target = targets_.back();
      targets_.pop_back();
      if (::umount2(target.c_str(), 0) != 0) {
        ADD_FAILURE() << Errno("umount " + target);
        ::umount2(target.c_str(), MNT_DETACH);
      }
    }
  }

 private:
  std::vector<std::string> targets_;
};

class LayerDiffTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    root_ = testing::MakeTempDir("layer-diff");
    if (GetParam() == "tmpfs") {
      ASSERT_TRUE(mounts_.Mount("tmpfs", root_, "mode=0700"));
    }
    for (const char* d : {"lower", "upper", "work", "merged", "snap", "merged2", "plain"}) {
      ASSERT_TRUE(MakeDirs(P(d), 0755).ok());
    }
    auto store = ContentStore::Open(P("store"));
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
  }

  void TearDown() override {
    mounts_.UnmountAll();
    for (const std::string& m : testing::MountPoints()) {
      EXPECT_FALSE(m == root_ || m.starts_with(root_ + "/")) << "left mounted: " << m;
    }
    EXPECT_TRUE(RemoveTree(root_).ok());
  }

  std::string P(const std::string& rel) const { return root_ + "/" + rel; }

  // A new blob writer into the test's content store, for one layer.
  std::unique_ptr<BlobWriter> Blob() {
    auto writer = store_->NewWriter();
    EXPECT_TRUE(writer.ok()) << writer.status().message();
    return writer.ok() ? std::move(writer).value() : nullptr;
  }

  ::testing::AssertionResult MountOverlay() {
    return mounts_.Mount("overlay", P("merged"),
                         "lowerdir=" + P("lower") + ",upperdir=" + P("upper") + ",workdir=" + P("work"));
  }

  // The blob's bytes (checked against its digest and size) and the tar
  // inside (checked against the diff id and uncompressed size).
  std::string ReadLayer(const CommittedLayer& layer) {
    auto blob = ReadFile(store_->BlobPath(layer.blob));
    EXPECT_TRUE(blob.ok()) << blob.status().message();
    if (!blob.ok()) return "";
    EXPECT_EQ(layer.blob.hex(), ExternalSha256(root_, *blob));
    EXPECT_EQ(layer.size, static_cast<int64_t>(blob->size()));
    std::string tar = Gunzip(*blob);
    EXPECT_EQ(layer.diff_id.hex(), ExternalSha256(root_, tar));
    EXPECT_EQ(layer.uncompressed_size, static_cast<int64_t>(tar.size()));
    return tar;
  }

  std::string root_;
  Mounts mounts_;
  std::unique_ptr<ContentStore> store_;
};

// The lower layer a build step starts from.
void MakeLower(const std::string& lower) {
  MakeDir(lower + "/etc", 0755);
  MakeFile(lower + "/etc/keep", "keep\n", 0644);
  MakeFile(lower + "/etc/gone", "gone\n", 0644);
  MakeFile(lower + "/etc/mod", "old\n", 0644);
  MakeDir(lower + "/opt", 0755);
  MakeDir(lower + "/opt/old", 0755);
  MakeFile(lower + "/opt/old/a", "a", 0644);
  MakeDir(lower + "/opt/old/sub", 0755);
  MakeFile(lower + "/opt/old/sub/b", "b", 0644);
  MakeDir(lower + "/usr", 0755);
  MakeDir(lower + "/usr/lib", 0755);
  MakeFile(lower + "/usr/lib/libx", "x", 0644);
  ASSERT_EQ(::symlink("usr/lib", (lower + "/lib").c_str()), 0) << Errno("symlink lib");
  MakeDir(lower + "/var", 0755);
  MakeDir(lower + "/var/empty", 0755);
  for (const char* p :
       {"/etc/keep", "/etc/gone", "/etc/mod", "/opt/old/a", "/opt/old/sub/b", "/usr/lib/libx", "/lib", "/etc",
        "/opt/old/sub", "/opt/old", "/opt", "/usr/lib", "/usr", "/var/empty", "/var"}) {
    SetMtime(lower + p, 1500000000);
  }
}

// What a RUN step does, through the merged view.
void RunStep(const std::string& m) {
  MakeFile(m + "/etc/mod", "new\n", 0644);                                        // copy-up
  ASSERT_EQ(::unlink((m + "/etc/gone").c_str()), 0) << Errno("unlink etc/gone");  // whiteout
  ASSERT_TRUE(RemoveTree(m + "/opt/old").ok());                                   // opaque when made again
  MakeDir(m + "/opt/old", 0750);
  MakeFile(m + "/opt/old/new", "fresh", 0644);
  MakeFile(m + "/usr/lib/liby", "y", 0644);  // under copied-up parents

  MakeDir(m + "/app", 0755);
  MakeFile(m + "/app/run.sh", "#!/bin/sh\n", 0755);
  MakeFile(m + "/app/secret", "s", 0600);
  MakeFile(m + "/app/suid", "u", 04755);
  MakeFile(m + "/app/owned", "o", 0640, 1000, 1000);
  ASSERT_EQ(::symlink("run.sh", (m + "/app/link").c_str()), 0) << Errno("symlink app/link");
  ASSERT_EQ(::lchown((m + "/app/link").c_str(), 1000, 1000), 0) << Errno("lchown app/link");
  MakeFile(m + "/app/hard1", "h", 0644);
  ASSERT_EQ(::link((m + "/app/hard1").c_str(), (m + "/app/hard2").c_str()), 0) << Errno("link");
  ASSERT_EQ(::mkfifo((m + "/app/fifo").c_str(), 0600), 0) << Errno("mkfifo");
  ASSERT_EQ(::chmod((m + "/app/fifo").c_str(), 0644), 0) << Errno("chmod fifo");
  MakeFile(m + "/app/cap", "ELF", 0755);
  SetXattr(m + "/app/cap", "security.capability", CapNetBindService());
  MakeFile(m + "/app/xattr", "x", 0644);
  SetXattr(m + "/app/xattr", "user.note", "hi");
  MakeFile(m + "/app/caf\xc3\xa9", "utf8", 0644);
  MakeFile(m + "/app/lat\xe9", "latin1", 0644);  // not UTF-8: stored as bytes
  MakeFile(m + "/app/tmp", "gone again", 0644);  // created and removed within the step: no trace
  ASSERT_EQ(::unlink((m + "/app/tmp").c_str()), 0) << Errno("unlink app/tmp");
}

std::vector<std::string> ExpectedStepEntries() {
  std::string cap = "security.capability=" + Hex(CapNetBindService());
  return {
      Describe("app/", 'd', 0755, 0, 0),
      Describe("app/caf\xc3\xa9", 'f', 0644, 0, 0, "\"utf8\""),
      Describe("app/cap", 'f', 0755, 0, 0, "\"ELF\" " + cap),
      Describe("app/fifo", 'p', 0644, 0, 0),
      Describe("app/hard1", 'f', 0644, 0, 0, "\"h\""),
      Describe("app/hard2", 'h', 0644, 0, 0, "=> app/hard1"),
      Describe("app/lat\xe9", 'f', 0644, 0, 0, "\"latin1\""),
      Describe("app/link", 'l', 0777, 1000, 1000, "-> run.sh"),
      Describe("app/owned", 'f', 0640, 1000, 1000, "\"o\""),
      Describe("app/run.sh", 'f', 0755, 0, 0, "\"#!/bin/sh\n\""),
      Describe("app/secret", 'f', 0600, 0, 0, "\"s\""),
      Describe("app/suid", 'f', 04755, 0, 0, "\"u\""),
      Describe("app/xattr", 'f', 0644, 0, 0, "\"x\" user.note=" + Hex("hi")),
      Describe("etc/", 'd', 0755, 0, 0),
      Describe("etc/.wh.gone", 'f', 0600, 0, 0, "\"\""),
      Describe("etc/mod", 'f', 0644, 0, 0, "\"new\n\""),
      Describe("opt/", 'd', 0755, 0, 0),
      Describe("opt/old/", 'd', 0750, 0, 0),
      Describe("opt/old/.wh..wh..opq", 'f', 0750, 0, 0, "\"\""),
      Describe("opt/old/new", 'f', 0644, 0, 0, "\"fresh\""),
      Describe("usr/", 'd', 0755, 0, 0),
      Describe("usr/lib/", 'd', 0755, 0, 0),
      Describe("usr/lib/liby", 'f', 0644, 0, 0, "\"y\""),
  };
}

TEST_P(LayerDiffTest, UpperBecomesALayerThatRebuildsTheMergedView) {
  MakeLower(P("lower"));
  ASSERT_TRUE(MountOverlay());
  RunStep(P("merged"));
  ASSERT_FALSE(HasFatalFailure());
  std::vector<std::string> merged_view = View(P("merged"));
  ASSERT_TRUE(mounts_.Unmount(P("merged")));

  auto layer = WriteLayerFromUpper(Blob(), P("upper"), {});
  ASSERT_TRUE(layer.ok()) << layer.status().message();
  std::string tar = ReadLayer(*layer);
  std::vector<TarItem> items = ParseTar(tar);
  EXPECT_EQ(Lines(items), ExpectedStepEntries());

  // Overlay's own metadata (origin, impure, opaque) never reaches the layer.
  EXPECT_EQ(tar.find("trusted."), std::string::npos);
  EXPECT_EQ(tar.find("overlay."), std::string::npos);
  for (const TarItem& item : items) {
    EXPECT_FALSE(item.has_names) << item.line;
    EXPECT_FALSE(item.nanoseconds) << item.line;
  }
  // Entries keep the upper dir's mtimes (whole seconds).
  struct stat st;
  ASSERT_EQ(::lstat(P("upper/usr/lib").c_str(), &st), 0);
  auto usr_lib =
      std::find_if(items.begin(), items.end(), [](auto& i) { return i.line.starts_with("usr/lib/ "); });
  ASSERT_NE(usr_lib, items.end());
  EXPECT_EQ(usr_lib->mtime, st.st_mtim.tv_sec);

  // Round trip through the existing unpacker: the layer as a snapshot on top
  // of the lower dir shows exactly what the step saw.
  auto stats = UnpackLayer(store_->BlobPath(layer->blob), P("snap"));
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->diff_id, layer->diff_id);
  EXPECT_EQ(stats->skipped_devices, 0);
  EXPECT_EQ(stats->skipped_xattrs, 0);
  ASSERT_TRUE(mounts_.Mount("overlay", P("merged2"), "lowerdir=" + P("snap") + ":" + P("lower"), MS_RDONLY));
  EXPECT_EQ(View(P("merged2")), merged_view);
  ASSERT_TRUE(mounts_.Unmount(P("merged2")));
  // And the step's effects are all there.
  auto count = [&](const std::string& prefix) {
    return std::count_if(merged_view.begin(), merged_view.end(),
                         [&](const std::string& l) { return l.starts_with(prefix); });
  };
  EXPECT_EQ(count("/etc/gone "), 0);
  EXPECT_EQ(count("/etc/keep "), 1);
  EXPECT_EQ(count("/opt/old/"), 1);  // only "new": the lower's a and sub/ are hidden
}

TEST_P(LayerDiffTest, SourceDateEpochMakesLayersReproducible) {
  MakeLower(P("lower"));
  ASSERT_TRUE(MountOverlay());
  RunStep(P("merged"));
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(mounts_.Unmount(P("merged")));

  LayerDiffOptions options;
  options.source_date_epoch = 1600000000;
  auto first = WriteLayerFromUpper(Blob(), P("upper"), options);
  auto second = WriteLayerFromUpper(Blob(), P("upper"), options);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(first->diff_id.hex(), second->diff_id.hex());
  EXPECT_EQ(first->blob.hex(), second->blob.hex());
  // Made or changed by the step: now, clamped. usr/ was only copied up: the
  // lower's 1500000000, kept.
  std::vector<TarItem> items = ParseTar(ReadLayer(*first));
  for (const TarItem& item : items) {
    bool copied_up = item.line.starts_with("usr/ ");  // its contents are unchanged
    EXPECT_EQ(item.mtime, copied_up ? 1500000000 : 1600000000) << item.line;
  }

  // The same step run again later: other mtimes (and inode numbers), the same layer.
  std::string later = P("later");
  ASSERT_TRUE(MakeDirs(later).ok());
  ASSERT_EQ(testing::RunShell("cp -a " + P("upper") + "/. " + later, nullptr), 0);
  ASSERT_EQ(testing::RunShell("find " + later + " -newermt @1600000000 -exec touch -h -d @1700000000 {} +",
                              nullptr),
            0);
  auto again = WriteLayerFromUpper(Blob(), later, options);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->diff_id.hex(), first->diff_id.hex());
  EXPECT_EQ(again->blob.hex(), first->blob.hex());
  EXPECT_EQ(Lines(ParseTar(ReadLayer(*again))), Lines(items));

  // Older mtimes than the epoch are kept: a clamp, not a reset.
  options.source_date_epoch = 1800000000;
  auto kept = WriteLayerFromUpper(Blob(), later, options);
  ASSERT_TRUE(kept.ok()) << kept.status().message();
  for (const TarItem& item : ParseTar(ReadLayer(*kept))) {
    bool copied_up = item.line.starts_with("usr/ ");  // its contents are unchanged
    EXPECT_EQ(item.mtime, copied_up ? 1500000000 : 1700000000) << item.line;
  }
}

TEST_P(LayerDiffTest, DeviceNodesAreRefused) {
  ASSERT_EQ(::mknod(P("upper/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0) << Errno("mknod");
  auto r = WriteLayerFromUpper(Blob(), P("upper"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(P("upper/null") + ": character device 1:3"), std::string::npos)
      << r.status().message();
  ASSERT_EQ(::unlink(P("upper/null").c_str()), 0);

  ASSERT_EQ(::mknod(P("upper/loop").c_str(), S_IFBLK | 0660, makedev(7, 0)), 0) << Errno("mknod");
  r = WriteLayerFromUpper(Blob(), P("upper"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(P("upper/loop") + ": block device 7:0"), std::string::npos)
      << r.status().message();

  // Outside an overlay upper dir, a 0/0 device is no whiteout but a device.
  ASSERT_EQ(::mknod(P("plain/wh").c_str(), S_IFCHR, makedev(0, 0)), 0) << Errno("mknod");
  r = WriteLayerFromDir(Blob(), P("plain"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(P("plain/wh") + ": character device 0:0"), std::string::npos)
      << r.status().message();
  // Nothing half-written was committed.
  EXPECT_TRUE(store_->List().empty());
}

TEST_P(LayerDiffTest, RedirectAndMetacopyAreRefusedInUpperDirsOnly) {
  MakeDir(P("upper/moved"), 0755);
  SetXattr(P("upper/moved"), "trusted.overlay.redirect", "/old");
  auto r = WriteLayerFromUpper(Blob(), P("upper"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find(P("upper/moved") + " has trusted.overlay.redirect"), std::string::npos)
      << r.status().message();
  ASSERT_TRUE(RemoveTree(P("upper/moved")).ok());

  MakeFile(P("upper/meta"), "", 0644);
  SetXattr(P("upper/meta"), "user.overlay.metacopy", "");
  r = WriteLayerFromUpper(Blob(), P("upper"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("user.overlay.metacopy"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("metacopy"), std::string::npos) << r.status().message();

  // In a plain directory these are just xattrs, and dropped.
  r = WriteLayerFromDir(Blob(), P("upper"), {});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Lines(ParseTar(ReadLayer(*r))),
            std::vector<std::string>{Describe("meta", 'f', 0644, 0, 0, "\"\"")});
}

TEST_P(LayerDiffTest, NamesReservedForWhiteoutsAreRefused) {
  MakeDir(P("plain/app"), 0755);
  MakeFile(P("plain/app/.wh.evil"), "", 0644);
  auto r = WriteLayerFromDir(Blob(), P("plain"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find(P("plain/app/.wh.evil") + ": names starting with \".wh.\""),
            std::string::npos)
      << r.status().message();
}

TEST_P(LayerDiffTest, PlainDirKeepsOnlyImageXattrsAndSkipsSockets) {
  std::string d = P("plain");
  MakeDir(d + "/bin", 0755);
  MakeFile(d + "/bin/ping", "ping", 0755);
  SetXattr(d + "/bin/ping", "security.capability", CapNetBindService());
  SetXattr(d + "/bin/ping", "trusted.secret", "no");
  SetXattr(d + "/bin/ping", "user.kept", "yes");
  SetXattr(d + "/bin", "trusted.overlay.opaque", "y");  // means nothing outside an upper dir
  bool selinux = ::lsetxattr((d + "/bin/ping").c_str(), "security.selinux", "host_t", 6, 0) == 0;
  // A socket some process left behind.
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(sock) << Errno("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // Bound through /proc/self/fd: the scratch path is longer than sun_path.
  UniqueFd dir(::open(d.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir) << Errno("open " + d);
  std::string sock_path = "/proc/self/fd/" + std::to_string(dir.get()) + "/agent.sock";
  ASSERT_LT(sock_path.size(), sizeof addr.sun_path);
  std::strcpy(addr.sun_path, sock_path.c_str());
  ASSERT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << Errno("bind");
  // Hard links to one inode from several directories: the first path in walk order wins.
  MakeDir(d + "/z", 0700);
  MakeFile(d + "/z/one", "1", 0600, 7, 8);
  ASSERT_EQ(::link((d + "/z/one").c_str(), (d + "/bin/also").c_str()), 0) << Errno("link");

  auto r = WriteLayerFromDir(Blob(), d, {});
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::string tar = ReadLayer(*r);
  EXPECT_EQ(
      Lines(ParseTar(tar)),
      (std::vector<std::string>{
          Describe("bin/", 'd', 0755, 0, 0),
          Describe("bin/also", 'f', 0600, 7, 8, "\"1\""),
          Describe("bin/ping", 'f', 0755, 0, 0,
                   "\"ping\" security.capability=" + Hex(CapNetBindService()) + " user.kept=" + Hex("yes")),
          Describe("z/", 'd', 0700, 0, 0),
          Describe("z/one", 'h', 0600, 7, 8, "=> bin/also"),
      }));
  EXPECT_EQ(tar.find("trusted."), std::string::npos);
  if (selinux) {
    EXPECT_EQ(tar.find("security.selinux"), std::string::npos);
  }
}

TEST_P(LayerDiffTest, EmptyUpperIsAnEmptyLayer) {
  auto r = WriteLayerFromUpper(Blob(), P("upper"), {});
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::string tar = ReadLayer(*r);
  EXPECT_EQ(tar, std::string(1024, '\0'));  // the end-of-archive marker, no padding
  auto stats = UnpackLayer(store_->BlobPath(r->blob), P("snap"));
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->diff_id, r->diff_id);
}

TEST_P(LayerDiffTest, SinkErrorsComeBackAsTheyAre) {
  MakeFile(P("plain/big"), std::string(1 << 20, 'x'), 0644);
  Status st = WriteLayerTar(P("plain"), LayerSource::kPlainDir, {},
                            [](std::string_view) { return Status(Code::kResourceExhausted, "disk full"); });
  EXPECT_EQ(st.code(), Code::kResourceExhausted);
  EXPECT_EQ(st.message(), "disk full");
}

TEST_P(LayerDiffTest, MissingDirectoryIsNamed) {
  auto r = WriteLayerFromUpper(Blob(), P("nope"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("open " + P("nope")), std::string::npos) << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(Backing, LayerDiffTest, ::testing::Values("tmpfs", "disk"));

}  // namespace
}  // namespace slipway
