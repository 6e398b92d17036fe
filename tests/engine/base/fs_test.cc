#include "engine/base/fs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

namespace slipway {
namespace {

std::string TempDir() {
  std::string t =
      std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") + "/fs-XXXXXX";
  return ::mkdtemp(t.data());
}

TEST(FsTest, AtomicWriteThenRead) {
  std::string dir = TempDir();
  ASSERT_TRUE(WriteFileAtomic(dir + "/f", "hello").ok());
  EXPECT_EQ(*ReadFile(dir + "/f"), "hello");
  ASSERT_TRUE(WriteFileAtomic(dir + "/f", "again", 0600, false).ok());
  EXPECT_EQ(*ReadFile(dir + "/f"), "again");
  // No temp file is left beside it.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
  EXPECT_EQ(ReadFile(dir + "/missing").status().code(), Code::kNotFound);
  EXPECT_TRUE(RemoveTree(dir).ok());
}

TEST(FsTest, ListDirAtReadsTheOpenDirectoryAndKeepsTheFd) {
  std::string dir = TempDir();
  ASSERT_TRUE(WriteFileAtomic(dir + "/a", "").ok());
  ASSERT_TRUE(MakeDirs(dir + "/b").ok());
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  // Renamed after opening: the fd's directory is listed, not the path's.
  ASSERT_EQ(::rename(dir.c_str(), (dir + "-moved").c_str()), 0);
  auto names = ListDirAt(fd, dir);
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(ListDirAt(fd, dir).ok());  // still open: listed again
  ::close(fd);
  EXPECT_FALSE(ListDirAt(fd, dir).ok());
  EXPECT_TRUE(RemoveTree(dir + "-moved").ok());
}

TEST(FsTest, MakeDirsAndRemoveTree) {
  std::string dir = TempDir();
  ASSERT_TRUE(MakeDirs(dir + "/a/b/c").ok());
  ASSERT_TRUE(MakeDirs(dir + "/a/b/c").ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/a/b/file", "x").ok());
  EXPECT_FALSE(MakeDirs(dir + "/a/b/file").ok());
  ASSERT_TRUE(RemoveTree(dir).ok());
  EXPECT_FALSE(PathExists(dir));
  EXPECT_TRUE(RemoveTree(dir).ok());  // missing is fine
}

TEST(FsTest, RemoveTreeNeverDeletesThroughAMount) {
  std::string dir = TempDir();
  ASSERT_TRUE(MakeDirs(dir + "/mnt").ok());
  ASSERT_EQ(::mount("tmpfs", (dir + "/mnt").c_str(), "tmpfs", 0, nullptr), 0);
  ASSERT_TRUE(WriteFileAtomic(dir + "/mnt/precious", "keep").ok());
  EXPECT_FALSE(RemoveTree(dir).ok());
  EXPECT_EQ(*ReadFile(dir + "/mnt/precious"), "keep");
  ASSERT_EQ(::umount2((dir + "/mnt").c_str(), MNT_DETACH), 0);
  EXPECT_TRUE(RemoveTree(dir).ok());
}

TEST(FsTest, RandomHexIsHexAndVaries) {
  std::string a = RandomHex(16), b = RandomHex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace slipway

namespace slipway {
namespace {

// A full disk names its filesystem: the mount point, not the file.
TEST(FsTest, WritesToAFullFilesystemSayWhichIsFull) {
  std::string dir = TempDir();
  std::string mnt = dir + "/mnt";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0700), 0);
  ASSERT_EQ(::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k"), 0);
  ASSERT_EQ(::mkdir((mnt + "/sub").c_str(), 0700), 0);
  EXPECT_EQ(MountPointOf(mnt + "/sub/not-yet"), std::filesystem::canonical(mnt).string());
  EXPECT_EQ(MountPointOf(dir), MountPointOf(dir + "/missing"));
  std::string file = mnt + "/sub/big";
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  Status st = WriteAll(fd, std::string(1 << 20, 'x'), file);
  ::close(fd);
  EXPECT_EQ(st.code(), Code::kResourceExhausted);
  EXPECT_NE(st.message().find("write " + file + ": No space left on device"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("(the filesystem at " + std::filesystem::canonical(mnt).string() + " is full)"),
            std::string::npos)
      << st.message();
  // Any other error is reported as before.
  EXPECT_EQ(FileErrnoStatus(EBADF, "write x", file).message(), "write x: Bad file descriptor");
  ASSERT_EQ(::umount2(mnt.c_str(), MNT_DETACH), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace slipway
