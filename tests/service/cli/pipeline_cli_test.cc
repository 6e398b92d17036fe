// `slipway pipeline lint FILE`, run as a user runs it: no slipwayd, and
// SLIPWAY_HOST pointing nowhere valid, to show it needs none. Exit 0 and no
// output for a good file; "FILE:LINE:COL: message" per error and exit 1 for
// a bad one; 125 (Slipway's own error) when the file cannot be read.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/pipelines/example.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/subprocess.h"

namespace slipway::testing {
namespace {

std::string g_slipway;

class PipelineLintTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(g_slipway.empty()) << "the slipway binary was not found";
    dir_ = MakeTempDir("pipeline-lint");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  Outcome Lint(const std::string& path) {
    return Execute({g_slipway, "pipeline", "lint", path}, {"SLIPWAY_HOST=::not a host::"});
  }

  std::string dir_;
};

TEST_F(PipelineLintTest, GoodFilePrintsNothing) {
  Outcome o = Lint(Write(".slipway.yml", pipelines::testing::kIssueExample));
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "");
}

TEST_F(PipelineLintTest, EveryErrorWithFileLineAndColumn) {
  std::string path = Write("bad.yml",
                           "steps:\n"
                           "  - name: unit\n"
                           "    image: busybox\n"
                           "    commands: [make test]\n"
                           "    memory: 512x\n"
                           "    depends_on: [lint]\n"
                           "  - name: lint\n"
                           "    image: busybox\n"
                           "    commands: [make lint]\n"
                           "    when: {event: [nightly]}\n");
  Outcome o = Lint(path);
  EXPECT_EQ(o.code, 1) << o;
  EXPECT_EQ(o.out,
            path +
                ":5:13: steps[0].memory: invalid size \"512x\": want a number with an optional unit b, "
                "k, m or g (e.g. 64m)\n" +
                path +
                ":6:17: steps[0].depends_on: a cycle: unit -> lint -> unit (each waits for the next)\n" +
                path +
                ":10:20: steps[1].when.event[0]: unknown event \"nightly\" (known: push, tag, "
                "pull_request, manual)\n");
  EXPECT_EQ(o.err, "");
}

TEST_F(PipelineLintTest, SyntaxErrorAndHostileFiles) {
  std::string path = Write("syntax.yml", "steps:\n  - name: a\n    commands: [true\n");
  Outcome o = Lint(path);
  EXPECT_EQ(o.code, 1) << o;
  EXPECT_EQ(o.out, path + ":4:1: invalid YAML: end of sequence flow not found\n");

  // Larger than the cap: refused after reading one byte more than it.
  std::string big = Write("big.yml", std::string(3 << 20, '#'));
  o = Lint(big);
  EXPECT_EQ(o.code, 1) << o;
  EXPECT_EQ(o.out, big + ":1:1: the file is larger than 1048576 bytes\n");

  std::string binary = Write("binary.yml", std::string("\x7f"
                                                       "ELF\x02\x01\x01\0\0\0",
                                                       10));
  o = Lint(binary);
  EXPECT_EQ(o.code, 1) << o;
  EXPECT_EQ(o.out, binary + ":1:1: a control character: the file must be UTF-8 text\n");
}

TEST_F(PipelineLintTest, UnreadableFileIsSlipwaysOwnError) {
  Outcome o = Lint(dir_ + "/missing.yml");
  EXPECT_EQ(o.code, 125) << o;
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "slipway: open " + dir_ + "/missing.yml: No such file or directory\n");
  o = Lint(dir_);
  EXPECT_EQ(o.code, 125) << o;
  EXPECT_EQ(o.err, "slipway: read " + dir_ + ": Is a directory\n");
  o = Execute({g_slipway, "pipeline", "lint"});
  EXPECT_EQ(o.code, 125) << o;
  EXPECT_TRUE(Contains(o.err, "FILE is required")) << o;
}

}  // namespace
}  // namespace slipway::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  slipway::testing::g_slipway = slipway::testing::BinaryUnderTest(argc, argv, "service/cli/slipway");
  return RUN_ALL_TESTS();
}
