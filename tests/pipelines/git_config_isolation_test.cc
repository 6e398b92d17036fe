// The mirrors read no global or system git config: a ~/.gitconfig of
// slipwayd's HOME that rewrites URLs (url.insteadOf) must change nothing.
// A binary of its own, since HOME must be set before libgit2 starts.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "pipelines/git_mirror.h"
#include "tests/pipelines/git_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::pipelines {
namespace {

namespace fs = std::filesystem;

TEST(GitConfigIsolationTest, HomeGitconfigIsIgnored) {
  testing::TestRepo repo;
  std::string c1 = repo.Commit({{"a", "1"}}, "one");
  repo.Push("main");
  std::string home = testing::MakeTempDir("slipway-hostile-home");
  std::string trap = testing::MakeTempDir("slipway-trap");
  testing::TestRepo decoy;  // what the rewritten URL would fetch instead
  std::string decoy_commit = decoy.Commit({{"evil", "1"}}, "decoy");
  decoy.Push("main");
  for (const std::string& file : {home + "/.gitconfig", home + "/.config/git/config"}) {
    fs::create_directories(fs::path(file).parent_path());
    std::ofstream(file) << "[url \"" << decoy.file_url() << "\"]\n\tinsteadOf = " << repo.file_url() << "\n";
  }
  ::setenv("HOME", home.c_str(), 1);
  ::setenv("XDG_CONFIG_HOME", (home + "/.config").c_str(), 1);
  // Prove the trap works for git itself.
  std::string out;
  ASSERT_EQ(testing::RunShell("cd " + trap + " && git ls-remote " + repo.file_url() + " main", &out), 0)
      << out;
  ASSERT_NE(out.find(decoy_commit), std::string::npos) << out;

  auto fetched = GitMirror(trap + "/app.git").Fetch(repo.file_url(), {}, "main");
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(fetched->commit, c1);
  fs::remove_all(home);
  fs::remove_all(trap);
}

}  // namespace
}  // namespace slipway::pipelines
