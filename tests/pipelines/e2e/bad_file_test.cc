// Bad pipeline files through a real slipwayd: a cycle of steps, a YAML
// syntax error and a wrong type each end the run as `error` with the line
// and column `slipway pipeline lint` gives for the same file, and nothing is
// started for it: no sandbox (slipway_sandboxes_started_total unchanged), no
// container, no step running.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/pipelines/e2e/pipeline_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct BadFile {
  const char* name;
  const char* text;
  const char* says;  // a word of the message
};

const BadFile kBadFiles[] = {
    {"cycle", R"(steps:
  - name: a
    image: busybox
    commands: ["echo a"]
    depends_on: [b]
  - name: b
    image: busybox
    commands: ["echo b"]
    depends_on: [a]
)",
     "cycle"},
    {"syntax", R"(steps:
  - name: a
    image: busybox
    commands: ["echo a"
)",
     ""},
    {"type", R"(steps:
  - name: a
    image: busybox
    commands: ["echo a"]
    memory: lots
)",
     "memory"},
};

class BadFileTest : public PipelineTest, public ::testing::WithParamInterface<BadFile> {};

TEST_P(BadFileTest, IsAnErrorWithLineAndColumnAndStartsNothing) {
  const BadFile& bad = GetParam();
  // What lint says of the same file: "FILE:LINE:COL: message" lines.
  std::string dir = MakeTempDir("bad-pipeline");
  std::string file = dir + "/.slipway.yml";
  std::ofstream(file) << bad.text;
  Outcome lint = daemon().Cli({"pipeline", "lint", file});
  fs::remove_all(dir);
  ASSERT_EQ(lint.code, 1) << lint;
  std::string first = lint.out.substr(0, lint.out.find('\n'));
  ASSERT_TRUE(first.starts_with(file + ":")) << lint;
  std::string placed = first.substr(file.size() + 1);  // "LINE:COL: message"
  EXPECT_TRUE(Contains(placed, bad.says)) << lint;

  PipelineRepo repo;
  repo.Push(bad.text);
  ASSERT_FALSE(AddRepo("bad", repo.file_url()).is_null());
  double started_before = daemon().Metric("slipway_sandboxes_started_total");
  int64_t id = Trigger("bad");
  json run = AwaitRun(id);
  EXPECT_EQ(Str(run, "status"), "error") << run.dump();
  EXPECT_TRUE(Contains(Str(run, "error"), placed))
      << "the run's error does not say \"" << placed << "\": " << run.dump();
  // `_setup` (fetch, file, images: docs/pipelines.md) is where it failed;
  // no step, if any is recorded, went further than pending or skipped.
  for (const json& step : run["steps"]) {
    std::string want = Str(step, "name") == "_setup" ? "error" : "";
    if (want.empty()) {
      EXPECT_TRUE(Str(step, "status") == "pending" || Str(step, "status") == "skipped") << run.dump();
    } else {
      EXPECT_EQ(Str(step, "status"), want) << run.dump();
    }
    EXPECT_EQ(Str(step, "container_id"), "") << run.dump();
  }
  EXPECT_EQ(daemon().Metric("slipway_sandboxes_started_total"), started_before) << "a sandbox started";
  EXPECT_TRUE(daemon().List(true).empty()) << "a container was created";
  ExpectNothingLeft(id);
}

INSTANTIATE_TEST_SUITE_P(Files, BadFileTest, ::testing::ValuesIn(kBadFiles),
                         [](const ::testing::TestParamInfo<BadFile>& info) { return info.param.name; });

}  // namespace
}  // namespace slipway::testing
