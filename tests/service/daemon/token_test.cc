#include "service/daemon/token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "engine/base/fs.h"

namespace slipway::daemon {
namespace {

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string t = std::string(tmp ? tmp : "/tmp") + "/token-XXXXXX";
    ASSERT_NE(::mkdtemp(t.data()), nullptr);
    dir_ = t;
  }
  void TearDown() override { (void)RemoveTree(dir_); }

  mode_t ModeOf(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  std::string dir_;
};

TEST_F(TokenTest, CreatesA0600TokenOf64HexDigitsAndReadsItBack) {
  std::string path = dir_ + "/control.token";
  auto token = LoadOrCreateToken(path);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(token->size(), 64u);
  EXPECT_EQ(token->find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(*ReadFile(path), *token);
  // No temp file is left beside it.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);

  auto again = LoadOrCreateToken(path);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *token);
}

TEST_F(TokenTest, EveryNewTokenDiffers) {
  auto a = LoadOrCreateToken(dir_ + "/a");
  auto b = LoadOrCreateToken(dir_ + "/b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST_F(TokenTest, CreatesAMissingDirectory0700) {
  std::string path = dir_ + "/new/deeper/control.token";
  ASSERT_TRUE(LoadOrCreateToken(path).ok());
  EXPECT_EQ(ModeOf(dir_ + "/new/deeper"), 0700u);
  EXPECT_EQ(ModeOf(path), 0600u);
}

TEST_F(TokenTest, ConcurrentCreatorsAgreeOnOneToken) {
  std::string path = dir_ + "/control.token";
  std::vector<std::string> tokens(8);
  std::vector<std::thread> threads;
  for (auto& t : tokens) {
    threads.emplace_back([&path, &t] {
      auto token = LoadOrCreateToken(path);
      if (token.ok()) t = *token;
    });
  }
  for (auto& t : threads) t.join();
  std::string on_disk = *ReadFile(path);
  for (const auto& t : tokens) EXPECT_EQ(t, on_disk);
}

TEST_F(TokenTest, RefusesAFileGroupOrOthersCanRead) {
  std::string path = dir_ + "/control.token";
  ASSERT_TRUE(WriteFileAtomic(path, "0123456789abcdef0123456789abcdef", 0600).ok());
  for (mode_t mode : {0640, 0604, 0660, 0620}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto token = LoadOrCreateToken(path);
    ASSERT_FALSE(token.ok()) << std::oct << mode;
    EXPECT_EQ(token.status().code(), Code::kPermissionDenied);
    EXPECT_NE(token.status().message().find("chmod 600"), std::string::npos) << token.status().message();
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(LoadOrCreateToken(path).ok());
}

TEST_F(TokenTest, RefusesWhatIsNotARegularFile) {
  std::string real = dir_ + "/real";
  ASSERT_TRUE(WriteFileAtomic(real, "0123456789abcdef0123456789abcdef", 0600).ok());
  std::string link = dir_ + "/link";
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  auto token = LoadOrCreateToken(link);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), Code::kInvalidArgument);

  std::string subdir = dir_ + "/dir";
  ASSERT_EQ(::mkdir(subdir.c_str(), 0700), 0);
  token = LoadOrCreateToken(subdir);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), Code::kInvalidArgument);
}

TEST_F(TokenTest, UsesAUserWrittenTokenTrimmedButRefusesAWeakOne) {
  std::string path = dir_ + "/control.token";
  ASSERT_TRUE(WriteFileAtomic(path, "  my-own-secret-token-1234\n", 0600).ok());
  auto token = LoadOrCreateToken(path);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(*token, "my-own-secret-token-1234");

  for (const char* weak : {"", "\n", "short", "has a space inside it ok"}) {
    ASSERT_TRUE(WriteFileAtomic(path, weak, 0600).ok());
    auto bad = LoadOrCreateToken(path);
    ASSERT_FALSE(bad.ok()) << weak;
    EXPECT_EQ(bad.status().code(), Code::kInvalidArgument) << weak;
  }
}

TEST(TokenMatchesTest, AcceptsOnlyTheBearerToken) {
  const std::string token = "3f0c9a1b2c3d4e5f3f0c9a1b2c3d4e5f";
  EXPECT_TRUE(TokenMatches(token, "Bearer " + token));
  EXPECT_TRUE(TokenMatches(token, "bearer " + token));
  EXPECT_TRUE(TokenMatches(token, "BEARER  " + token + " "));
  EXPECT_FALSE(TokenMatches(token, token));
  EXPECT_FALSE(TokenMatches(token, "Basic " + token));
  EXPECT_FALSE(TokenMatches(token, "Bearer"));
  EXPECT_FALSE(TokenMatches(token, "Bearer "));
  EXPECT_FALSE(TokenMatches(token, "Bearer " + token.substr(0, 31)));
  EXPECT_FALSE(TokenMatches(token, "Bearer " + token + "0"));
  EXPECT_FALSE(TokenMatches(token, "Bearer " + token.substr(0, 31) + "0"));
  EXPECT_FALSE(TokenMatches(token, ""));
  // A prefix of the real token, padded with NULs, is not the token.
  EXPECT_FALSE(TokenMatches(token, "Bearer " + token.substr(0, 16) + std::string(16, '\0')));
}

TEST(TokenMatchesTest, AnEmptyExpectedTokenMatchesNothing) {
  EXPECT_FALSE(TokenMatches("", "Bearer "));
  EXPECT_FALSE(TokenMatches("", "Bearer x"));
  EXPECT_FALSE(TokenMatches("", ""));
}

}  // namespace
}  // namespace slipway::daemon
