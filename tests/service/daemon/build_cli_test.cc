// `slipway build` through a real slipwayd: POST /api/v1/images/build, its
// progress as the CLI prints it, the layer cache, build args, failures, and
// the images that come out (run with `slipway run`). One daemon for the
// suite, with the busybox rootfs imported as image `busybox`; the build
// cache is shared by the tests, so each writes a context of its own and
// only compares builds it made itself.
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/subprocess.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

constexpr char kDockerfile[] =
    "FROM busybox\n"
    "ARG MSG=hi\n"
    "RUN echo $MSG > /msg\n"
    "COPY f.txt /f.txt\n"
    "CMD [\"cat\", \"/msg\"]\n";

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// A build context: `dockerfile` as its Dockerfile, and f.txt.
std::string MakeContext(const std::string& dockerfile) {
  std::string dir = MakeTempDir("build-ctx");
  WriteText(dir + "/Dockerfile", dockerfile);
  WriteText(dir + "/f.txt", "one\n");
  return dir;
}

// The part of `docker build` output about the step whose instruction starts
// with `keyword`: from its "Step n/m : " line up to the next one.
std::string Section(const std::string& out, const std::string& keyword) {
  size_t at = out.find(" : " + keyword);
  if (at == std::string::npos) return "";
  size_t end = out.find("\nStep ", at);
  return out.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class BuildCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { shared_ = StartDaemonWithBusybox().release(); }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(shared_, nullptr) << "slipwayd did not start"; }

  void TearDown() override {
    if (shared_ == nullptr || !shared_->running()) return;
    shared_->RemoveAll();
    EXPECT_EQ(shared_->LeftoversAfter(), "") << "a build or run left something behind";
  }

  DaemonUnderTest& daemon() { return *shared_; }
  Outcome Cli(const std::vector<std::string>& args) {
    return daemon().Cli(args, {}, std::chrono::seconds(120));
  }

  // "id tag" for every image and tag, to compare the store before and after.
  std::set<std::string> Images() {
    HttpReply r = daemon().Api().Get("/api/v1/images");
    EXPECT_EQ(r.status, 200) << r;
    std::set<std::string> out;
    for (const json& image : r.Json().value("images", json::array())) {
      out.insert(image.value("id", ""));
      for (const json& tag : image.value("tags", json::array()))
        out.insert(image.value("id", "") + " " + tag.get<std::string>());
    }
    return out;
  }

  static DaemonUnderTest* shared_;
};

DaemonUnderTest* BuildCliTest::shared_ = nullptr;

TEST_F(BuildCliTest, BuildsAnImageThatRuns) {
  std::string ctx = MakeContext(kDockerfile);
  Outcome b = Cli({"build", "-t", "t:1", ctx});
  ASSERT_EQ(b.code, 0) << b;
  EXPECT_TRUE(Has(b.out, "Step 1/5 : FROM busybox\n")) << b;
  EXPECT_TRUE(Has(b.out, "Step 3/5 : RUN echo $MSG > /msg\n")) << b;
  EXPECT_TRUE(Has(b.out, "Successfully built ")) << b;
  EXPECT_TRUE(Has(b.out, "Successfully tagged t:1\n")) << b;

  std::cout << "slipway build printed:\n" << b.out << b.err;  // for the test log
  Outcome r = Cli({"run", "--rm", "t:1"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "hi\n") << r;
  Outcome f = Cli({"run", "--rm", "t:1", "cat", "/f.txt"});
  EXPECT_EQ(f.out, "one\n") << f;
}

TEST_F(BuildCliTest, ARebuildUsesTheCache) {
  std::string ctx = MakeContext(kDockerfile);
  Outcome first = Cli({"build", "-t", "t:2", ctx});
  ASSERT_EQ(first.code, 0) << first;
  Outcome again = Cli({"build", "-t", "t:2", ctx});
  ASSERT_EQ(again.code, 0) << again;
  // The steps that make layers say so; ARG and CMD only change the config
  // and are never reported as cached (the engine's cache is of layers).
  for (const char* step : {"RUN", "COPY"}) {
    EXPECT_TRUE(Has(Section(again.out, step), " ---> Using cache\n")) << step << "\n" << again;
  }
  EXPECT_FALSE(Has(Section(again.out, "FROM"), "Using cache")) << again;
  EXPECT_TRUE(Has(again.out, "Successfully tagged t:2\n")) << again;

  Outcome fresh = Cli({"build", "--no-cache", "-t", "t:2", ctx});
  ASSERT_EQ(fresh.code, 0) << fresh;
  EXPECT_FALSE(Has(fresh.out, "Using cache")) << fresh;
}

TEST_F(BuildCliTest, AChangedCopySourceRebuildsFromTheCopyOn) {
  std::string ctx = MakeContext(kDockerfile);
  ASSERT_EQ(Cli({"build", "-t", "t:3", ctx}).code, 0);
  WriteText(ctx + "/f.txt", "two\n");
  Outcome b = Cli({"build", "-t", "t:3", ctx});
  ASSERT_EQ(b.code, 0) << b;
  EXPECT_TRUE(Has(Section(b.out, "RUN"), "Using cache")) << b;
  EXPECT_FALSE(Has(Section(b.out, "COPY"), "Using cache")) << b;
  Outcome r = Cli({"run", "--rm", "t:3", "cat", "/f.txt"});
  EXPECT_EQ(r.out, "two\n") << r;
}

TEST_F(BuildCliTest, BuildArgsChangeTheResult) {
  std::string ctx = MakeContext(kDockerfile);
  // The flag right before DIR: it takes one value, not DIR too.
  Outcome b = Cli({"build", "-t", "t:yo", "--build-arg", "MSG=yo", ctx});
  ASSERT_EQ(b.code, 0) << b;
  EXPECT_FALSE(Has(Section(b.out, "RUN"), "Using cache")) << "another MSG is another step\n" << b;
  Outcome r = Cli({"run", "--rm", "t:yo"});
  EXPECT_EQ(r.out, "yo\n") << r;
}

TEST_F(BuildCliTest, DockerfileFlagIsRelativeToTheCurrentDirectory) {
  std::string ctx = MakeContext("FROM busybox\nRUN false\n");
  WriteText(ctx + "/Other.dockerfile", "FROM busybox\nCMD [\"echo\", \"other\"]\n");
  // Run from inside the context, through a shell that changes directory.
  std::string out;
  int code = RunShell("cd " + ctx + " && SLIPWAY_HOST=" + daemon().Url() +
                          " SLIPWAY_TOKEN_FILE=" + daemon().TokenFile() + " " + Binaries().cli +
                          " build -f Other.dockerfile -t t:other . 2>&1",
                      &out);
  ASSERT_EQ(code, 0) << out;
  Outcome r = Cli({"run", "--rm", "t:other"});
  EXPECT_EQ(r.out, "other\n") << r;
}

TEST_F(BuildCliTest, AFailingRunFailsTheBuildAndTagsNothing) {
  std::set<std::string> before = Images();
  std::string ctx =
      MakeContext("FROM busybox\nRUN echo boom-out; echo boom-err >&2; exit 3\nCMD [\"true\"]\n");
  Outcome b = Cli({"build", "-t", "bad:1", ctx});
  EXPECT_EQ(b.code, 1) << b;
  EXPECT_TRUE(Has(b.out + b.err, "boom-out")) << b;
  EXPECT_TRUE(Has(b.out + b.err, "boom-err")) << b;
  EXPECT_TRUE(Has(b.err, "exited with code 3")) << b;
  EXPECT_TRUE(Has(b.err, "Dockerfile:2:")) << b;
  EXPECT_FALSE(Has(b.out, "Successfully")) << b;
  EXPECT_EQ(Images(), before);
  Outcome images = Cli({"images"});
  EXPECT_FALSE(Has(images.out, "bad")) << images;
}

TEST_F(BuildCliTest, AnUnknownInstructionIsRefusedWithItsLine) {
  std::set<std::string> before = Images();
  std::string ctx = MakeContext("FROM busybox\nFROBNICATE now\n");
  Outcome b = Cli({"build", "-t", "bad:2", ctx});
  EXPECT_NE(b.code, 0) << b;
  EXPECT_TRUE(Has(b.err, "Dockerfile:2:")) << b;
  EXPECT_FALSE(Has(b.out, "Step ")) << "nothing ran\n" << b;
  EXPECT_EQ(Images(), before);
}

TEST_F(BuildCliTest, ApiRefusesBadRequestsBeforeStreaming) {
  std::string ctx = MakeContext(kDockerfile);
  ApiClient api = daemon().Api();
  EXPECT_TRUE(
      IsApiError(api.Post("/api/v1/images/build", {{"context", "relative/dir"}}), 400, "invalid_argument"));
  EXPECT_TRUE(
      IsApiError(api.Post("/api/v1/images/build", {{"context", ctx + "/missing"}}), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(api.Post("/api/v1/images/build", {{"context", ctx}, {"tga", "x:1"}}), 400,
                         "invalid_argument"));
  EXPECT_TRUE(IsApiError(api.Post("/api/v1/images/build", {{"context", ctx}, {"build_args", {{"A", 1}}}}),
                         400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(api.Post("/api/v1/images/build", {{"context", ctx}, {"no_cache", "yes"}}), 400,
                         "invalid_argument"));
  EXPECT_TRUE(IsApiError(api.Post("/api/v1/images/build", json::object()), 400, "invalid_argument"));
  std::string bad = MakeContext("FROM busybox\nFROBNICATE now\n");
  HttpReply syntax = api.Post("/api/v1/images/build", {{"context", bad}});
  EXPECT_TRUE(IsApiError(syntax, 400, "invalid_argument"));
  EXPECT_TRUE(Has(syntax.body, "Dockerfile:2:")) << syntax;
}

TEST_F(BuildCliTest, ApiStreamsStepsAndTheOutcome) {
  std::string ctx = MakeContext(kDockerfile);
  HttpReply r = daemon().Api().Post("/api/v1/images/build",
                                    {{"context", ctx}, {"tag", "t:api"}, {"build_args", {{"MSG", "api"}}}});
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(r.content_type.substr(0, 20), "application/x-ndjson") << r;
  std::vector<json> lines;
  size_t pos = 0;
  while (pos < r.body.size()) {
    size_t nl = r.body.find('\n', pos);
    lines.push_back(json::parse(r.body.substr(pos, nl - pos)));
    pos = nl == std::string::npos ? r.body.size() : nl + 1;
  }
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), json({{"step", 1}, {"total", 5}, {"instruction", "FROM busybox"}}));
  const json& last = lines.back();
  EXPECT_EQ(last.value("status", ""), "built") << last;
  EXPECT_EQ(last.value("id", "").substr(0, 7), "sha256:") << last;
  EXPECT_EQ(last.value("tags", json::array()), json::array({"docker.io/library/t:api"})) << last;
  int done = 0;
  for (const json& line : lines) done += line.contains("cached") ? 1 : 0;
  EXPECT_EQ(done, 5) << r.body;
}

TEST_F(BuildCliTest, ImagePruneEmptiesTheBuildCache) {
  std::string ctx = MakeContext(kDockerfile);
  ASSERT_EQ(Cli({"build", "-t", "t:prune", ctx}).code, 0);
  HttpReply r = daemon().Api().Post("/api/v1/images/prune");
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(r.Json().value("build_cache", false), true) << r;
  Outcome again = Cli({"build", "-t", "t:prune", ctx});
  ASSERT_EQ(again.code, 0) << again;
  EXPECT_FALSE(Has(again.out, "Using cache")) << "the cache was emptied\n" << again;
}

TEST_F(BuildCliTest, AClientThatGoesAwayCancelsItsBuild) {
  std::string slow = MakeContext("FROM busybox\nRUN echo started; sleep 60\n");
  Child c = daemon().SpawnCli({"build", "--no-cache", "-t", "slow:1", slow});
  std::string got;
  char buf[4096];
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (got.find("started") == std::string::npos && std::chrono::steady_clock::now() < until) {
    ssize_t n = ::read(c.out, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ASSERT_TRUE(Has(got, "started")) << got;
  ::kill(c.pid, SIGKILL);  // the CLI we spawned, by pid
  Finish(c);
  // Builds run one at a time: this one can only finish once the RUN above
  // was killed.
  auto start = std::chrono::steady_clock::now();
  Outcome next = Cli({"build", "-t", "t:next", MakeContext(kDockerfile)});
  EXPECT_EQ(next.code, 0) << next;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20))
      << "the RUN was not cancelled";
  EXPECT_FALSE(Has(Cli({"images"}).out, "slow")) << "a cancelled build tags nothing";
}

// Entries of the daemon's build cache that hold a layer.
int CachedLayers(const DaemonUnderTest& d) {
  int layers = 0;
  std::string cache = d.data_dir() + "/build/cache";
  for (const std::string& entry : ListTree(cache))
    if (entry.size() > 6 && entry.substr(entry.size() - 6) == "/layer") ++layers;
  return layers;
}

TEST_F(BuildCliTest, HostNetworkNeedsTheDaemonAndTheBuildToAllowIt) {
  std::string ctx = MakeContext(
      "FROM busybox\n"
      "RUN --network=host tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort > /net\n");
  // This daemon does not grant it: refused before anything runs.
  Outcome asked = Cli({"build", "--allow", "network.host", "-t", "net:1", ctx});
  EXPECT_EQ(asked.code, 125) << asked;
  EXPECT_TRUE(Has(asked.err, "does not grant network.host")) << asked;
  EXPECT_FALSE(Has(asked.out, "Step ")) << asked;
  Outcome bad = Cli({"build", "--allow", "network.everything", "-t", "net:1", ctx});
  EXPECT_EQ(bad.code, 125) << bad;
  EXPECT_TRUE(Has(bad.err, "unknown entitlement")) << bad;

  // A daemon that grants it, to builds that ask.
  auto open = StartDaemonWithBusybox({"--build-allow-host-network", "true"});
  ASSERT_NE(open, nullptr);
  Outcome unasked = open->Cli({"build", "-t", "net:1", ctx}, {}, std::chrono::seconds(120));
  EXPECT_NE(unasked.code, 0) << unasked;
  EXPECT_TRUE(Has(unasked.err, "needs the network.host entitlement")) << unasked;
  Outcome built =
      open->Cli({"build", "--allow", "network.host", "-t", "net:1", ctx}, {}, std::chrono::seconds(120));
  ASSERT_EQ(built.code, 0) << built;
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/class/net"))
    names.insert(entry.path().filename());
  std::string host_ifaces;
  for (const std::string& name : names) host_ifaces += name + "\n";
  Outcome seen = open->Cli({"run", "--rm", "net:1", "cat", "/net"});
  EXPECT_EQ(seen.out, host_ifaces) << seen;
  open->RemoveAll();
  EXPECT_EQ(open->LeftoversAfter(), "");
}

TEST_F(BuildCliTest, BuildStepsGetTheDaemonsLimits) {
  auto limited = StartDaemonWithBusybox({"--build-pids-limit", "16"});
  ASSERT_NE(limited, nullptr);
  std::string ctx = MakeContext("FROM busybox\nRUN for i in $(seq 40); do sleep 2 & done; wait\n");
  Outcome b = limited->Cli({"build", "-t", "forks:1", ctx}, {}, std::chrono::seconds(120));
  EXPECT_TRUE(Has(b.err + b.out, "can't fork")) << b;
  // The suite's daemon has the default limit (4096): the same build forks freely.
  Outcome free = Cli({"build", "-t", "forks:1", ctx});
  EXPECT_EQ(free.code, 0) << free;
  EXPECT_FALSE(Has(free.err + free.out, "can't fork")) << free;
  limited->RemoveAll();
  EXPECT_EQ(limited->LeftoversAfter(), "");
}

TEST_F(BuildCliTest, TheBuildCacheIsTrimmedToItsCap) {
  // A cap below any layer: after each build, every layer entry goes.
  auto small = StartDaemonWithBusybox({"--build-cache-max-bytes", "1k"});
  ASSERT_NE(small, nullptr);
  std::string ctx = MakeContext(kDockerfile);
  Outcome first = small->Cli({"build", "-t", "t:cap", ctx}, {}, std::chrono::seconds(120));
  ASSERT_EQ(first.code, 0) << first;
  EXPECT_EQ(CachedLayers(*small), 0);
  Outcome second = small->Cli({"build", "-t", "t:cap", ctx}, {}, std::chrono::seconds(120));
  ASSERT_EQ(second.code, 0) << second;
  EXPECT_FALSE(Has(Section(second.out, "RUN"), "Using cache")) << second;
  EXPECT_TRUE(Has(small->Log(), "image.build_cache_trimmed")) << small->Log();

  // The suite's daemon keeps its default 10g: the same build is cached there.
  ASSERT_EQ(Cli({"build", "-t", "t:cap", ctx}).code, 0);
  EXPECT_GT(CachedLayers(daemon()), 0);
}

// `slipway stop` sends the image's STOPSIGNAL, or --stop-signal's, first.
TEST_F(BuildCliTest, StopSendsTheImagesStopSignal) {
  std::string ctx = MakeContext(
      "FROM busybox\n"
      "STOPSIGNAL SIGUSR1\n"
      "CMD [\"sh\", \"-c\", \"trap 'echo got-usr1; exit 7' USR1; trap 'echo got-usr2; exit 8' USR2; "
      "echo ready; while :; do sleep 0.1; done\"]\n");
  ASSERT_EQ(Cli({"build", "-t", "t:stopsig", ctx}).code, 0);
  struct Case {
    std::vector<std::string> flags;
    std::string signal, said;
    int code;
  };
  for (const Case& c :
       {Case{{}, "SIGUSR1", "got-usr1", 7}, Case{{"--stop-signal", "USR2"}, "USR2", "got-usr2", 8}}) {
    std::vector<std::string> run = {"run", "-d"};
    run.insert(run.end(), c.flags.begin(), c.flags.end());
    run.push_back("t:stopsig");
    Outcome started = Cli(run);
    ASSERT_EQ(started.code, 0) << started;
    std::string id = started.out.substr(0, started.out.find('\n'));
    json inspect = daemon().Inspect(id);
    EXPECT_EQ(inspect["request"].value("stop_signal", ""), c.signal) << inspect;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!Has(Cli({"logs", id}).out, "ready") && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_EQ(Cli({"stop", id}).code, 0);
    Outcome waited = Cli({"wait", id});
    EXPECT_EQ(waited.out, std::to_string(c.code) + "\n") << waited;
    EXPECT_TRUE(Has(Cli({"logs", id}).out, c.said));
  }
  Outcome bad = Cli({"run", "-d", "--stop-signal", "SIGNOPE", "t:stopsig"});
  EXPECT_EQ(bad.code, 125) << bad;
  EXPECT_TRUE(Has(bad.err, "invalid signal")) << bad;
}

TEST_F(BuildCliTest, HelpDescribesTheFlags) {
  Outcome h = Cli({"build", "--help"});
  EXPECT_EQ(h.code, 0) << h;
  for (const char* flag : {"--tag", "--file", "--build-arg", "--target", "--no-cache", "--allow", "DIR"})
    EXPECT_TRUE(Has(h.out, flag)) << flag << "\n" << h;
}

}  // namespace
}  // namespace slipway::testing
