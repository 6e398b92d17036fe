// RegistryLogins on a real SQLite file and SecretBox: stored sealed, read
// back after reopening, bound to its host, refused under another key, and
// hosts checked as an attacker would try them.
#include "service/daemon/registry_logins.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/testing/fixtures.h"

namespace slipway::daemon {
namespace {

constexpr char kPassword[] = "pw-3b9d1e77c0af";

class RegistryLoginsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("registry-logins");
    auto box = pipelines::SecretBox::LoadOrCreate(dir_ + "/secrets.key");
    ASSERT_TRUE(box.ok()) << box.status().ToString();
    box_ = std::make_unique<pipelines::SecretBox>(std::move(box).value());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<RegistryLogins> Open(const pipelines::SecretBox& box) {
    auto logins = RegistryLogins::Open(dir_ + "/slipway.db", box);
    EXPECT_TRUE(logins.ok()) << logins.status().ToString();
    return logins.ok() ? std::move(logins).value() : nullptr;
  }
  std::string dir_;
  std::unique_ptr<pipelines::SecretBox> box_;
};

TEST_F(RegistryLoginsTest, StoredSealedAndReadBackAfterReopening) {
  {
    auto logins = Open(*box_);
    ASSERT_TRUE(logins);
    ASSERT_TRUE(logins->Login("Registry.Example.com:5000", {"ci", kPassword}).ok());
    auto found = logins->Lookup("registry.example.com:5000");
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->username, "ci");
    EXPECT_EQ(found->password, kPassword);
    EXPECT_FALSE(logins->Lookup("registry.example.com"));  // another port, another registry
  }
  std::string bytes =
      testing::ReadFileOrEmpty(dir_ + "/slipway.db") + testing::ReadFileOrEmpty(dir_ + "/slipway.db-wal");
  EXPECT_NE(bytes.find("registry.example.com:5000"), std::string::npos);
  EXPECT_EQ(bytes.find(kPassword), std::string::npos) << "the password is in the database in plain text";

  auto again = Open(*box_);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->List().size(), 1u);
  EXPECT_EQ(again->List()[0].host, "registry.example.com:5000");
  auto reloaded = again->Lookup("registry.example.com:5000");
  ASSERT_TRUE(reloaded) << "a login read back from the database is not found by its host";
  EXPECT_EQ(reloaded->password, kPassword);
  // Removed from memory and database alike, then back for the rest.
  ASSERT_TRUE(again->Logout("registry.example.com:5000").ok());
  EXPECT_TRUE(again->List().empty());
  EXPECT_FALSE(again->Lookup("registry.example.com:5000"));
  ASSERT_TRUE(again->Login("registry.example.com:5000", {"ci", kPassword}).ok());
  // Replaced, then removed.
  ASSERT_TRUE(again->Login("registry.example.com:5000", {"ci2", "other"}).ok());
  EXPECT_EQ(again->Lookup("registry.example.com:5000")->username, "ci2");
  ASSERT_TRUE(again->Logout("registry.example.com:5000").ok());
  EXPECT_FALSE(again->Lookup("registry.example.com:5000"));
  EXPECT_EQ(again->Logout("registry.example.com:5000").code(), Code::kNotFound);
}

TEST_F(RegistryLoginsTest, DockerHubAliasesAreOneRegistry) {
  auto logins = Open(*box_);
  ASSERT_TRUE(logins->Login("index.docker.io", {"me", kPassword}).ok());
  EXPECT_TRUE(logins->Lookup("docker.io"));
  EXPECT_TRUE(logins->Lookup("registry-1.docker.io"));
}

TEST_F(RegistryLoginsTest, ASealedPasswordMovedToAnotherHostDoesNotOpen) {
  {
    auto logins = Open(*box_);
    ASSERT_TRUE(logins->Login("a.example.com", {"u", kPassword}).ok());
    ASSERT_TRUE(logins->Login("b.example.com", {"u", "pw-b"}).ok());
  }
  {
    SQLite::Database db(dir_ + "/slipway.db", SQLite::OPEN_READWRITE);
    db.exec(
        "UPDATE registry_logins SET password_sealed = (SELECT password_sealed FROM registry_logins WHERE "
        "host = "
        "'a.example.com') WHERE host = 'b.example.com'");
  }
  auto reopened = RegistryLogins::Open(dir_ + "/slipway.db", *box_);
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.status().message().find("b.example.com"), std::string::npos)
      << reopened.status().ToString();
  EXPECT_EQ(reopened.status().message().find(kPassword), std::string::npos);
}

TEST_F(RegistryLoginsTest, AnotherKeyCannotOpenThem) {
  {
    auto logins = Open(*box_);
    ASSERT_TRUE(logins->Login("a.example.com", {"u", kPassword}).ok());
  }
  auto other = pipelines::SecretBox::LoadOrCreate(dir_ + "/other.key");
  ASSERT_TRUE(other.ok());
  auto reopened = RegistryLogins::Open(dir_ + "/slipway.db", *other);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().message().find(kPassword), std::string::npos);
}

TEST_F(RegistryLoginsTest, HostileHostsAndFieldsAreRefused) {
  auto logins = Open(*box_);
  for (const std::string& host :
       {std::string(""), std::string("a b"), std::string("../x"), std::string("a/b"), std::string("h\nx"),
        std::string("-x"), std::string(":5000"), std::string("https://x.example.com"), std::string(256, 'a'),
        std::string("a\0b", 3)}) {
    Status st = logins->Login(host, {"u", "p"});
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << host;
  }
  EXPECT_EQ(logins->Login("x.example.com", {"", "p"}).code(), Code::kInvalidArgument);
  EXPECT_EQ(logins->Login("x.example.com", {"a:b", "p"}).code(), Code::kInvalidArgument);
  EXPECT_EQ(logins->Login("x.example.com", {"u", ""}).code(), Code::kInvalidArgument);
  EXPECT_EQ(logins->Login("x.example.com", {"u", std::string(5000, 'p')}).code(), Code::kInvalidArgument);
  Status st = logins->Login("x.example.com", {std::string(5000, 'u'), kPassword});
  EXPECT_EQ(st.message().find(kPassword), std::string::npos);
  EXPECT_TRUE(logins->List().empty());
}

}  // namespace
}  // namespace slipway::daemon
