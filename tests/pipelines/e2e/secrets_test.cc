// A repository secret through a real slipwayd: the step that names it gets
// it (and only that step), its value is masked (****) in the stored log and
// in the followed stream, on stdout and stderr, and it appears in no API
// answer (runs, steps, repositories, containers, metrics), in no file of the
// data or state directory (database, logs, the sandbox's spec while the step
// runs), and not in slipwayd's own output.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/pipelines/e2e/pipeline_fixture.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Made of two halves so that the whole never is in the repository: the step
// compares the secret with the halves joined.
const std::string kHalf1 = "s3cr3t-Q7xv";
const std::string kHalf2 = "-Zp9-do-not-leak";
const std::string kSecret = kHalf1 + kHalf2;

// Every regular file below `dir` holding `needle`, one a line.
std::string FilesHolding(const std::string& dir, const std::string& needle) {
  std::string found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find(needle) != std::string::npos) found += it->path().string() + "\n";
  }
  return found;
}

class SecretsTest : public PipelineTest {};

TEST_F(SecretsTest, ASecretReachesOnlyItsStepAndIsMaskedEverywhere) {
  PipelineRepo repo;
  repo.Push(R"(
steps:
  - name: use
    image: busybox
    depends_on: []
    secrets: [DEPLOY_TOKEN]
    env: {HALF1: )" +
            Q(kHalf1) + R"(, HALF2: )" + Q(kHalf2) + R"(}
    commands:
      - test "$DEPLOY_TOKEN" = "$HALF1$HALF2"
      - echo "the token is $DEPLOY_TOKEN."
      - echo "on stderr $DEPLOY_TOKEN" >&2
      - )" + Q(HoldCommand()) +
            R"(
  - name: without
    image: busybox
    depends_on: []
    commands:
      - test -z "${DEPLOY_TOKEN:-}"
      - echo no-secret-here
      - )" + Q(HoldCommand()) +
            R"(
)");
  ASSERT_FALSE(AddRepo("secretive", repo.file_url()).is_null());
  SetSecret("secretive", "DEPLOY_TOKEN", kSecret);
  int64_t id = Trigger("secretive");
  AwaitStep(id, "use", "running");
  AwaitStep(id, "without", "running");
  // Follow the log while the step runs: the stream is masked as it goes.
  std::string followed;
  std::thread follower([&] { followed = StepLog(id, "use", /*follow=*/true); });

  // While both steps run: every answer, the sandboxes' specs and records.
  std::vector<std::string> paths = {"/api/v1/runs/" + std::to_string(id),
                                    "/api/v1/runs",
                                    "/api/v1/runs?repo=secretive",
                                    "/api/v1/repos",
                                    "/api/v1/repos/secretive",
                                    "/api/v1/repos/secretive/secrets",
                                    "/api/v1/containers?all=true",
                                    "/metrics"};
  std::vector<json> containers = ContainersOf(id);
  EXPECT_EQ(containers.size(), 2u) << "a container per running step";
  for (const json& c : containers) paths.push_back("/api/v1/containers/" + Str(c, "id"));
  for (const std::string& path : paths) {
    HttpReply r = Api().Get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r;
    EXPECT_FALSE(Contains(r.body, kSecret)) << "GET " << path << " holds the secret: " << r.body;
  }
  HttpReply names = Api().Get("/api/v1/repos/secretive/secrets");
  EXPECT_TRUE(Contains(names.body, "DEPLOY_TOKEN")) << "the secret's name is listed: " << names;
  EXPECT_EQ(FilesHolding(daemon().data_dir(), kSecret), "") << "in plain text in the data dir";
  EXPECT_EQ(FilesHolding(daemon().state_dir(), kSecret), "") << "in plain text in the state dir";

  Release(id);
  follower.join();
  json run = AwaitRun(id);
  EXPECT_EQ(Str(run, "status"), "success") << run.dump();
  EXPECT_EQ(Str(StepOf(run, "use"), "status"), "success") << "the step did not get the secret's value";
  EXPECT_EQ(Str(StepOf(run, "without"), "status"), "success") << "a step that names no secret got it";

  const std::string masked = "the token is ****.\non stderr ****\n";
  EXPECT_EQ(followed, masked);
  EXPECT_EQ(StepLog(id, "use"), masked);
  EXPECT_EQ(StepLog(id, "without"), "no-secret-here\n");
  for (const std::string& path : {"/api/v1/runs/" + std::to_string(id), std::string("/api/v1/runs")}) {
    EXPECT_FALSE(Contains(Api().Get(path).body, kSecret)) << path;
  }
  EXPECT_EQ(FilesHolding(daemon().data_dir(), kSecret), "") << "in plain text in the data dir";
  EXPECT_FALSE(Contains(daemon().Log(), kSecret)) << "in slipwayd's output";
  ExpectNothingLeft(id);
}

}  // namespace
}  // namespace slipway::testing
