#include "engine/registry/credentials.h"

#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

TEST(CredentialsTest, ReadsBothEntryForms) {
  std::string json = R"({"auths": {
      "https://index.docker.io/v1/": {"auth": ")" +
                     Base64Encode("hubuser:hub:pass") + R"("},
      "localhost:5000": {"username": "alice", "password": "s3cret"},
      "GHCR.io": {"auth": ")" +
                     Base64Encode("gh:tok") + R"(", "email": "x@example.com"},
      "helper.example.com": {}
    }, "credsStore": "desktop"})";
  auto store = CredentialStore::Parse(json, "test");
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto hub = store->Lookup("docker.io");
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->username, "hubuser");
  EXPECT_EQ(hub->password, "hub:pass");  // only the first colon separates
  EXPECT_TRUE(store->Lookup("registry-1.docker.io"));
  auto local = store->Lookup("localhost:5000");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->username, "alice");
  EXPECT_EQ(local->password, "s3cret");
  EXPECT_FALSE(store->Lookup("localhost:5001"));
  EXPECT_TRUE(store->Lookup("ghcr.io"));
  EXPECT_FALSE(store->Lookup("helper.example.com"));
}

TEST(CredentialsTest, ErrorsNeverContainSecrets) {
  const std::string secret = "hunter2-very-secret";
  const std::string inputs[] = {
      R"({"auths": {"h": {"password": ")" + secret + R"(" )",  // truncated JSON
      R"({"auths": {"h": {"password": ")" + secret + R"(", }}})",
      R"({"auths": {"h": {"auth": "!)" + secret + R"("}}})",
      R"({"auths": {"h": {"auth": ")" + Base64Encode(secret) + R"("}}})",  // no colon
      R"({"auths": {"h": {"username": 7, "password": ")" + secret + R"("}}})",
  };
  for (const std::string& input : inputs) {
    auto store = CredentialStore::Parse(input, "/root/.docker/config.json");
    ASSERT_FALSE(store.ok()) << input;
    EXPECT_EQ(store.status().code(), Code::kInvalidArgument);
    EXPECT_NE(store.status().message().find("/root/.docker/config.json"), std::string::npos);
    EXPECT_EQ(store.status().message().find("hunter2"), std::string::npos) << store.status().message();
    EXPECT_EQ(store.status().message().find(Base64Encode(secret).substr(0, 12)), std::string::npos);
  }
  auto bad = CredentialStore::Parse(R"({"auths": {"h": {"auth": "!!"}}})", "f");
  EXPECT_NE(bad.status().message().find("auths[\"h\"].auth is not valid base64"), std::string::npos)
      << bad.status().message();
}

TEST(CredentialsTest, LoadsFromAFile) {
  std::string path = testing::MakeTempDir("slipway-creds") + "/config.json";
  EXPECT_EQ(CredentialStore::Load(path).status().code(), Code::kNotFound);
  std::ofstream(path) << R"({"auths":{"127.0.0.1:5000":{"username":"u","password":"p"}}})";
  auto store = CredentialStore::Load(path);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(store->Lookup("127.0.0.1:5000")->password, "p");
  EXPECT_TRUE(CredentialStore::Parse("{}", "x")->empty());
}

// What `slipway info` lists: normalized hosts, sorted, never a secret.
TEST(CredentialsTest, RegistriesNamesHostsOnly) {
  auto store = CredentialStore::Parse(R"({"auths": {
      "https://index.docker.io/v1/": {"auth": "dTpwYXNzd29yZDE="},
      "Reg.Example:5000": {"username": "u", "password": "password2"},
      "https://ghcr.io/v2/": {"username": "u", "password": "password3"}}})",
                                      "test");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(store->Registries(), (std::vector<std::string>{"docker.io", "ghcr.io", "reg.example:5000"}));
  EXPECT_TRUE(CredentialStore().Registries().empty());
}

TEST(CredentialsTest, Base64) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", "user:pass", std::string("\0\xff\x10", 3)}) {
    EXPECT_EQ(Base64Decode(Base64Encode(s)).value(), s);
  }
  EXPECT_EQ(Base64Encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_EQ(Base64Decode("dXNlcjpwYXNz").value(), "user:pass");
  EXPECT_EQ(Base64Decode("YQ").value(), "a");  // padding optional
  EXPECT_FALSE(Base64Decode("a b="));
  EXPECT_EQ(BasicAuthorization({"user", "pass"}), "Basic dXNlcjpwYXNz");
}

TEST(CredentialsTest, NormalizesRegistryKeys) {
  EXPECT_EQ(NormalizeRegistryHost("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(NormalizeRegistryHost("http://Localhost:5000/path"), "localhost:5000");
  EXPECT_EQ(NormalizeRegistryHost("ghcr.io"), "ghcr.io");
}

}  // namespace
}  // namespace slipway
