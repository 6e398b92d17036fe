// A registered repository's sealed credential, opened by FetchCredentials,
// authenticates a real fetch (git http-backend behind basic auth); a wrong
// one is refused without either value in the message.
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>

#include "pipelines/git_mirror.h"
#include "pipelines/repo_registry.h"
#include "pipelines/sqlite_run_store.h"
#include "tests/pipelines/git_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::pipelines {
namespace {

constexpr char kGood[] = "good-TOKEN-8a7d11";
constexpr char kBad[] = "bad-TOKEN-0c44f2";

TEST(RepoFetchTest, TheSealedCredentialAuthenticatesAFetch) {
  std::string dir = slipway::testing::MakeTempDir("slipway-repo-fetch");
  testing::TestRepo repo;
  std::string commit = repo.Commit({{"README", "hi\n"}}, "one");
  repo.Push("main");
  testing::GitHttpServer http(repo.base_dir(), "ci", kGood);

  auto store = SqliteRunStore::Open(dir + "/slipway.db");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto box = SecretBox::LoadOrCreate(dir + "/secrets.key");
  ASSERT_TRUE(box.ok()) << box.status().ToString();
  RepoRegistry registry(**store, *box, dir + "/ssh");

  Repository good{.name = "good", .url = http.url()};
  Repository bad{.name = "bad", .url = http.url()};
  ASSERT_TRUE(registry.Add(good, {.kind = "basic", .username = "ci", .password = kGood}).ok());
  ASSERT_TRUE(registry.Add(bad, {.kind = "token", .password = kBad}).ok());

  auto auth = registry.FetchCredentials(*registry.Get("good"));
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  auto fetched = GitMirror(dir + "/repos/good.git").Fetch(http.url(), auth->credentials, "main");
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(fetched->commit, commit);

  auto bad_auth = registry.FetchCredentials(*registry.Get("bad"));
  ASSERT_TRUE(bad_auth.ok()) << bad_auth.status().ToString();
  auto refused = GitMirror(dir + "/repos/bad.git").Fetch(http.url(), bad_auth->credentials, "main");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnauthenticated) << refused.status().ToString();
  EXPECT_EQ(refused.status().message().find("TOKEN"), std::string::npos) << refused.status().message();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace slipway::pipelines
