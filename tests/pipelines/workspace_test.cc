#include "pipelines/workspace.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "engine/base/fs.h"
#include "tests/testing/fixtures.h"

namespace slipway::pipelines {
namespace {

void Write(const std::string& path, const std::string& content, mode_t mode = 0644) {
  std::ofstream(path) << content;
  ::chmod(path.c_str(), mode);
}

class CopyWorkingTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("workspace");
    src_ = dir_ + "/tree";
    ASSERT_TRUE(MakeDirs(src_ + "/sub/deep").ok());
    ASSERT_TRUE(MakeDirs(src_ + "/.git/objects").ok());
  }
  void TearDown() override { (void)RemoveTree(dir_); }
  std::string dir_, src_;
};

TEST_F(CopyWorkingTreeTest, CopiesFilesModesAndSymlinksButNotDotGit) {
  Write(src_ + "/.slipway.yml", "steps: []\n");
  Write(src_ + "/run.sh", "#!/bin/sh\n", 04755);  // setuid is not copied
  Write(src_ + "/sub/deep/data", "uncommitted change\n", 0600);
  Write(src_ + "/.git/HEAD", "ref: refs/heads/main\n");
  ASSERT_EQ(::symlink("/etc/shadow", (src_ + "/escape").c_str()), 0);
  ASSERT_EQ(::symlink("sub/deep/data", (src_ + "/inner").c_str()), 0);
  ASSERT_EQ(::mkfifo((src_ + "/fifo").c_str(), 0644), 0);
  Write(src_ + "/sub/.git", "a file named .git below the top is the tree's own\n");

  std::string dst = dir_ + "/ws";
  Status st = CopyWorkingTree(src_, dst);
  ASSERT_TRUE(st.ok()) << st.ToString();

  EXPECT_EQ(*ReadFile(dst + "/sub/deep/data"), "uncommitted change\n");
  EXPECT_FALSE(PathExists(dst + "/.git")) << "the top-level .git stays out";
  EXPECT_TRUE(PathExists(dst + "/sub/.git"));
  struct stat st_run;
  ASSERT_EQ(::stat((dst + "/run.sh").c_str(), &st_run), 0);
  EXPECT_EQ(st_run.st_mode & 07777, 0755u);
  struct stat st_data;
  ASSERT_EQ(::stat((dst + "/sub/deep/data").c_str(), &st_data), 0);
  EXPECT_EQ(st_data.st_mode & 07777, 0600u);
  // Symlinks are copied as links, never followed: the host's /etc/shadow is
  // not in the workspace.
  char buf[64];
  ssize_t n = ::readlink((dst + "/escape").c_str(), buf, sizeof buf);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, n), "/etc/shadow");
  struct stat st_link;
  ASSERT_EQ(::lstat((dst + "/escape").c_str(), &st_link), 0);
  EXPECT_TRUE(S_ISLNK(st_link.st_mode));
  EXPECT_FALSE(PathExists(dst + "/fifo")) << "a fifo has no place in a workspace";
  for (const std::string& e : ListDir(dir_)) EXPECT_EQ(e.find(".tmp-"), std::string::npos) << e;
}

TEST_F(CopyWorkingTreeTest, RefusesAnExistingTarget) {
  std::string dst = dir_ + "/ws";
  ASSERT_TRUE(MakeDirs(dst).ok());
  Status st = CopyWorkingTree(src_, dst);
  EXPECT_EQ(st.code(), Code::kAlreadyExists);
}

TEST_F(CopyWorkingTreeTest, AFailedCopyLeavesNothing) {
  // A source that is gone fails the copy, naming it.
  Status st = CopyWorkingTree(dir_ + "/no-such-tree", dir_ + "/ws");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(dir_ + "/no-such-tree"), std::string::npos) << st.ToString();
  EXPECT_FALSE(PathExists(dir_ + "/ws"));
  for (const std::string& e : ListDir(dir_)) EXPECT_EQ(e.find(".tmp-"), std::string::npos) << e;
}

}  // namespace
}  // namespace slipway::pipelines
