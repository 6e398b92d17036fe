// GitMirror against real repositories served over file://, git:// (git
// daemon) and smart http:// (git http-backend): fetching only what is new,
// resolving names, checkouts, failures that leave the mirror as it was, and
// concurrent fetches.
#include "pipelines/git_mirror.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "engine/base/fs.h"
#include "pipelines/git_url.h"
#include "tests/pipelines/git_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::pipelines {
namespace {

namespace fs = std::filesystem;
using testing::Git;
using testing::GitDaemon;
using testing::GitHttpServer;
using testing::MakeTempDir;
using testing::TestRepo;

// `git fsck --full` of the mirror: every object and ref is sound.
void ExpectFsck(const std::string& mirror) {
  std::string out;
  EXPECT_EQ(testing::RunShell("git --git-dir=" + mirror + " fsck --full --strict --no-progress", &out), 0)
      << out;
}

GitCredentials Basic(const std::string& user, const std::string& password) {
  GitCredentials c;
  c.username = user;
  c.password = password;
  return c;
}

std::string Refs(const std::string& mirror) {
  return Git(mirror, "for-each-ref");
}

enum class Transport { kFile, kGit, kHttp };

class GitMirrorTest : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    data_ = MakeTempDir("slipway-mirror-data");
    mirror_path_ = data_ + "/repos/app.git";
    switch (GetParam()) {
      case Transport::kFile: url_ = repo_.file_url(); break;
      case Transport::kGit:
        daemon_ = std::make_unique<GitDaemon>(repo_.base_dir());
        url_ = daemon_->url();
        break;
      case Transport::kHttp:
        http_ = std::make_unique<GitHttpServer>(repo_.base_dir());
        url_ = http_->url();
        break;
    }
  }
  void TearDown() override { fs::remove_all(data_); }

  Result<FetchResult> Fetch(const std::string& what) { return GitMirror(mirror_path_).Fetch(url_, {}, what); }

  TestRepo repo_;
  std::unique_ptr<GitDaemon> daemon_;
  std::unique_ptr<GitHttpServer> http_;
  std::string data_, mirror_path_, url_;
};

TEST_P(GitMirrorTest, FirstFetchCreatesMirrorLaterFetchesGetOnlyNewObjects) {
  std::string c1 =
      repo_.Commit({{"README", "hello\n"}, {"src/a.c", "int a;\n"}, {"src/b.c", "int b;\n"}}, "one");
  repo_.Push("main");

  auto first = Fetch("main");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->commit, c1);
  EXPECT_EQ(first->received_objects, 6u);  // commit, 2 trees, 3 blobs
  ExpectFsck(mirror_path_);
  EXPECT_EQ(Git(mirror_path_, "rev-parse --is-bare-repository"), "true");

  std::string c2 = repo_.Commit({{"src/c.c", "int c;\n"}}, "two");
  repo_.Push("main");
  auto second = Fetch("main");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->commit, c2);
  // The new commit, its root tree, src/ and the new blob: nothing fetched before.
  EXPECT_EQ(second->received_objects, 4u);
  ExpectFsck(mirror_path_);

  auto third = Fetch("main");
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(third->commit, c2);
  EXPECT_EQ(third->received_objects, 0u);
  // No temp dir or anything else beside the mirror but its lock file.
  std::vector<std::string> names = ListDir(data_ + "/repos");
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"app.git", "app.git.lock"}));
}

TEST_P(GitMirrorTest, ChecksOutAnOlderCommitAsAPlainTree) {
  std::string c1 = repo_.Commit(
      {{"README", "v1\n"}, {"run.sh", "#!/bin/sh\n"}, {"lib/x", "x\n"}, {"link", "->lib/x"}}, "one");
  repo_.WorkGit("update-index --chmod=+x run.sh");
  repo_.WorkGit("commit -q --amend -m one");
  c1 = repo_.WorkGit("rev-parse HEAD");
  repo_.Commit({{"README", "v2\n"}, {"new", "n\n"}}, "two");
  repo_.Push("main");
  ASSERT_TRUE(Fetch("main").ok());

  std::string ws = data_ + "/ws";
  auto out = GitMirror(mirror_path_).Checkout(c1, ws);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->files, 4u);
  EXPECT_EQ(ReadFile(ws + "/README").value(), "v1\n");
  EXPECT_FALSE(fs::exists(ws + "/new"));
  EXPECT_FALSE(fs::exists(ws + "/.git"));
  struct stat st;
  ASSERT_EQ(::lstat((ws + "/run.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::lstat((ws + "/README").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  ASSERT_EQ(::lstat((ws + "/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(fs::read_symlink(ws + "/link"), "lib/x");
  ASSERT_EQ(::lstat(ws.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);

  // The commit's own .gitattributes apply, as git checkout applies them.
  std::string crlf = repo_.Commit(
      {{".gitattributes", "*.txt eol=crlf\n"}, {"a.txt", "a\nb\n"}, {"a.bin", "a\nb\n"}}, "attributes");
  repo_.Push("main");
  ASSERT_TRUE(Fetch("main").ok());
  ASSERT_TRUE(GitMirror(mirror_path_).Checkout(crlf, data_ + "/crlf").ok());
  EXPECT_EQ(ReadFile(data_ + "/crlf/a.txt").value(), "a\r\nb\r\n");
  EXPECT_EQ(ReadFile(data_ + "/crlf/a.bin").value(), "a\nb\n");

  // An existing empty directory is fine; a non-empty one is refused untouched.
  std::string empty = data_ + "/empty";
  fs::create_directories(empty);
  ASSERT_TRUE(GitMirror(mirror_path_).Checkout(c1, empty).ok());
  auto again = GitMirror(mirror_path_).Checkout(c1, ws);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kFailedPrecondition) << again.status().ToString();
  EXPECT_EQ(ReadFile(ws + "/README").value(), "v1\n");
}

TEST_P(GitMirrorTest, ResolvesBranchesAndTags) {
  std::string c1 = repo_.Commit({{"a", "1"}}, "one");
  repo_.WorkGit("tag v1");
  repo_.WorkGit("branch feature");
  std::string c2 = repo_.Commit({{"a", "2"}}, "two");
  repo_.WorkGit("tag -a -m annotated v2");
  repo_.Push("main feature --tags");

  auto fetched = Fetch("v2");
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(fetched->commit, c2);  // the annotated tag, peeled
  GitMirror mirror(mirror_path_);
  EXPECT_EQ(mirror.Resolve("feature").value(), c1);
  EXPECT_EQ(mirror.Resolve("refs/heads/feature").value(), c1);
  EXPECT_EQ(mirror.Resolve("v1").value(), c1);
  EXPECT_EQ(mirror.Resolve("refs/tags/v2").value(), c2);
  EXPECT_EQ(mirror.Resolve(c1).value(), c1);
  EXPECT_EQ(mirror.Resolve("main").value(), c2);
  auto unknown = mirror.Resolve("nope");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);

  // A branch deleted upstream goes from the mirror too.
  repo_.Push(":feature");
  ASSERT_TRUE(Fetch(c1).ok());
  EXPECT_EQ(mirror.Resolve("feature").status().code(), Code::kNotFound);
  EXPECT_EQ(mirror.Resolve("v1").value(), c1);
}

TEST_P(GitMirrorTest, UnknownCommitOrBranchFailsAndLeavesTheRefs) {
  repo_.Commit({{"a", "1"}}, "one");
  repo_.Push("main");
  ASSERT_TRUE(Fetch("main").ok());
  std::string before = Refs(mirror_path_);
  std::string c2 = repo_.Commit({{"a", "2"}}, "two");
  repo_.Push("main");

  const std::string missing = "0123456789abcdef0123456789abcdef01234567";
  for (const std::string& what : {missing, std::string("no-such-branch"), std::string("refs/heads/gone")}) {
    auto r = Fetch(what);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), Code::kNotFound) << r.status().ToString();
    EXPECT_NE(r.status().message().find(url_), std::string::npos) << r.status().ToString();
    EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().ToString();
    // The remote moved on, but a failed fetch updated no ref.
    EXPECT_EQ(Refs(mirror_path_), before);
  }
  ExpectFsck(mirror_path_);
  EXPECT_EQ(Fetch("main").value().commit, c2);

  auto checkout = GitMirror(mirror_path_).Checkout(missing, data_ + "/ws");
  ASSERT_FALSE(checkout.ok());
  EXPECT_EQ(checkout.status().code(), Code::kNotFound) << checkout.status().ToString();
  EXPECT_FALSE(fs::exists(data_ + "/ws"));
}

TEST_P(GitMirrorTest, ConcurrentFetchesLeaveAValidMirror) {
  std::string c1 = repo_.Commit({{"a", "1"}, {"b/c", "2"}}, "one");
  repo_.Push("main");
  constexpr int kThreads = 4;
  for (int round = 0; round < 2; ++round) {
    std::vector<Result<FetchResult>> results(kThreads, Result<FetchResult>(Internal("not run")));
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] { results[i] = GitMirror(mirror_path_).Fetch(url_, {}, "main"); });
    }
    for (auto& t : threads) t.join();
    std::string head = repo_.WorkGit("rev-parse HEAD");
    int created = 0;
    for (auto& r : results) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->commit, head);
      created += r->created;
    }
    EXPECT_EQ(created, round == 0 ? 1 : 0);  // one created the mirror, the others waited and found it
    ExpectFsck(mirror_path_);
    repo_.Commit({{"d", std::to_string(round)}}, "more");
    repo_.Push("main");
  }
  EXPECT_EQ(GitMirror(mirror_path_).Resolve(c1).value(), c1);
}

INSTANTIATE_TEST_SUITE_P(Transports, GitMirrorTest,
                         ::testing::Values(Transport::kFile, Transport::kGit, Transport::kHttp),
                         [](const ::testing::TestParamInfo<Transport>& info) {
                           switch (info.param) {
                             case Transport::kFile: return "file";
                             case Transport::kGit: return "git";
                             case Transport::kHttp: return "http";
                           }
                           return "unknown";
                         });

class GitMirrorFailureTest : public ::testing::Test {
 protected:
  void SetUp() override { data_ = MakeTempDir("slipway-mirror-data"); }
  void TearDown() override { fs::remove_all(data_); }
  std::string mirror() const { return data_ + "/repos/app.git"; }
  TestRepo repo_;
  std::string data_;
};

TEST_F(GitMirrorFailureTest, HostDownIsAnErrorAndLeavesNoMirror) {
  int port = testing::FreeLoopbackPort();  // nothing listens there
  for (std::string url : {"git://127.0.0.1:" + std::to_string(port) + "/repo.git",
                          "http://127.0.0.1:" + std::to_string(port) + "/repo.git",
                          "ssh://git@127.0.0.1:" + std::to_string(port) + "/repo.git"}) {
    auto r = GitMirror(mirror()).Fetch(url, {}, "main");
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
    EXPECT_NE(r.status().message().find(StripUserinfo(url)), std::string::npos) << r.status().ToString();
    EXPECT_FALSE(fs::exists(mirror()));
    EXPECT_EQ(ListDir(data_ + "/repos"), std::vector<std::string>{"app.git.lock"});
  }
  auto missing = GitMirror(mirror()).Fetch("file://" + data_ + "/nothing.git", {}, "main");
  ASSERT_FALSE(missing.ok());
  EXPECT_FALSE(fs::exists(mirror()));

  // An existing mirror, its server gone: the refs stay.
  repo_.Commit({{"a", "1"}}, "one");
  repo_.Push("main");
  std::unique_ptr<GitDaemon> daemon = std::make_unique<GitDaemon>(repo_.base_dir());
  std::string url = daemon->url();
  ASSERT_TRUE(GitMirror(mirror()).Fetch(url, {}, "main").ok());
  std::string before = Refs(mirror());
  daemon.reset();
  auto down = GitMirror(mirror()).Fetch(url, {}, "main");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), Code::kUnavailable) << down.status().ToString();
  EXPECT_EQ(Refs(mirror()), before);
  ExpectFsck(mirror());
}

TEST_F(GitMirrorFailureTest, LeftoversOfACrashedCreationAreRemoved) {
  repo_.Commit({{"a", "1"}}, "one");
  repo_.Push("main");
  std::string leftover = mirror() + ".tmp-0123abcd";
  fs::create_directories(leftover + "/objects");
  std::ofstream(leftover + "/objects/half") << "x";
  ASSERT_TRUE(GitMirror(mirror()).Fetch(repo_.file_url(), {}, "main").ok());
  EXPECT_FALSE(fs::exists(leftover));
  ExpectFsck(mirror());
}

TEST_F(GitMirrorFailureTest, RejectsUrlsItDoesNotSupport) {
  for (std::string url : {"/srv/repo.git", "ftp://host/repo.git", "ext::sh -c touch% /tmp/pwned", ""}) {
    auto r = GitMirror(mirror()).Fetch(url, {}, "main");
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().ToString();
  }
  EXPECT_FALSE(fs::exists(mirror()));
}

TEST_F(GitMirrorFailureTest, RefusesRefsThatWouldChangeTheRefspec) {
  repo_.Commit({{"a", "1"}}, "one");
  repo_.Push("main");
  for (std::string what : {"", "refs/*", "refs/pull/1/head:refs/heads/main", "refs/heads/a..b"}) {
    auto r = GitMirror(mirror()).Fetch(repo_.file_url(), {}, what);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().ToString();
  }
  // A ref outside heads and tags is fetched by name.
  std::string c2 = repo_.Commit({{"a", "2"}}, "two");
  repo_.Push("HEAD:refs/pull/1/head");
  auto pull = GitMirror(mirror()).Fetch(repo_.file_url(), {}, "refs/pull/1/head");
  ASSERT_TRUE(pull.ok()) << pull.status().ToString();
  EXPECT_EQ(pull->commit, c2);
  EXPECT_EQ(GitMirror(mirror()).Resolve("main").value(), repo_.WorkGit("rev-parse HEAD~1"));
}

// Basic auth over smart http: the right password works, a wrong or missing
// one fails as kUnauthenticated, and no password (right or wrong, in the
// URL or in the credentials) appears in any message.
TEST_F(GitMirrorFailureTest, HttpBasicAuthAndNoSecretInMessages) {
  const std::string kGood = "good-S3cret-Pass";
  const std::string kBad = "bad-Pa55-word";
  std::string c1 = repo_.Commit({{"a", "1"}}, "one");
  repo_.Push("main");
  GitHttpServer http(repo_.base_dir(), "ci", kGood);
  std::string url = http.url();
  std::string with_user =
      "http://ci:" + kBad + "@127.0.0.1:" + std::to_string(http.port()) + "/git/backend/repo.git";

  auto expect_clean = [&](const Status& st) {
    EXPECT_EQ(st.message().find(kGood), std::string::npos) << st.ToString();
    EXPECT_EQ(st.message().find(kBad), std::string::npos) << st.ToString();
    EXPECT_EQ(st.message().find("ci:"), std::string::npos) << st.ToString();
  };

  auto none = GitMirror(mirror()).Fetch(url, {}, "main");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kUnauthenticated) << none.status().ToString();

  auto wrong = GitMirror(mirror()).Fetch(url, Basic("ci", kBad), "main");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), Code::kUnauthenticated) << wrong.status().ToString();
  EXPECT_NE(wrong.status().message().find(url), std::string::npos) << wrong.status().ToString();
  expect_clean(wrong.status());

  auto wrong_in_url = GitMirror(mirror()).Fetch(with_user, {}, "main");
  ASSERT_FALSE(wrong_in_url.ok());
  EXPECT_EQ(wrong_in_url.status().code(), Code::kUnauthenticated) << wrong_in_url.status().ToString();
  EXPECT_NE(wrong_in_url.status().message().find(url), std::string::npos) << wrong_in_url.status().ToString();
  expect_clean(wrong_in_url.status());
  EXPECT_FALSE(fs::exists(mirror()));

  // A password in the URL towards a host that is down.
  int port = testing::FreeLoopbackPort();
  auto down = GitMirror(mirror()).Fetch("http://ci:" + kBad + "@127.0.0.1:" + std::to_string(port) + "/r.git",
                                        Basic("", kGood), "main");
  ASSERT_FALSE(down.ok());
  expect_clean(down.status());

  auto good = GitMirror(mirror()).Fetch(url, Basic("ci", kGood), "main");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->commit, c1);
  std::string good_in_url =
      "http://ci:" + kGood + "@127.0.0.1:" + std::to_string(http.port()) + "/git/backend/repo.git";
  auto good_url = GitMirror(mirror()).Fetch(good_in_url, {}, "main");
  ASSERT_TRUE(good_url.ok()) << good_url.status().ToString();
  // A token alone (no user name): sent with the user "x-access-token".
  GitHttpServer token_http(repo_.base_dir(), "x-access-token", kGood);
  ASSERT_TRUE(GitMirror(mirror()).Fetch(token_http.url(), Basic("", kGood), "main").ok());

  // Nothing of the credentials is stored in the mirror (an anonymous remote).
  std::string out;
  testing::RunShell("grep -r -l -e " + kGood + " -e " + kBad + " " + mirror(), &out);
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace slipway::pipelines
