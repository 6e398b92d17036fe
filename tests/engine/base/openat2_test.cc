#include "engine/base/openat2.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

// A tree whose symlinks point out of it, as an image's may:
//   root/etc/passwd          "inside"
//   root/abs    -> /etc      (absolute)
//   root/up     -> ../../..  (climbs)
//   root/dir/
class Openat2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    top_ = testing::MakeTempDir("openat2-test");
    root_ = top_ + "/root";
    ASSERT_TRUE(MakeDirs(root_ + "/etc").ok());
    ASSERT_TRUE(MakeDirs(root_ + "/dir").ok());
    ASSERT_TRUE(WriteFileAtomic(root_ + "/etc/passwd", "inside", 0644, false).ok());
    ASSERT_EQ(::symlink("/etc", (root_ + "/abs").c_str()), 0);
    ASSERT_EQ(::symlink("../../..", (root_ + "/up").c_str()), 0);
    rootfd_ = UniqueFd(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(rootfd_);
  }
  void TearDown() override { (void)RemoveTree(top_); }

  // The file's content, or "errno N" if the open failed.
  std::string Read(const char* path, uint64_t resolve) {
    UniqueFd fd(Openat2(rootfd_.get(), path, O_RDONLY | O_CLOEXEC, 0, resolve));
    if (!fd) return "errno " + std::to_string(errno);
    char buf[64];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    return n < 0 ? "read failed" : std::string(buf, static_cast<size_t>(n));
  }

  std::string top_, root_;
  UniqueFd rootfd_;
};

TEST_F(Openat2Test, InRootSymlinksResolveInsideTheTree) {
  EXPECT_EQ(Read("etc/passwd", RESOLVE_IN_ROOT), "inside");
  EXPECT_EQ(Read("/etc/passwd", RESOLVE_IN_ROOT), "inside");
  EXPECT_EQ(Read("abs/passwd", RESOLVE_IN_ROOT), "inside");  // not the host's /etc/passwd
  EXPECT_EQ(Read("up/etc/passwd", RESOLVE_IN_ROOT), "inside");
  EXPECT_EQ(Read("../../../../etc/passwd", RESOLVE_IN_ROOT), "inside");
  EXPECT_EQ(Read("/proc/self/root/etc/passwd", RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS),
            "errno " + std::to_string(ENOENT));
}

TEST_F(Openat2Test, BeneathAndNoSymlinksRefuseTheWayOut) {
  EXPECT_EQ(Read("abs/passwd", RESOLVE_BENEATH), "errno " + std::to_string(EXDEV));
  EXPECT_EQ(Read("../root/etc/passwd", RESOLVE_BENEATH), "errno " + std::to_string(EXDEV));
  EXPECT_EQ(Read("up/etc/passwd", RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH), "errno " + std::to_string(ELOOP));
  EXPECT_EQ(Read("missing", RESOLVE_BENEATH), "errno " + std::to_string(ENOENT));
}

TEST_F(Openat2Test, PassesFlagsAndMode) {
  mode_t old = ::umask(0);
  UniqueFd fd(
      Openat2(rootfd_.get(), "dir/new", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0604, RESOLVE_IN_ROOT));
  ::umask(old);
  ASSERT_TRUE(fd) << std::strerror(errno);
  struct stat st;
  ASSERT_EQ(::stat((root_ + "/dir/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0604u);
  EXPECT_EQ(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  // O_EXCL is honoured: the second create fails.
  EXPECT_LT(Openat2(rootfd_.get(), "dir/new", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0604, RESOLVE_IN_ROOT),
            0);
  EXPECT_EQ(errno, EEXIST);
  // Fields the kernel does not know make it refuse: a mode without O_CREAT.
  EXPECT_LT(Openat2(rootfd_.get(), "etc/passwd", O_RDONLY | O_CLOEXEC, 0644, 0), 0);
  EXPECT_EQ(errno, EINVAL);
}

}  // namespace
}  // namespace slipway
