// `--credential FILE`: the three kinds, and files that are wrong in every way
// a user (or an attacker) writes them, whose errors name keys, never values.
#include <gtest/gtest.h>

#include "pipelines/repo_registry.h"

namespace slipway::pipelines {
namespace {

constexpr char kValue[] = "VALUE-PLAINTEXT-5e1d";

TEST(CredentialFileTest, Token) {
  auto c = ParseCredentialFile(std::string("token: ") + kValue + "\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, "token");
  EXPECT_EQ(c->password, kValue);
  EXPECT_EQ(c->username, "");
  c = ParseCredentialFile("username: bot\ntoken: 'x: y'\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->username, "bot");
  EXPECT_EQ(c->password, "x: y");
}

TEST(CredentialFileTest, Basic) {
  auto c = ParseCredentialFile("username: ci\npassword: \"p@ss word\"\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, "basic");
  EXPECT_EQ(c->username, "ci");
  EXPECT_EQ(c->password, "p@ss word");
}

TEST(CredentialFileTest, SshWithBlockScalars) {
  auto c = ParseCredentialFile(
      "ssh_key: |\n"
      "  -----BEGIN OPENSSH PRIVATE KEY-----\n"
      "  b3BlbnNzaC1rZXk\n"
      "  -----END OPENSSH PRIVATE KEY-----\n"
      "known_hosts: |\n"
      "  git.example.com ssh-ed25519 AAAA\n"
      "passphrase: secret\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, "ssh");
  EXPECT_EQ(c->ssh_key,
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----\n");
  EXPECT_EQ(c->ssh_known_hosts, "git.example.com ssh-ed25519 AAAA\n");
  EXPECT_EQ(c->ssh_passphrase, "secret");
}

TEST(CredentialFileTest, ErrorsNameTheKeyNeverTheValue) {
  const std::string v = kValue;
  struct Case {
    std::string text;
    std::string names;  // what the message must mention
  };
  for (const Case& c : std::vector<Case>{
           {"tokne: " + v, "tokne"},
           {"token: [" + v + "]", "token"},
           {"token: {a: " + v + "}", "token"},
           {"token:\n", "token"},
           {"token: ''\n", "token"},
           {"token: " + v + "\npassword: " + v, "password"},
           {"password: " + v, "username"},
           {"known_hosts: " + v, "ssh_key"},
           {"passphrase: " + v, "ssh_key"},
           {"ssh_key: " + v + "\ntoken: " + v, "ssh_key"},
           {"token: " + v + "\ntoken: " + v + "x", "duplicate key \"token\""},  // a duplicate
           {v, "mapping"},
           {"- " + v, "mapping"},
           {"", "mapping"},
           {"token: \"" + v, ""},         // unterminated
           {"token: !!binary " + v, ""},  // a tag
           {"a: &x " + v + "\ntoken: *x", "a"},
           {"username: bot\n", "no token"},
           {v + ": x", "unknown key"},                         // a token pasted as a key
           {"token: !" + v + " x", "line 1, column 8"},        // a tag quoted by the reader
           {"token: {" + v + ": 1, " + v + ": 2}", "line 1"},  // a duplicate key quoted by the reader
       }) {
    auto r = ParseCredentialFile(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    const std::string& m = r.status().message();
    EXPECT_EQ(m.find("PLAINTEXT"), std::string::npos) << c.text << " -> " << m;
    EXPECT_NE(m.find("credential file"), std::string::npos) << m;
    if (!c.names.empty()) {
      EXPECT_NE(m.find(c.names), std::string::npos) << c.text << " -> " << m;
    }
  }
}

TEST(CredentialFileTest, HugeAndDeepFilesAreRefused) {
  EXPECT_FALSE(ParseCredentialFile("token: " + std::string(300 * 1024, 'a')).ok());
  std::string deep = "token: ";
  for (int i = 0; i < 100; ++i) deep += "[";
  EXPECT_FALSE(ParseCredentialFile(deep).ok());
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'k'; ++c) {
    laughs += std::string(1, c) + ": &" + c + " [*" + static_cast<char>(c - 1) + ", *" +
              static_cast<char>(c - 1) + ", *" + static_cast<char>(c - 1) + ", *" + static_cast<char>(c - 1) +
              "]\n";
  }
  EXPECT_FALSE(ParseCredentialFile(laughs).ok());
}

}  // namespace
}  // namespace slipway::pipelines
