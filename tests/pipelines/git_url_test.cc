#include "pipelines/git_url.h"

#include <gtest/gtest.h>

namespace slipway::pipelines {
namespace {

TEST(GitUrlTest, SplitsThePasswordOff) {
  auto u = ParseGitUrl("https://ci:p%40ss%2Fw0rd@git.example.com:8443/team/app.git");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->username, "ci");
  EXPECT_EQ(u->password, "p@ss/w0rd");
  EXPECT_EQ(u->for_libgit2, "https://ci@git.example.com:8443/team/app.git");
  EXPECT_EQ(u->display, "https://git.example.com:8443/team/app.git");
  EXPECT_EQ(u->host, "git.example.com");
  EXPECT_EQ(u->port, 8443);
}

TEST(GitUrlTest, HostAndPort) {
  struct Case {
    std::string url, host;
    int port;
  };
  for (const Case& c : std::vector<Case>{{"ssh://git@[::1]:2222/app.git", "::1", 2222},
                                         {"ssh://[::1]/app.git", "::1", 0},
                                         {"git@github.com:team/app.git", "github.com", 0},
                                         {"git://example.com/app.git", "example.com", 0},
                                         {"file:///srv/app.git", "", 0}}) {
    auto u = ParseGitUrl(c.url);
    ASSERT_TRUE(u.ok()) << c.url << ": " << u.status().ToString();
    EXPECT_EQ(u->host, c.host) << c.url;
    EXPECT_EQ(u->port, c.port) << c.url;
  }
  for (std::string url : {"https://host:99999/x", "https://host:12a/x", "ssh://[::1/x", "https://:80/x"}) {
    EXPECT_EQ(ParseGitUrl(url).status().code(), Code::kInvalidArgument) << url;
  }
}

TEST(GitUrlTest, AcceptsEveryScheme) {
  struct Case {
    std::string url, scheme, for_libgit2, display, user;
  };
  for (const Case& c : std::vector<Case>{
           {"file:///srv/git/app.git", "file", "file:///srv/git/app.git", "file:///srv/git/app.git", ""},
           {"git://127.0.0.1:9418/app.git", "git", "git://127.0.0.1:9418/app.git",
            "git://127.0.0.1:9418/app.git", ""},
           {"http://host/app.git", "http", "http://host/app.git", "http://host/app.git", ""},
           {"ssh://git@host:2222/team/app.git", "ssh", "ssh://git@host:2222/team/app.git",
            "ssh://host:2222/team/app.git", "git"},
           {"GIT+SSH://deploy@host/app.git", "ssh", "ssh://deploy@host/app.git", "GIT+SSH://host/app.git",
            "deploy"},
           {"git@github.com:team/app.git", "ssh", "git@github.com:team/app.git", "github.com:team/app.git",
            "git"},
           {"host:app.git", "ssh", "host:app.git", "host:app.git", ""},
       }) {
    auto u = ParseGitUrl(c.url);
    ASSERT_TRUE(u.ok()) << c.url << ": " << u.status().ToString();
    EXPECT_EQ(u->scheme, c.scheme) << c.url;
    EXPECT_EQ(u->for_libgit2, c.for_libgit2) << c.url;
    EXPECT_EQ(u->display, c.display) << c.url;
    EXPECT_EQ(u->username, c.user) << c.url;
    EXPECT_EQ(u->password, "") << c.url;
  }
}

TEST(GitUrlTest, RefusesWithoutEchoingThePassword) {
  for (std::string url : {
           "ftp://u:hunter2@host/app.git",       // unsupported scheme
           "https://u:hunter2/x@host/app.git",   // unencoded '/' in the password
           "https://u:hunter2@host/app.git\n",   // control character
           "file://u:hunter2@/srv/app.git",      // file:// with userinfo
           "https://u:hunter2%zz@host/app.git",  // bad escape
           "ext::sh -c true",                    // remote helper
           "/srv/app.git",                       // local path
           "https://u:hunter2@/app.git",         // no host
       }) {
    auto u = ParseGitUrl(url);
    ASSERT_FALSE(u.ok()) << url;
    EXPECT_EQ(u.status().code(), Code::kInvalidArgument) << url;
    EXPECT_EQ(u.status().message().find("hunter2"), std::string::npos) << u.status().ToString();
  }
}

TEST(GitUrlTest, StripUserinfoRemovesEverythingUpToTheLastAt) {
  EXPECT_EQ(StripUserinfo("https://a:b@c@host/x"), "https://host/x");
  EXPECT_EQ(StripUserinfo("https://host/x"), "https://host/x");
  EXPECT_EQ(StripUserinfo("user@host:path"), "host:path");
}

}  // namespace
}  // namespace slipway::pipelines
