// Checkouts of an attacker's trees, written into the served repository with
// git mktree (what a push can deliver): nothing may land outside the
// workspace, no ".." or ".git" component is accepted, and a refused checkout
// leaves no workspace behind.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "engine/base/fs.h"
#include "pipelines/git_mirror.h"
#include "tests/pipelines/git_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::pipelines {
namespace {

namespace fs = std::filesystem;
using testing::MakeTempDir;
using testing::TestRepo;

class HostileCheckoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = MakeTempDir("slipway-hostile");
    outside_ = MakeTempDir("slipway-outside");
    pwned_ = repo_.BlobId("pwned\n");
  }
  void TearDown() override {
    fs::remove_all(data_);
    fs::remove_all(outside_);
  }

  // Fetches `branch` and checks it out into <data>/ws.
  Result<CheckoutResult> FetchAndCheckOut(const std::string& branch) {
    GitMirror mirror(data_ + "/app.git");
    auto fetched = mirror.Fetch(repo_.file_url(), {}, branch);
    if (!fetched.ok()) return fetched.status();
    return mirror.Checkout(fetched->commit, ws());
  }
  std::string ws() const { return data_ + "/ws"; }

  // A refused checkout: kInvalidArgument, no workspace, no temp dir beside
  // it, nothing written outside.
  void ExpectRefused(const Result<CheckoutResult>& r, const std::string& why) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().ToString();
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().ToString();
    std::vector<std::string> names = ListDir(data_);
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"app.git", "app.git.lock"}));
    EXPECT_TRUE(ListDir(outside_).empty());
  }

  TestRepo repo_;
  std::string data_, outside_, pwned_;
};

TEST_F(HostileCheckoutTest, SymlinkThenDirectoryOfTheSameNameIsRefused) {
  // "link" -> the outside dir, then a tree "link" with "pwned" in it: a
  // checkout that followed the symlink would write <outside>/pwned.
  for (const std::string& target :
       {outside_, std::string("../../") + fs::path(outside_).filename().string()}) {
    std::string inner = repo_.SubTree("100644 blob " + pwned_ + "\tpwned");
    std::string link = repo_.BlobId(target);
    repo_.RawCommit("120000 blob " + link + "\tlink\n040000 tree " + inner + "\tlink", "attack");
    ExpectRefused(FetchAndCheckOut("attack"), "two entries named \"link\"");
  }
  // The same towards /etc.
  std::string inner = repo_.SubTree("100644 blob " + pwned_ + "\tslipway-pwned");
  repo_.RawCommit("120000 blob " + repo_.BlobId("/etc") + "\tetc\n040000 tree " + inner + "\tetc", "etc");
  ExpectRefused(FetchAndCheckOut("etc"), "two entries named \"etc\"");
  EXPECT_FALSE(fs::exists("/etc/slipway-pwned"));
}

TEST_F(HostileCheckoutTest, DotDotAndDotGitComponentsAreRefused) {
  std::string inner = repo_.SubTree("100644 blob " + pwned_ + "\tpwned");
  repo_.RawCommit("040000 tree " + inner + "\t..", "dotdot");
  ExpectRefused(FetchAndCheckOut("dotdot"), "refusing tree entry \"..\"");
  EXPECT_FALSE(fs::exists(fs::path(data_).parent_path() / "pwned"));

  std::string hook = repo_.BlobId("#!/bin/sh\ntouch " + outside_ + "/ran\n");
  std::string hooks = repo_.SubTree("100755 blob " + hook + "\tpost-checkout");
  std::string git = repo_.SubTree("040000 tree " + hooks + "\thooks");
  std::string sub = repo_.SubTree("040000 tree " + git + "\t.git\n100644 blob " + pwned_ + "\tok");
  for (std::string name : {".git", ".GIT", ".Git"}) {
    repo_.RawCommit("040000 tree " + git + "\t" + name, "dotgit");
    ExpectRefused(FetchAndCheckOut("dotgit"), "refusing tree entry \"" + name + "\"");
  }
  // Deeper down too (a nested repository's hooks).
  repo_.RawCommit("040000 tree " + sub + "\tvendor", "nested");
  ExpectRefused(FetchAndCheckOut("nested"), "refusing tree entry \".git\" in \"vendor\"");
}

TEST_F(HostileCheckoutTest, SymlinksAreCreatedNeverFollowedAndGitlinksSkipped) {
  std::string etc = repo_.BlobId("/etc");
  std::string up = repo_.BlobId("../../../../../../../../../etc/passwd");
  std::string dir = repo_.SubTree("100644 blob " + pwned_ + "\tfile");
  const std::string submodule = "89abcdef0123456789abcdef0123456789abcdef";
  // A name holding '/' (a literal tree: git mktree refuses to write one).
  std::string slash = repo_.LiteralTree("100644", "a/../../pwned", pwned_);
  repo_.RawCommit("040000 tree " + slash + "\tsub", "slash");
  auto refused = FetchAndCheckOut("slash");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument) << refused.status().ToString();
  EXPECT_EQ(ListDir(data_).size(), 2u) << refused.status().ToString();  // the mirror and its lock only
  EXPECT_NE(refused.status().message().find("refusing tree entry \"a/../../pwned\""), std::string::npos);
  EXPECT_TRUE(ListDir(outside_).empty());

  std::string third_party = repo_.SubTree("160000 commit " + submodule + "\tsub");
  repo_.RawCommit("120000 blob " + etc + "\tetc\n120000 blob " + up + "\tpasswd\n040000 tree " + dir +
                      "\tdir\n040000 tree " + third_party + "\tthird_party",
                  "links");
  auto r = FetchAndCheckOut("links");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->skipped_submodules, std::vector<std::string>{"third_party/sub"});
  EXPECT_EQ(r->files, 3u);
  EXPECT_EQ(fs::read_symlink(ws() + "/etc"), "/etc");
  EXPECT_EQ(fs::read_symlink(ws() + "/passwd"), "../../../../../../../../../etc/passwd");
  EXPECT_TRUE(fs::is_directory(fs::symlink_status(ws() + "/third_party/")));
  EXPECT_TRUE(ListDir(ws() + "/third_party").empty());
  struct stat st;
  ASSERT_EQ(::lstat((ws() + "/dir/file").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0644u);
}

// Modes git never writes (setuid, a character device) in a literal tree:
// libgit2 reads them as plain blobs, and only 0644/0755 files come out.
TEST_F(HostileCheckoutTest, NoSetuidBitOrDeviceNodeComesFromATree) {
  std::string suid = repo_.LiteralTree("104755", "suid", pwned_);
  std::string device = repo_.LiteralTree("20644", "tty", pwned_);
  repo_.RawCommit("040000 tree " + suid + "\ta\n040000 tree " + device + "\tb", "modes");
  auto r = FetchAndCheckOut("modes");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  struct stat st;
  ASSERT_EQ(::lstat((ws() + "/a/suid").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::lstat((ws() + "/b/tty").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0644u);
}

}  // namespace
}  // namespace slipway::pipelines
