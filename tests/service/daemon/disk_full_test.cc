// A full data filesystem as a client meets it: import, create and tag each
// answer 429 resource_exhausted (one code for a full disk, docs/api.md)
// with a message naming the filesystem that is full, never a 500; a failed
// import leaves no blob or layer behind; and once there is room again,
// everything works. The data directory is a small tmpfs of the test's own.
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;

// Mounts a tmpfs of `size` on the daemon's data directory; at the end stops
// the daemon (it holds files there) and unmounts, before the daemon's
// fixture checks for leftover mounts.
class SmallDataFilesystem {
 public:
  SmallDataFilesystem(DaemonUnderTest& d, const std::string& size) : d_(d) {
    std::string options = "size=" + size + ",mode=0700";
    mounted_ = ::mount("tmpfs", d.data_dir().c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~SmallDataFilesystem() {
    if (d_.running()) d_.Terminate();
    if (mounted_) ::umount2(d_.data_dir().c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  DaemonUnderTest& d_;
  bool mounted_ = false;
};

// Takes every free byte of the filesystem at `dir` with files of its own;
// Release() gives them back.
class Filler {
 public:
  explicit Filler(std::string dir) : dir_(std::move(dir)) {}
  ~Filler() { Release(); }
  // Leaves about `keep` bytes free.
  void Fill(int64_t keep) {
    struct statvfs sv;
    ASSERT_EQ(::statvfs(dir_.c_str(), &sv), 0);
    int64_t avail = static_cast<int64_t>(sv.f_bavail) * static_cast<int64_t>(sv.f_frsize);
    std::string path = dir_ + "/filler-" + std::to_string(files_.size());
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    files_.push_back(path);
    if (avail > keep) {
      EXPECT_EQ(::posix_fallocate(fd, 0, avail - keep), 0);
    }
    if (keep == 0) {  // the last pages fallocate left: write until ENOSPC
      std::string block(4096, 'x');
      while (::write(fd, block.data(), block.size()) > 0) {
      }
      EXPECT_EQ(errno, ENOSPC);
    }
    ::close(fd);
  }
  void Release() {
    for (const std::string& f : files_) ::unlink(f.c_str());
    files_.clear();
  }

 private:
  std::string dir_;
  std::vector<std::string> files_;
};

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : path;
}

// Moves everything in the database's WAL into the database and truncates
// the WAL to zero bytes, so that slipwayd's next write must grow a file
// (SQLite reuses a WAL's pages: without this a small write would still fit
// on a full disk). slipwayd's connections are idle between requests.
void TruncateWal(const std::string& db_path) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, &error), SQLITE_OK)
      << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

TEST(DiskFullTest, EveryWritePathSays429AndWhichFilesystemAndLeavesNothing) {
  DaemonUnderTest d;
  SmallDataFilesystem small(d, "24m");
  ASSERT_TRUE(small.mounted()) << std::strerror(errno);
  ASSERT_TRUE(d.Start());
  d.ImportBusybox("busybox");
  std::string data = RealPath(d.data_dir());

  // A layer that packs small and unpacks large: 8 MiB of zeros.
  std::string scratch = MakeTempDir("slipway-disk-full");
  std::string out;
  ASSERT_EQ(
      RunShell("cd " + scratch + " && head -c 8388608 /dev/zero > zeros && tar cf zeros.tar zeros", &out), 0)
      << out;
  std::string tar = scratch + "/zeros.tar";
  std::vector<std::string> blobs = Entries(d.data_dir() + "/content/blobs/sha256");
  std::vector<std::string> snapshots = Entries(d.data_dir() + "/snapshots");

  Filler filler(d.data_dir());
  // Room for the compressed layer, its config and manifest, not for its files.
  filler.Fill(2 << 20);
  HttpReply import = d.Api().Post("/api/v1/images/import", {{"path", tar}, {"name", "zeros:1"}});
  EXPECT_TRUE(IsApiError(import, 429, "resource_exhausted")) << import;
  EXPECT_NE(import.body.find("the filesystem at " + data + " is full"), std::string::npos) << import;
  EXPECT_EQ(Entries(d.data_dir() + "/content/blobs/sha256"), blobs) << "a failed import left blobs";
  EXPECT_EQ(Entries(d.data_dir() + "/snapshots"), snapshots) << "a failed import left layers";
  EXPECT_EQ(Entries(d.data_dir() + "/content/ingest"), std::vector<std::string>{});

  TruncateWal(d.data_dir() + "/slipway.db");
  filler.Fill(0);
  HttpReply create =
      d.Api().Post("/api/v1/containers",
                   {{"image", "busybox"}, {"command", {"true"}}, {"env", {"A=" + std::string(8192, 'a')}}});
  EXPECT_TRUE(IsApiError(create, 429, "resource_exhausted")) << create;
  EXPECT_NE(create.body.find("the filesystem at " + data + " is full"), std::string::npos) << create;
  HttpReply tag = d.Api().Post("/api/v1/images/tag", {{"source", "busybox"}, {"target", "busybox:full"}});
  EXPECT_TRUE(IsApiError(tag, 429, "resource_exhausted")) << tag;
  EXPECT_NE(tag.body.find("the filesystem at " + data + " is full"), std::string::npos) << tag;
  EXPECT_TRUE(d.List(true).empty());

  // Room again: the same requests work, nothing was left half done.
  filler.Release();
  EXPECT_FALSE(d.Create({{"image", "busybox"}, {"command", {"true"}}}).empty());
  EXPECT_EQ(d.Api().Post("/api/v1/images/tag", {{"source", "busybox"}, {"target", "busybox:full"}}).status,
            201);
  HttpReply again = d.Api().Post("/api/v1/images/import", {{"path", tar}, {"name", "zeros:1"}});
  EXPECT_EQ(again.status, 201) << again;
  std::error_code ec;
  fs::remove_all(scratch, ec);
}

}  // namespace
}  // namespace slipway::testing
