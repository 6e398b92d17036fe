// Host key checks against known_hosts files written as OpenSSH writes them:
// keys from ssh-keygen, hashed names from ssh-keygen -H.
#include "pipelines/known_hosts.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/base/fs.h"
#include "tests/testing/fixtures.h"

namespace slipway::pipelines {
namespace {

namespace fs = std::filesystem;

class KnownHostsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("slipway-known-hosts");
    key_ = NewKey("host");
    other_ = NewKey("other");
  }
  void TearDown() override { fs::remove_all(dir_); }

  struct Key {
    std::string line_tail;  // "ssh-ed25519 AAAA..."
    std::string raw;        // the decoded blob, as a server sends it
  };
  Key NewKey(const std::string& name) {
    std::string out, path = dir_ + "/" + name;
    EXPECT_EQ(testing::RunShell("ssh-keygen -q -t ed25519 -N '' -C '' -f " + path, &out), 0) << out;
    EXPECT_EQ(testing::RunShell("cut -d' ' -f2 " + path + ".pub | base64 -d > " + path + ".raw", &out), 0)
        << out;
    Key k;
    std::istringstream pub(ReadFile(path + ".pub").value());
    std::string type, blob;
    pub >> type >> blob;
    k.line_tail = type + " " + blob;
    k.raw = ReadFile(path + ".raw").value();
    return k;
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  bool Lists(const std::string& path, const std::string& host, int port, const Key& key) {
    auto r = KnownHostsLists(path, host, port, key.raw);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && *r;
  }

  std::string dir_;
  Key key_, other_;
};

TEST_F(KnownHostsTest, PlainAndHashedNames) {
  std::string plain = Write("plain", "# comment\n\ngit.example.com,10.0.0.1 " + key_.line_tail +
                                         "\n[git.example.com]:2222 " + other_.line_tail + "\n");
  std::string hashed = Write("hashed", ReadFile(plain).value());
  std::string out;
  ASSERT_EQ(testing::RunShell("ssh-keygen -H -f " + hashed, &out), 0) << out;
  ASSERT_EQ(ReadFile(hashed).value().find("git.example.com"), std::string::npos);  // really hashed
  for (const std::string& file : {plain, hashed}) {
    EXPECT_TRUE(Lists(file, "git.example.com", 0, key_)) << file;
    EXPECT_TRUE(Lists(file, "git.example.com", 22, key_)) << file;
    EXPECT_TRUE(Lists(file, "10.0.0.1", 0, key_)) << file;
    EXPECT_FALSE(Lists(file, "git.example.com", 0, other_)) << file;  // another host's key
    EXPECT_TRUE(Lists(file, "git.example.com", 2222, other_)) << file;
    EXPECT_FALSE(Lists(file, "git.example.com", 2222, key_)) << file;
    EXPECT_FALSE(Lists(file, "evil.example.com", 0, key_)) << file;
  }
}

TEST_F(KnownHostsTest, RevokedKeysAndPatternsNeverMatch) {
  std::string file = Write("revoked", "git.example.com " + key_.line_tail + "\n@revoked * " + key_.line_tail +
                                          "\n*.example.com " + other_.line_tail + "\n");
  EXPECT_FALSE(Lists(file, "git.example.com", 0, key_));
  EXPECT_FALSE(Lists(file, "git.example.com", 0, other_));
}

TEST_F(KnownHostsTest, UnreadableFileIsAnError) {
  auto r = KnownHostsLists(dir_ + "/missing", "git.example.com", 0, key_.raw);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace slipway::pipelines
