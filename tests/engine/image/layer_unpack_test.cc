#include "engine/image/layer_unpack.h"

#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/base/fs.h"
#include "tests/engine/image/test_layers.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

using testing::Compression;
using testing::Device;
using testing::Dir;
using testing::File;
using testing::Hardlink;
using testing::Symlink;
using testing::TarEntry;

// Every test unpacks into <parent>/dest; <parent>/host stands for a host
// directory that hostile layers aim at. After each test, nothing in <parent>
// may exist outside dest except the layer file and the (empty) host dir.
class LayerUnpackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    parent_ = testing::MakeTempDir("unpack");
    dest_ = parent_ + "/dest";
    host_ = parent_ + "/host";
    layer_ = parent_ + "/layer";
    ASSERT_TRUE(MakeDirs(dest_).ok());
    ASSERT_TRUE(MakeDirs(host_).ok());
  }
  void TearDown() override {
    ExpectContained();
    ASSERT_TRUE(RemoveTree(parent_).ok());
  }

  Result<UnpackStats> Unpack(const std::vector<TarEntry>& entries, Compression c = Compression::kNone) {
    tar_ = testing::MakeTar(entries);
    testing::WriteTestFile(layer_, testing::Compress(tar_, c));
    return UnpackLayer(layer_, dest_);
  }

  // Unpacking must fail with an error naming `entry` and containing `what`.
  void ExpectError(const std::vector<TarEntry>& entries, const std::string& entry, const std::string& what) {
    auto r = Unpack(entries);
    ASSERT_FALSE(r.ok()) << "unpacked " << entry;
    EXPECT_NE(r.status().message().find("\"" + entry + "\""), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().message();
  }

  void ExpectContained() {
    for (const std::string& p : testing::ListTree(parent_)) {
      bool inside = p == dest_ || p.starts_with(dest_ + "/") || p == layer_ || p == host_;
      EXPECT_TRUE(inside) << "created outside the destination: " << p;
    }
  }

  // "relative-path mode uid gid size mtime" for every entry below `dir`.
  static std::vector<std::string> Fingerprint(const std::string& dir) {
    std::vector<std::string> out;
    for (std::string line : testing::TreeFingerprint(dir)) out.push_back(line.substr(dir.size()));
    return out;
  }

  std::string P(const std::string& rel) const { return dest_ + "/" + rel; }
  struct stat Lstat(const std::string& rel) const {
    struct stat st {};
    EXPECT_EQ(::lstat(P(rel).c_str(), &st), 0) << rel << ": " << std::strerror(errno);
    return st;
  }
  bool Exists(const std::string& rel) const { return PathExists(P(rel)); }
  std::string Xattr(const std::string& rel, const char* name) const {
    char buf[256];
    ssize_t n = ::lgetxattr(P(rel).c_str(), name, buf, sizeof buf);
    return n < 0 ? "<none>" : std::string(buf, static_cast<size_t>(n));
  }

  std::string parent_, dest_, host_, layer_, tar_;
};

// Version 2 file capabilities: cap_net_bind_service (10), effective.
std::string CapNetBindService() {
  unsigned char v[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00};
  return std::string(reinterpret_cast<char*>(v), sizeof v);
}

std::vector<TarEntry> RichLayer() {
  TarEntry etc = Dir("etc/", 0755);
  etc.mtime = 1500000000;
  TarEntry conf = File("etc/conf", "key=value\n", 0640);
  conf.uid = 1000;
  conf.gid = 1001;
  conf.mtime = 1400000000;
  conf.mtime_nsec = 123456789;
  conf.xattrs = {{"user.test", "hello"}};
  TarEntry ping = File("bin/ping", "ELF pretend", 0755);
  ping.xattrs = {{"security.capability", CapNetBindService()}};
  TarEntry fifo;
  fifo.path = "run/fifo";
  fifo.type = AE_IFIFO;
  fifo.perm = 0620;
  fifo.uid = 5;
  TarEntry sparse = File("var/sparse", std::string(1 << 20, '\0'));
  for (int i = 0; i < 4096; ++i) sparse.data[i] = 'a', sparse.data[(512 << 10) + i] = 'b';
  sparse.sparse = {{0, 4096}, {512 << 10, 4096}};
  TarEntry link = Symlink("bin/sh", "busybox");
  link.uid = 7;
  link.mtime = 1300000000;
  return {Dir("./"),
          etc,
          conf,
          Dir("bin"),
          Dir("run"),
          Dir("var"),
          File("bin/busybox", std::string(100000, 'x'), 0755),
          File("bin/su", "setuid", 04755),
          Hardlink("bin/su-again", "bin/su"),
          link,
          ping,
          Dir("tmp", 01777),
          Dir("srv", 02750),
          fifo,
          sparse,
          File("implicit/parent/file", "made my parents")};
}

TEST_F(LayerUnpackTest, GzipZstdAndPlainGiveTheSameTreeAndDiffId) {
  std::vector<std::string> first;
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
    ASSERT_TRUE(RemoveTree(dest_).ok());
    ASSERT_TRUE(MakeDirs(dest_).ok());
    auto r = Unpack(RichLayer(), c);
    ASSERT_TRUE(r.ok()) << r.status().message();
    // libarchive pads the tar to 10 KiB after the end marker; the padding is
    // part of the diff_id too.
    ASSERT_EQ(tar_.size() % 10240, 0u);
    EXPECT_EQ(r->diff_id.hex(), testing::ExternalSha256(tar_));
    EXPECT_EQ(r->uncompressed_bytes, static_cast<int64_t>(tar_.size()));
    EXPECT_EQ(r->entries, static_cast<int>(RichLayer().size()));
    EXPECT_EQ(r->skipped_devices, 0);
    EXPECT_EQ(r->skipped_xattrs, 0);
    std::vector<std::string> fp;
    for (const std::string& line : Fingerprint(dest_)) {
      if (!line.starts_with("/implicit ") && !line.starts_with("/implicit/parent "))
        fp.push_back(line);  // mtime: now
    }
    if (first.empty()) {
      first = fp;
      EXPECT_GT(first.size(), 10u);
    } else {
      EXPECT_EQ(fp, first);
    }
  }
}

TEST_F(LayerUnpackTest, KeepsModesOwnersTimesLinksAndXattrs) {
  auto r = Unpack(RichLayer(), Compression::kGzip);
  ASSERT_TRUE(r.ok()) << r.status().message();

  struct stat conf = Lstat("etc/conf");
  EXPECT_TRUE(S_ISREG(conf.st_mode));
  EXPECT_EQ(conf.st_mode & 07777, 0640u);
  EXPECT_EQ(conf.st_uid, 1000u);
  EXPECT_EQ(conf.st_gid, 1001u);
  EXPECT_EQ(conf.st_mtim.tv_sec, 1400000000);
  EXPECT_EQ(conf.st_mtim.tv_nsec, 123456789);
  EXPECT_EQ(*ReadFile(P("etc/conf")), "key=value\n");
  EXPECT_EQ(Xattr("etc/conf", "user.test"), "hello");

  // The directory's time survives the creation of its children.
  EXPECT_EQ(Lstat("etc").st_mtim.tv_sec, 1500000000);
  EXPECT_EQ(Lstat("bin/su").st_mode & 07777, 04755u);
  EXPECT_EQ(Lstat("tmp").st_mode & 07777, 01777u);
  EXPECT_EQ(Lstat("srv").st_mode & 07777, 02750u);

  struct stat sh = Lstat("bin/sh");
  EXPECT_TRUE(S_ISLNK(sh.st_mode));
  EXPECT_EQ(sh.st_uid, 7u);
  EXPECT_EQ(sh.st_mtim.tv_sec, 1300000000);
  char target[64] = {};
  EXPECT_EQ(::readlink(P("bin/sh").c_str(), target, sizeof target - 1), 7);
  EXPECT_STREQ(target, "busybox");

  struct stat su = Lstat("bin/su"), again = Lstat("bin/su-again");
  EXPECT_EQ(su.st_ino, again.st_ino);
  EXPECT_EQ(su.st_nlink, 2u);

  EXPECT_EQ(Xattr("bin/ping", "security.capability"), CapNetBindService());

  struct stat fifo = Lstat("run/fifo");
  EXPECT_TRUE(S_ISFIFO(fifo.st_mode));
  EXPECT_EQ(fifo.st_mode & 07777, 0620u);
  EXPECT_EQ(fifo.st_uid, 5u);

  struct stat sparse = Lstat("var/sparse");
  EXPECT_EQ(sparse.st_size, 1 << 20);
  EXPECT_LT(sparse.st_blocks * 512, 1 << 19) << "holes were written as data";
  std::string data = *ReadFile(P("var/sparse"));
  EXPECT_EQ(data.substr(0, 4096), std::string(4096, 'a'));
  EXPECT_EQ(data.substr(4096, 10), std::string(10, '\0'));
  EXPECT_EQ(data.substr(512 << 10, 4096), std::string(4096, 'b'));

  EXPECT_EQ(*ReadFile(P("implicit/parent/file")), "made my parents");
  EXPECT_EQ(Lstat("implicit").st_mode & 07777, 0755u);
}

TEST_F(LayerUnpackTest, WhiteoutsBecomeOverlayCharDevices) {
  auto r = Unpack({File("c", "replaced by its whiteout"), Dir("c2"), File("c2/child", "x"), File(".wh.a", ""),
                   File("d/.wh.b", ""), File(".wh.c", ""), File(".wh.c2", "")});
  ASSERT_TRUE(r.ok()) << r.status().message();
  for (const char* name : {"a", "d/b", "c", "c2"}) {
    struct stat st = Lstat(name);
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << name;
    EXPECT_EQ(st.st_rdev, makedev(0, 0)) << name;
    EXPECT_FALSE(Exists(std::string(".wh.") + name)) << name;
  }
  EXPECT_FALSE(Exists("d/.wh.b"));
  EXPECT_EQ(r->skipped_devices, 0);
}

TEST_F(LayerUnpackTest, OpaqueDirectoryGetsTheOverlayXattr) {
  auto r = Unpack({Dir("d"), File("d/.wh..wh..opq", ""), File("d/y", "new"), File("e/.wh..wh..opq", ""),
                   File(".wh..wh.plnk/123.456", "aufs hard link store"), File(".wh..wh.aufs", "")});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Xattr("d", "trusted.overlay.opaque"), "y");
  EXPECT_EQ(Xattr("e", "trusted.overlay.opaque"), "y");  // its directory is made if missing
  EXPECT_FALSE(Exists("d/.wh..wh..opq"));
  EXPECT_TRUE(Exists("d/y"));
  EXPECT_FALSE(Exists(".wh..wh.plnk"));  // aufs metadata is skipped
  EXPECT_FALSE(Exists(".wh..wh.aufs"));
  EXPECT_EQ(Xattr("", "trusted.overlay.opaque"), "<none>");
}

TEST_F(LayerUnpackTest, LaterEntriesReplaceEarlierOnes) {
  auto r = Unpack({File("f", "one"), File("f", "two"), Dir("d"), File("d/x", "x"), File("d", "file now"),
                   File("l", "file"), Symlink("l", "target"), Dir("keep", 0700), Dir("keep", 0750)});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*ReadFile(P("f")), "two");
  EXPECT_EQ(*ReadFile(P("d")), "file now");
  EXPECT_TRUE(S_ISLNK(Lstat("l").st_mode));
  EXPECT_EQ(Lstat("keep").st_mode & 07777, 0750u);
}

TEST_F(LayerUnpackTest, EmptyLayers) {
  auto empty_tar = Unpack({});
  ASSERT_TRUE(empty_tar.ok()) << empty_tar.status().message();
  EXPECT_EQ(empty_tar->diff_id, Digest::Of(tar_));
  EXPECT_EQ(empty_tar->entries, 0);
  testing::WriteTestFile(layer_, "");
  auto zero_bytes = UnpackLayer(layer_, dest_);
  ASSERT_TRUE(zero_bytes.ok()) << zero_bytes.status().message();
  EXPECT_EQ(zero_bytes->diff_id, Digest::Of(""));
  EXPECT_TRUE(testing::ListTree(dest_).empty());
}

// A decompression bomb: 64 KiB of gzip that would be 32 MiB on disk. The cap
// counts the uncompressed stream, so it stops at the cap wherever the bytes
// are (one big file here; many small ones count the same).
TEST_F(LayerUnpackTest, ExpansionIsCapped) {
  std::string gz = testing::Compress(
      testing::MakeTar({File("small", "x"), File("zeros", std::string(32 << 20, '\0'))}), Compression::kGzip);
  ASSERT_LT(gz.size(), 100u << 10);
  testing::WriteTestFile(layer_, gz);
  auto capped = UnpackLayer(layer_, dest_, {4 << 20});
  ASSERT_FALSE(capped.ok());
  EXPECT_EQ(capped.status().code(), Code::kResourceExhausted) << capped.status().ToString();
  EXPECT_NE(capped.status().message().find("max_layer_bytes"), std::string::npos)
      << capped.status().ToString();
  ASSERT_TRUE(RemoveTree(dest_).ok() && MakeDirs(dest_).ok());
  auto fits = UnpackLayer(layer_, dest_, {64 << 20});
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_GT(fits->uncompressed_bytes, 32 << 20);
  ASSERT_TRUE(RemoveTree(dest_).ok() && MakeDirs(dest_).ok());
  EXPECT_TRUE(UnpackLayer(layer_, dest_, {0}).ok());  // 0: no cap
}

// Which library inflated: igzip by default, zlib when the environment says
// so (what bench/pull's "slipway (zlib)" relies on), libzstd for zstd,
// libarchive for the rest; the same tree and diff_id whichever it was.
TEST_F(LayerUnpackTest, TheDecompressorFollowsTheStreamAndTheEnvironment) {
  const std::vector<TarEntry> entries = {Dir("d"), File("d/a", std::string(300000, 'x')), File("b", "b")};
  auto by = [&](Compression c, const char* env) -> std::pair<std::string, std::string> {
    if (env) EXPECT_EQ(::setenv("SLIPWAY_GZIP_INFLATER", env, 1), 0);
    EXPECT_TRUE(RemoveTree(dest_).ok() && MakeDirs(dest_).ok());
    auto r = Unpack(entries, c);
    ::unsetenv("SLIPWAY_GZIP_INFLATER");
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok()) return {};
    return {r->decompressor, r->diff_id.str()};
  };
  auto isal = by(Compression::kGzip, nullptr);
  EXPECT_EQ(isal.first, "isal");
  auto zlib = by(Compression::kGzip, "zlib");
  EXPECT_EQ(zlib.first, "zlib");
  EXPECT_EQ(zlib.second, isal.second);
  EXPECT_EQ(by(Compression::kZstd, "zlib").first, "zstd");
  auto plain = by(Compression::kNone, nullptr);
  EXPECT_EQ(plain.first, "libarchive");
  EXPECT_EQ(plain.second, isal.second);
  EXPECT_EQ(*ReadFile(P("d/a")), std::string(300000, 'x'));
}

TEST_F(LayerUnpackTest, CorruptInputFails) {
  std::string gz =
      testing::Compress(testing::MakeTar({File("a", std::string(100000, 'a'))}), Compression::kGzip);
  testing::WriteTestFile(layer_, gz.substr(0, gz.size() / 2));
  auto truncated = UnpackLayer(layer_, dest_);
  EXPECT_FALSE(truncated.ok());
  // The error names the layer and says what is wrong with it, with either
  // inflater.
  for (GzipInflater inflater : {GzipInflater::kIsal, GzipInflater::kZlib}) {
    UnpackOptions options;
    options.gzip_inflater = inflater;
    ASSERT_TRUE(RemoveTree(dest_).ok() && MakeDirs(dest_).ok());
    std::string why = UnpackLayer(layer_, dest_, options).status().message();
    EXPECT_NE(why.find(layer_), std::string::npos) << why;
    EXPECT_NE(why.find("gzip: truncated input"), std::string::npos) << why;
  }
  std::string zst =
      testing::Compress(testing::MakeTar({File("a", std::string(100000, 'a'))}), Compression::kZstd);
  testing::WriteTestFile(layer_, zst.substr(0, zst.size() - 3));
  ASSERT_TRUE(RemoveTree(dest_).ok() && MakeDirs(dest_).ok());
  std::string why = UnpackLayer(layer_, dest_).status().message();
  EXPECT_NE(why.find("zstd: truncated input"), std::string::npos) << why;
  testing::WriteTestFile(
      layer_, "this is not a layer at all, just some text that is long enough" + std::string(600, '!'));
  auto garbage = UnpackLayer(layer_, dest_);
  EXPECT_FALSE(garbage.ok());
  EXPECT_EQ(UnpackLayer(parent_ + "/missing", dest_).status().code(), Code::kNotFound);
}

// ---- Hostile layers ----

TEST_F(LayerUnpackTest, DotDotPathsAreRejected) {
  ExpectError({File("../escape", "x")}, "../escape", "\"..\"");
  ExpectError({File("ok", "fine"), File("a/../../escape", "x")}, "a/../../escape", "\"..\"");
  ExpectError({Dir("./.."), File("x", "")}, "./../", "\"..\"");  // libarchive adds the slash
  EXPECT_FALSE(PathExists(parent_ + "/escape"));
}

TEST_F(LayerUnpackTest, AbsolutePathsLandInsideTheDestination) {
  std::string name = "etc/slipway-unpack-test-" + RandomHex(6);
  auto r = Unpack({File("/" + name, "inside"), File("//double//slash", "x"), File("./dot/./slash", "y")});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*ReadFile(P(name)), "inside");
  EXPECT_FALSE(PathExists("/" + name));
  EXPECT_TRUE(Exists("double/slash"));
  EXPECT_TRUE(Exists("dot/slash"));
}

TEST_F(LayerUnpackTest, WritesThroughAnAbsoluteSymlinkStayInside) {
  // "evil" points at a real host directory; "evil/pwned" must not reach it.
  auto r = Unpack({Symlink("evil", host_), File("evil/pwned", "gotcha"), Symlink("evil2", host_ + "/sub/.."),
                   Dir("evil2/newdir"), File("evil2/newdir/f", "z")});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(testing::ListTree(host_).empty());
  EXPECT_EQ(*ReadFile(dest_ + host_ + "/pwned"), "gotcha");
  EXPECT_TRUE(S_ISLNK(Lstat("evil").st_mode));  // the link itself is kept as is
  EXPECT_EQ(*ReadFile(dest_ + host_ + "/newdir/f"), "z");
}

// Consecutive files of one directory share its resolved fd: whatever
// replaces that directory in between (a whiteout, a file, a symlink out),
// the next file's parent is resolved again, inside the root.
TEST_F(LayerUnpackTest, AParentDirectoryReusedBetweenFilesNeverLeadsOut) {
  auto r = Unpack({Dir("d"), File("d/a", "1"), File(".wh.d", ""), Symlink("d", host_), File("d/b", "2"),
                   Dir("g"), File("g/a", "x"), File("g", "now a file"), Symlink("g", host_ + "/g"),
                   File("g/c", "3"), Dir("h"), File("h/a", "4"), Hardlink("h/l", "h/a"), File("h/b", "5")});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(testing::ListTree(host_).empty());
  EXPECT_EQ(*ReadFile(dest_ + host_ + "/b"), "2");
  EXPECT_EQ(*ReadFile(dest_ + host_ + "/g/c"), "3");
  EXPECT_EQ(*ReadFile(P("h/b")), "5");
  EXPECT_EQ(Lstat("h/l").st_ino, Lstat("h/a").st_ino);
}

TEST_F(LayerUnpackTest, WritesThroughARelativeSymlinkStayInside) {
  auto r = Unpack({Dir("a/b"), Symlink("a/b/up", "../../../../../"), File("a/b/up/x", "at the root"),
                   Symlink("a/b/up2", "../../../../../host"), File("a/b/up2/y", "y")});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*ReadFile(P("x")), "at the root");
  EXPECT_EQ(*ReadFile(P("host/y")), "y");
  EXPECT_TRUE(testing::ListTree(host_).empty());
}

TEST_F(LayerUnpackTest, SymlinkLoopsFail) {
  ExpectError({Symlink("loop1", "loop2"), Symlink("loop2", "loop1"), File("loop1/x", "")}, "loop1/x",
              "symbolic links");
}

TEST_F(LayerUnpackTest, EntriesReplaceSymlinksInsteadOfFollowingThem) {
  testing::WriteTestFile(host_ + "/precious", "keep");
  auto r = Unpack({Symlink("f", host_ + "/precious"), File("f", "replaced"), Symlink("d", host_), Dir("d"),
                   File("d/inside", "i"), Symlink("p", host_ + "/precious"), Hardlink("p2", "p")});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*ReadFile(host_ + "/precious"), "keep");
  EXPECT_EQ(testing::ListTree(host_).size(), 1u);
  EXPECT_TRUE(S_ISREG(Lstat("f").st_mode));
  EXPECT_TRUE(S_ISDIR(Lstat("d").st_mode));
  EXPECT_EQ(*ReadFile(P("d/inside")), "i");
  EXPECT_TRUE(S_ISLNK(Lstat("p2").st_mode));  // a hard link to the symlink, not to its target
  EXPECT_EQ(Lstat("p").st_ino, Lstat("p2").st_ino);
  ::unlink((host_ + "/precious").c_str());
}

TEST_F(LayerUnpackTest, HardLinksOutsideAreRejected) {
  ExpectError({File("x", "x"), Hardlink("h", "../../etc/passwd")}, "h", "\"..\"");
  // Absolute targets resolve inside the destination: missing there, an error.
  ExpectError({Hardlink("h", "/etc/passwd")}, "h", "openat2 hard link target etc/passwd");
  // A target reached through a symlink is refused, even one inside.
  ExpectError({File("etc/passwd", "x"), Symlink("s", "/etc"), Hardlink("h", "s/passwd")}, "h",
              "openat2 hard link target s/passwd");
  ExpectError({Dir("d"), Hardlink("h", "d")}, "h", "directory");
}

TEST_F(LayerUnpackTest, AbsoluteHardLinkResolvesInsideTheDestination) {
  auto r = Unpack({File("etc/passwd", "root:x:0:0::/:/bin/sh\n"), Hardlink("h", "/etc/passwd")});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Lstat("h").st_ino, Lstat("etc/passwd").st_ino);
  EXPECT_EQ(*ReadFile(P("h")), "root:x:0:0::/:/bin/sh\n");
  struct stat host_passwd;
  ASSERT_EQ(::stat("/etc/passwd", &host_passwd), 0);
  EXPECT_NE(Lstat("h").st_ino, host_passwd.st_ino);
}

TEST_F(LayerUnpackTest, DevicesAreSkippedAndCounted) {
  auto r =
      Unpack({Dir("dev"), Device("dev/sda", true, makedev(8, 0)), Device("dev/mem", false, makedev(1, 1)),
              Device("dev/null", false, makedev(1, 3)), Device("fake-whiteout", false, makedev(0, 0))});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->skipped_devices, 4);
  EXPECT_EQ(r->entries, 5);
  EXPECT_TRUE(Exists("dev"));
  for (const char* name : {"dev/sda", "dev/mem", "dev/null", "fake-whiteout"}) {
    EXPECT_FALSE(Exists(name)) << name;
  }
}

TEST_F(LayerUnpackTest, ForbiddenXattrsAreNotWritten) {
  TarEntry d = Dir("d");
  d.xattrs = {{"trusted.overlay.opaque", "y"}, {"user.ok", "1"}};
  TarEntry f = File("d/f", "x");
  f.xattrs = {{"trusted.overlay.redirect", "/etc"},
              {"security.selinux", "system_u:object_r:etc_t:s0"},
              {"trusted.overlay.metacopy", ""}};
  TarEntry l = Symlink("l", "d");
  l.xattrs = {{"user.on-a-link", "no"}};
  auto r = Unpack({d, f, l});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->skipped_xattrs, 5);
  EXPECT_EQ(Xattr("d", "trusted.overlay.opaque"), "<none>");
  EXPECT_EQ(Xattr("d", "user.ok"), "1");
  EXPECT_EQ(Xattr("d/f", "trusted.overlay.redirect"), "<none>");
  EXPECT_EQ(Xattr("d/f", "trusted.overlay.metacopy"), "<none>");
  EXPECT_NE(Xattr("d/f", "security.selinux"), "system_u:object_r:etc_t:s0");
}

TEST_F(LayerUnpackTest, MalformedWhiteoutsAreRejected) {
  ExpectError({File(".wh.a/b", "")}, ".wh.a/b", "whiteout");
  ExpectError({File("d/.wh./x", "")}, "d/.wh./x", "whiteout");
  ExpectError({File(".wh.", "")}, ".wh.", "whiteout");
  ExpectError({File("d/.wh..", "")}, "d/.wh..", "whiteout");
  ExpectError({File("d/.wh...", "")}, "d/.wh...", "\"..\"");  // ".wh..." would white out ".."
  EXPECT_FALSE(PathExists(parent_ + "/b"));
}

TEST_F(LayerUnpackTest, WhiteoutThroughASymlinkStaysInside) {
  ASSERT_TRUE(MakeDirs(host_ + "/victim").ok());
  auto r = Unpack({Symlink("s", host_), File("s/.wh.victim", "")});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(PathExists(host_ + "/victim"));
  EXPECT_TRUE(S_ISCHR(Lstat(host_.substr(1) + "/victim").st_mode));
  ::rmdir((host_ + "/victim").c_str());
}

}  // namespace
}  // namespace slipway
