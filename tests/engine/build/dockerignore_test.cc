#include "engine/build/dockerignore.h"

#include <gtest/gtest.h>

namespace slipway {
namespace {

DockerIgnore Parse(std::string_view text) {
  Result<DockerIgnore> ignore = DockerIgnore::Parse(text);
  EXPECT_TRUE(ignore.ok()) << ignore.status().message();
  return ignore.ok() ? *ignore : DockerIgnore{};
}

std::vector<std::string> Texts(const DockerIgnore& ignore) {
  std::vector<std::string> out;
  for (const auto& p : ignore.patterns()) out.push_back((p.exception ? "!" : "") + p.text);
  return out;
}

TEST(DockerIgnoreTest, CommentsBlankLinesAndCleaning) {
  DockerIgnore ignore = Parse(
      "# a comment\n"
      "\n"
      "   \n"
      "  # not a comment: a pattern, as in Docker\n"
      "a//b/./c/\n"
      "  /build  \n"
      "x/../y\n"
      "../outside\n"
      "! keep.md \r\n"
      "/\n");
  EXPECT_EQ(Texts(ignore), (std::vector<std::string>{"# not a comment: a pattern, as in Docker", "a/b/c",
                                                     "build", "y", "../outside", "!keep.md", "/"}));
  EXPECT_EQ(ignore.patterns()[1].line, 5);
  EXPECT_FALSE(ignore.patterns()[1].exception);
  EXPECT_TRUE(ignore.patterns()[5].exception);
}

TEST(DockerIgnoreTest, Empty) {
  DockerIgnore ignore = Parse("# nothing\n\n");
  EXPECT_TRUE(ignore.empty());
  EXPECT_FALSE(ignore.Excluded("anything"));
  EXPECT_FALSE(DockerIgnore().Excluded("x"));
}

TEST(DockerIgnoreTest, DoubleStarGo) {
  DockerIgnore ignore = Parse("**/*.go\n");
  EXPECT_TRUE(ignore.Excluded("main.go"));
  EXPECT_TRUE(ignore.Excluded("cmd/app/main.go"));
  EXPECT_FALSE(ignore.Excluded("main.go.txt"));
  EXPECT_FALSE(ignore.Excluded("README"));
  EXPECT_FALSE(ignore.Excluded("go"));
}

TEST(DockerIgnoreTest, ExceptionAfterPattern) {
  DockerIgnore ignore = Parse("*.md\n!important.md\n");
  EXPECT_TRUE(ignore.Excluded("README.md"));
  EXPECT_FALSE(ignore.Excluded("important.md"));
  EXPECT_FALSE(ignore.Excluded("docs/guide.md"));  // `*` never crosses a `/`
  EXPECT_FALSE(ignore.Excluded("main.c"));
}

TEST(DockerIgnoreTest, LastMatchWins) {
  DockerIgnore ignore = Parse("!important.md\n*.md\n");
  EXPECT_TRUE(ignore.Excluded("important.md"));
  ignore = Parse("docs\n!docs/keep.txt\ndocs/keep.txt\n");
  EXPECT_TRUE(ignore.Excluded("docs/keep.txt"));
  ignore = Parse("*\n!src\nsrc/gen\n!src/gen/keep.go\n");
  EXPECT_TRUE(ignore.Excluded("Makefile"));
  EXPECT_FALSE(ignore.Excluded("src"));
  EXPECT_FALSE(ignore.Excluded("src/main.go"));
  EXPECT_TRUE(ignore.Excluded("src/gen"));
  EXPECT_TRUE(ignore.Excluded("src/gen/other.go"));
  EXPECT_FALSE(ignore.Excluded("src/gen/keep.go"));
}

TEST(DockerIgnoreTest, LeadingSlashAndDirectories) {
  DockerIgnore ignore = Parse("/build\ndir/\n");
  EXPECT_TRUE(ignore.Excluded("build"));
  EXPECT_TRUE(ignore.Excluded("build/out/app.o"));  // a parent matches
  EXPECT_FALSE(ignore.Excluded("src/build"));       // patterns are anchored at the root
  EXPECT_FALSE(ignore.Excluded("builder"));
  EXPECT_TRUE(ignore.Excluded("dir"));
  EXPECT_TRUE(ignore.Excluded("dir/file"));
  EXPECT_FALSE(ignore.Excluded("dir2/file"));
}

TEST(DockerIgnoreTest, PathsAreCleaned) {
  DockerIgnore ignore = Parse("secret.txt\n");
  EXPECT_TRUE(ignore.Excluded("./secret.txt"));
  EXPECT_TRUE(ignore.Excluded("/secret.txt"));
  EXPECT_TRUE(ignore.Excluded("a/../secret.txt"));
  EXPECT_FALSE(ignore.Excluded("."));
  EXPECT_FALSE(ignore.Excluded(""));
  EXPECT_FALSE(Parse("*\n").Excluded("."));  // the root itself never is
}

TEST(DockerIgnoreTest, Wildcards) {
  DockerIgnore ignore = Parse("file?.txt\n[a-c]*.log\n[^x]y\nlit\\*star\n");
  EXPECT_TRUE(ignore.Excluded("file1.txt"));
  EXPECT_FALSE(ignore.Excluded("file10.txt"));
  EXPECT_TRUE(ignore.Excluded("b-debug.log"));
  EXPECT_FALSE(ignore.Excluded("d-debug.log"));
  EXPECT_TRUE(ignore.Excluded("ay"));
  EXPECT_FALSE(ignore.Excluded("xy"));
  EXPECT_TRUE(ignore.Excluded("lit*star"));
  EXPECT_FALSE(ignore.Excluded("litXstar"));
  EXPECT_FALSE(Parse("a?b\n").Excluded("a/b"));  // `?` never matches `/`
}

TEST(DockerIgnoreTest, DoubleStarForms) {
  DockerIgnore ignore = Parse("a/**/b\n");
  EXPECT_TRUE(ignore.Excluded("a/b"));
  EXPECT_TRUE(ignore.Excluded("a/x/y/b"));
  EXPECT_TRUE(ignore.Excluded("a/x/b/inside"));
  EXPECT_FALSE(ignore.Excluded("a/xb"));
  EXPECT_FALSE(ignore.Excluded("c/a/b"));

  ignore = Parse("a/**\n");
  EXPECT_FALSE(ignore.Excluded("a"));
  EXPECT_TRUE(ignore.Excluded("a/x"));
  EXPECT_TRUE(ignore.Excluded("a/x/y"));

  ignore = Parse("**\n");
  EXPECT_TRUE(ignore.Excluded("anything/at/all"));

  ignore = Parse("**/node_modules\n");
  EXPECT_TRUE(ignore.Excluded("node_modules"));
  EXPECT_TRUE(ignore.Excluded("web/node_modules/react/index.js"));
  EXPECT_FALSE(ignore.Excluded("my_node_modules"));
}

TEST(DockerIgnoreTest, Errors) {
  Result<DockerIgnore> r = DockerIgnore::Parse("ok\n!\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), ".dockerignore:2: illegal exclusion pattern: \"!\"");
  r = DockerIgnore::Parse("\n\nfoo[ab\n", "ctx/.dockerignore");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "ctx/.dockerignore:3: syntax error in pattern: \"foo[ab\"");
  EXPECT_FALSE(DockerIgnore::Parse("trailing\\\n").ok());
  EXPECT_FALSE(DockerIgnore::Parse("[]x\n").ok());
  EXPECT_FALSE(DockerIgnore::Parse("[a-]\n").ok());
}

TEST(DockerIgnoreTest, MayReinclude) {
  DockerIgnore ignore = Parse("*\n!src/main.go\n");
  EXPECT_TRUE(ignore.Excluded("src"));
  EXPECT_TRUE(ignore.MayReinclude("src"));
  EXPECT_FALSE(ignore.MayReinclude("docs"));
  EXPECT_FALSE(ignore.MayReinclude("srcx"));
  EXPECT_FALSE(ignore.Excluded("src/main.go"));
  EXPECT_TRUE(ignore.Excluded("src/other.go"));

  ignore = Parse("*\n!**/*.md\n");
  EXPECT_TRUE(ignore.MayReinclude("any/dir"));
  EXPECT_FALSE(ignore.Excluded("any/dir/README.md"));

  ignore = Parse("*\n!docs\n");
  EXPECT_TRUE(ignore.MayReinclude("docs/sub"));  // the exception matches a parent
  EXPECT_FALSE(ignore.Excluded("docs/sub/page.html"));

  ignore = Parse("build\n!*/keep\n");
  EXPECT_TRUE(ignore.MayReinclude("build"));
  EXPECT_FALSE(ignore.MayReinclude("build/deeper"));  // `*/keep` is one level down only

  EXPECT_FALSE(Parse("build\n").MayReinclude("build"));
}

TEST(DockerIgnoreTest, ByteOrderMarkAndCrLf) {
  DockerIgnore ignore = Parse("\xEF\xBB\xBF*.tmp\r\n!keep.tmp\r\n");
  EXPECT_TRUE(ignore.Excluded("a.tmp"));
  EXPECT_FALSE(ignore.Excluded("keep.tmp"));
}

}  // namespace
}  // namespace slipway
