// End-to-end tests of slipway's image verbs: the real CLI against a real
// slipwayd of each test's own (data and state directories, cgroup parent,
// port), and a real registry on loopback (which the daemon reaches over plain
// http, as it does every loopback registry). Each test checks what a user
// sees (exit code, stdout, stderr) and, for bad input, that the image store
// did not change.
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "engine/base/ascii.h"
#include "tests/engine/distribution/image_test_util.h"
#include "tests/engine/registry/registry_fixture.h"
#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/subprocess.h"

extern char** environ;

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// --- Processes ----------------------------------------------------------------

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Whitespace-separated fields of a line.
std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// --- Fixture ------------------------------------------------------------------

class ImageCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("slipway-imgcli");
    daemon_ = std::make_unique<DaemonUnderTest>();
    data_dir_ = daemon_->data_dir();
    auto started = daemon_->Start();
    ASSERT_TRUE(started) << started.message();
  }

  void TearDown() override {
    if (daemon_->running()) {
      daemon_->RemoveAll();
      EXPECT_EQ(daemon_->LeftoversAfter(), "");
    }
    daemon_.reset();
    registry_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // `slipway ARGS...` against this test's daemon.
  Outcome Slipway(const std::vector<std::string>& args, seconds deadline = seconds(120)) {
    return daemon_->Cli(args, {}, deadline);
  }

  // `slipway import <busybox rootfs tar> NAME`; returns the id printed.
  std::string ImportBusybox(const std::string& name = "busybox:x") {
    Outcome o = Slipway({"import", BusyboxTarPath(), name});
    EXPECT_EQ(o.code, 0) << o;
    std::string id = o.out.substr(0, o.out.find('\n'));
    EXPECT_TRUE(id.starts_with("sha256:") && id.size() == 71) << o;
    return id;
  }

  // `slipway images` as (repository, tag, short id) rows.
  std::vector<std::vector<std::string>> ImageRows() {
    Outcome o = Slipway({"images"});
    EXPECT_EQ(o.code, 0) << o;
    std::vector<std::vector<std::string>> rows;
    auto lines = Lines(o.out);
    for (size_t i = 1; i < lines.size(); ++i) {  // after the header
      auto f = Fields(lines[i]);
      if (f.size() >= 3) rows.push_back({f[0], f[1], f[2]});
    }
    return rows;
  }

  // `slipway images -q`, one short id per line.
  std::vector<std::string> ImageIds() {
    Outcome o = Slipway({"images", "-q"});
    EXPECT_EQ(o.code, 0) << o;
    return Lines(o.out);
  }

  // What bad input must not change: the image list and the store's files
  // (metadata files aside, which SQLite may touch on every open).
  std::vector<std::string> StoreState() {
    std::vector<std::string> out = ImageIds();
    for (const char* sub : {"/content/blobs", "/snapshots"}) {
      for (const auto& p : ListTree(data_dir_ + sub)) out.push_back(p);
    }
    return out;
  }

  // The containers the daemon knows, ended ones too.
  size_t Containers() { return daemon_->List(true).size(); }

  TestRegistry& Registry() {
    if (!registry_) registry_ = std::make_unique<TestRegistry>();
    return *registry_;
  }

  // An image with `runtime_config` (Entrypoint, Cmd, ...) on the busybox
  // rootfs, loaded from an OCI archive as docker.io/library/<name>.
  void LoadConfigImage(const std::string& name, const json& runtime_config) {
    OciImageSpec spec;
    spec.layer_tars = {BusyboxTar()};
    spec.runtime_config = runtime_config;
    spec.image_name = "docker.io/library/" + name;
    OciLayout layout = WriteOciLayout(spec);
    std::string archive = dir_ + "/" + name.substr(0, name.find(':')) + ".tar";
    TarDirectory(layout.dir, archive);
    fs::remove_all(layout.dir);
    Outcome o = Slipway({"load", "-i", archive});
    ASSERT_EQ(o.code, 0) << o;
    ASSERT_TRUE(Contains(o.out, "Loaded image: docker.io/library/" + name)) << o;
  }

  std::string dir_, data_dir_;
  std::unique_ptr<DaemonUnderTest> daemon_;
  std::unique_ptr<TestRegistry> registry_;
};

// --- The life of an image -------------------------------------------------------

TEST_F(ImageCliTest, ImportPrintsTheIdAndImagesListsIt) {
  std::string id = ImportBusybox("busybox:x");
  auto rows = ImageRows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"busybox", "x", id.substr(7, 12)}));
  EXPECT_EQ(ImageIds(), std::vector<std::string>{id.substr(7, 12)});
}

TEST_F(ImageCliTest, ImagesOfAnEmptyStoreShowsOnlyTheHeader) {
  Outcome o = Slipway({"images"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(Lines(o.out).size(), 1u) << o;
  EXPECT_TRUE(Contains(o.out, "REPOSITORY")) << o;
}

TEST_F(ImageCliTest, RunOfAnImportedImage) {
  ImportBusybox("busybox:x");
  Outcome o = Slipway({"run", "--rm", "busybox:x", "echo", "hello", "from", "the", "image"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "hello from the image\n") << o;
  EXPECT_EQ(Containers(), 0u);
}

TEST_F(ImageCliTest, RunByShortIdAndExitCodeIsPassedOn) {
  std::string id = ImportBusybox("busybox:x");
  Outcome o = Slipway({"run", "--rm", id.substr(7, 12), "sh", "-c", "echo by-id; exit 3"});
  EXPECT_EQ(o.code, 3) << o;
  EXPECT_EQ(o.out, "by-id\n") << o;
}

TEST_F(ImageCliTest, TagAddsANameThatRuns) {
  std::string id = ImportBusybox("busybox:x");
  Outcome tag = Slipway({"tag", "busybox:x", "example.com/team/app:2"});
  ASSERT_EQ(tag.code, 0) << tag;
  auto rows = ImageRows();
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(rows, (std::vector<std::vector<std::string>>{{"busybox", "x", id.substr(7, 12)},
                                                         {"example.com/team/app", "2", id.substr(7, 12)}}));
  Outcome run = Slipway({"run", "--rm", "example.com/team/app:2", "echo", "tagged"});
  EXPECT_EQ(run.code, 0) << run;
  EXPECT_EQ(run.out, "tagged\n");
}

TEST_F(ImageCliTest, SaveThenLoadRestoresTheImage) {
  std::string id = ImportBusybox("busybox:x");
  std::string archive = dir_ + "/busybox.tar";
  Outcome save = Slipway({"save", "-o", archive, "busybox:x"});
  ASSERT_EQ(save.code, 0) << save;
  ASSERT_TRUE(fs::exists(archive));
  Outcome rmi = Slipway({"rmi", "busybox:x"});
  ASSERT_EQ(rmi.code, 0) << rmi;
  EXPECT_TRUE(ImageIds().empty());

  Outcome load = Slipway({"load", "-i", archive});
  ASSERT_EQ(load.code, 0) << load;
  EXPECT_EQ(load.out, "Loaded image: docker.io/library/busybox:x\n") << load;
  EXPECT_EQ(ImageIds(), std::vector<std::string>{id.substr(7, 12)});
  Outcome run = Slipway({"run", "--rm", "busybox:x", "echo", "loaded"});
  EXPECT_EQ(run.code, 0) << run;
  EXPECT_EQ(run.out, "loaded\n");
}

TEST_F(ImageCliTest, RmiRemovesTheImageAndItsLayers) {
  std::string id = ImportBusybox("busybox:x");
  Outcome rmi = Slipway({"rmi", "busybox:x"});
  ASSERT_EQ(rmi.code, 0) << rmi;
  EXPECT_TRUE(Contains(rmi.out, "Untagged: busybox:x")) << rmi;
  EXPECT_TRUE(Contains(rmi.out, "Deleted: " + id)) << rmi;
  EXPECT_TRUE(ImageIds().empty());
  EXPECT_TRUE(ListTree(data_dir_ + "/content/blobs/sha256").empty());
  EXPECT_TRUE(ListTree(data_dir_ + "/snapshots").empty());
}

TEST_F(ImageCliTest, RmiByIdOfAnImageWithTwoNamesNeedsForce) {
  std::string id = ImportBusybox("busybox:x");
  ASSERT_EQ(Slipway({"tag", "busybox:x", "busybox:y"}).code, 0);
  Outcome refused = Slipway({"rmi", id.substr(7, 12)});
  EXPECT_EQ(refused.code, 1) << "as docker rmi\n" << refused;
  EXPECT_EQ(ImageRows().size(), 2u);
  Outcome forced = Slipway({"rmi", "-f", id.substr(7, 12)});
  EXPECT_EQ(forced.code, 0) << forced;
  EXPECT_TRUE(ImageIds().empty());
}

TEST_F(ImageCliTest, ImagePruneRemovesUntaggedImages) {
  std::string id = ImportBusybox("");
  Outcome prune = Slipway({"image", "prune"});
  ASSERT_EQ(prune.code, 0) << prune;
  EXPECT_TRUE(Contains(prune.out, "Deleted: " + id)) << prune;
  EXPECT_TRUE(ImageIds().empty());
  EXPECT_TRUE(ListTree(data_dir_ + "/content/blobs/sha256").empty());
}

// --- Registries ---------------------------------------------------------------------

TEST_F(ImageCliTest, PushThenPullBack) {
  std::string name = Registry().host() + "/test/cli:1";
  std::string id = ImportBusybox(name);
  Outcome push = Slipway({"push", name});
  ASSERT_EQ(push.code, 0) << push;
  EXPECT_TRUE(Contains(push.out, "digest: sha256:")) << push;
  json inspect = json::parse(Skopeo("inspect --tls-verify=false docker://" + name));
  EXPECT_TRUE(Contains(push.out, inspect["Digest"].get<std::string>())) << push;

  ASSERT_EQ(Slipway({"rmi", name}).code, 0);
  ASSERT_TRUE(ImageIds().empty());
  Outcome pull = Slipway({"pull", name});
  ASSERT_EQ(pull.code, 0) << pull;
  EXPECT_TRUE(Contains(pull.out, id)) << pull;
  EXPECT_EQ(ImageIds(), std::vector<std::string>{id.substr(7, 12)});
  Outcome run = Slipway({"run", "--rm", name, "echo", "pulled"});
  EXPECT_EQ(run.code, 0) << run;
  EXPECT_EQ(run.out, "pulled\n");
}

TEST_F(ImageCliTest, RunOfAMissingImagePullsItFirst) {
  TestImage image = TestImage::Busybox();
  std::string name = Registry().host() + "/test/busybox:1";
  SkopeoPush(image, name);
  fs::remove_all(image.layout_dir);
  Outcome run = Slipway({"run", "--rm", name, "echo", "ok"});
  EXPECT_EQ(run.code, 0) << run;
  EXPECT_EQ(run.out, "ok\n") << run;
  EXPECT_TRUE(Contains(Lower(run.err), "unable to find image")) << run;
  EXPECT_EQ(ImageIds(), std::vector<std::string>{image.manifest.config.digest.hex().substr(0, 12)});
}

// --- Bad input: exit 125, a clear message, nothing changed ----------------------------

class ImageCliBadInputTest : public ImageCliTest {
 protected:
  void SetUp() override {
    ImageCliTest::SetUp();
    ImportBusybox("busybox:x");
    before_ = StoreState();
  }
  // `code`: 125 for slipway's own errors; 1 for a verb that goes through
  // a list of names and reports each failure (rmi, as Docker's).
  void ExpectFailure(const Outcome& o, const std::vector<std::string>& mentions, int code = 125) {
    EXPECT_EQ(o.code, code) << o;
    EXPECT_TRUE(o.out.empty()) << o;
    EXPECT_TRUE(o.err.starts_with("slipway: ")) << o;
    for (const auto& m : mentions) EXPECT_TRUE(Contains(o.err, m)) << "want \"" << m << "\"\n" << o;
    EXPECT_EQ(StoreState(), before_);
  }
  std::vector<std::string> before_;
};

TEST_F(ImageCliBadInputTest, PullOfAnUppercaseReference) {
  ExpectFailure(Slipway({"pull", "UPPER/case"}), {"UPPER/case"});
}

TEST_F(ImageCliBadInputTest, PullOfAReferenceWithTwoTags) {
  ExpectFailure(Slipway({"pull", "a:b:c"}), {"a:b:c"});
}

TEST_F(ImageCliBadInputTest, PullFromAPortWhereNothingListensFailsQuickly) {
  int port = Registry().port();
  Registry().Kill();
  std::string host = "127.0.0.1:" + std::to_string(port);
  Outcome o = Slipway({"pull", host + "/test/busybox:1"}, seconds(60));
  ExpectFailure(o, {host});
  EXPECT_LT(o.took, seconds(10)) << o;
}

TEST_F(ImageCliBadInputTest, RmiOfAnUnknownImage) {
  ExpectFailure(Slipway({"rmi", "nothing:here"}), {"nothing:here"}, 1);
}

TEST_F(ImageCliBadInputTest, LoadOfANonArchiveFile) {
  std::string path = dir_ + "/notes.txt";
  WriteBytes(path, "this is not an archive\n");
  ExpectFailure(Slipway({"load", "-i", path}), {path});
}

TEST_F(ImageCliBadInputTest, ImportOfAMissingFile) {
  std::string path = dir_ + "/missing.tar";
  ExpectFailure(Slipway({"import", path, "x:1"}), {path});
}

TEST_F(ImageCliBadInputTest, ImportOfANonTarFile) {
  std::string path = dir_ + "/notes.txt";
  WriteBytes(path, "this is not a tar\n");
  ExpectFailure(Slipway({"import", path, "x:1"}), {path, "not a tar"});
}

TEST_F(ImageCliBadInputTest, SaveWithoutOutput) {
  ExpectFailure(Slipway({"save", "busybox:x"}), {"--output"});
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(ImageCliBadInputTest, SaveOfAnUnknownImageWritesNoFile) {
  std::string archive = dir_ + "/out.tar";
  ExpectFailure(Slipway({"save", "-o", archive, "nothing:here"}), {"nothing:here"});
  EXPECT_FALSE(fs::exists(archive));
}

TEST_F(ImageCliBadInputTest, TagOfAnUnknownImage) {
  ExpectFailure(Slipway({"tag", "nothing:here", "new:1"}), {"nothing:here"});
}

// --- The image config, as Docker honours it ----------------------------------------------

TEST_F(ImageCliTest, EntrypointRunsWithCmdAsDefaultArguments) {
  LoadConfigImage("ep:1", {{"Entrypoint", {"/bin/echo", "entry"}}, {"Cmd", {"default", "cmd"}}});
  Outcome o = Slipway({"run", "--rm", "ep:1"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "entry default cmd\n") << o;
}

TEST_F(ImageCliTest, ArgumentsReplaceCmdAfterTheEntrypoint) {
  LoadConfigImage("ep:1", {{"Entrypoint", {"/bin/echo", "entry"}}, {"Cmd", {"default", "cmd"}}});
  Outcome o = Slipway({"run", "--rm", "ep:1", "extra", "args"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "entry extra args\n") << o;
}

TEST_F(ImageCliTest, CmdAloneIsReplacedByArguments) {
  LoadConfigImage("cmd:1", {{"Cmd", {"echo", "from-cmd"}}});
  Outcome dflt = Slipway({"run", "--rm", "cmd:1"});
  EXPECT_EQ(dflt.code, 0) << dflt;
  EXPECT_EQ(dflt.out, "from-cmd\n") << dflt;
  Outcome args = Slipway({"run", "--rm", "cmd:1", "echo", "given"});
  EXPECT_EQ(args.code, 0) << args;
  EXPECT_EQ(args.out, "given\n") << args;
}

TEST_F(ImageCliTest, ImageEnvIsVisibleAndDashEOverridesIt) {
  LoadConfigImage("env:1", {{"Env", {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello", "OTHER=kept"}}});
  Outcome image_env = Slipway({"run", "--rm", "env:1", "sh", "-c", "echo $GREETING $OTHER"});
  EXPECT_EQ(image_env.code, 0) << image_env;
  EXPECT_EQ(image_env.out, "hello kept\n") << image_env;
  Outcome overridden =
      Slipway({"run", "--rm", "-e", "GREETING=bye", "env:1", "sh", "-c", "echo $GREETING $OTHER"});
  EXPECT_EQ(overridden.code, 0) << overridden;
  EXPECT_EQ(overridden.out, "bye kept\n") << overridden;
  Outcome count =
      Slipway({"run", "--rm", "-e", "GREETING=bye", "env:1", "sh", "-c", "env | grep -c ^GREETING="});
  EXPECT_EQ(count.out, "1\n") << count;
}

TEST_F(ImageCliTest, WorkingDirIsUsedUnlessDashWGiven) {
  LoadConfigImage("wd:1", {{"WorkingDir", "/srv/app"}});
  Outcome image_wd = Slipway({"run", "--rm", "wd:1", "pwd"});
  EXPECT_EQ(image_wd.code, 0) << image_wd;
  EXPECT_EQ(image_wd.out, "/srv/app\n") << image_wd;
  Outcome flag = Slipway({"run", "--rm", "-w", "/tmp", "wd:1", "pwd"});
  EXPECT_EQ(flag.code, 0) << flag;
  EXPECT_EQ(flag.out, "/tmp\n") << flag;
}

TEST_F(ImageCliTest, UserIsAppliedUnlessDashUGiven) {
  LoadConfigImage("user:1", {{"User", "tester"}});
  Outcome image_user = Slipway({"run", "--rm", "user:1", "sh", "-c", "echo $(id -u):$(id -g) $HOME"});
  EXPECT_EQ(image_user.code, 0) << image_user;
  EXPECT_EQ(image_user.out, "1000:1000 /home/tester\n") << image_user;
  Outcome flag = Slipway({"run", "--rm", "-u", "root", "user:1", "id", "-u"});
  EXPECT_EQ(flag.code, 0) << flag;
  EXPECT_EQ(flag.out, "0\n") << flag;
}

TEST_F(ImageCliTest, NumericUserAndGroupFromTheImage) {
  LoadConfigImage("uid:1", {{"User", "1234:5678"}});
  Outcome o = Slipway({"run", "--rm", "uid:1", "sh", "-c", "echo $(id -u):$(id -g)"});
  EXPECT_EQ(o.code, 0) << o;
  EXPECT_EQ(o.out, "1234:5678\n") << o;
}

TEST_F(ImageCliTest, ImageWithoutACommandNeedsOne) {
  LoadConfigImage("nocmd:1", json::object());
  Outcome o = Slipway({"run", "--rm", "nocmd:1"});
  EXPECT_EQ(o.code, 125) << o;
  EXPECT_TRUE(Contains(o.err, "no command")) << o;
  EXPECT_EQ(Containers(), 0u);
}

}  // namespace
}  // namespace slipway::testing
