// The Dockerfile executor end to end: real sandboxes build layers into a
// private image store, and the built image is run to see what it holds.
#include "engine/build/builder.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "engine/base/fs.h"
#include "engine/build/build_cache.h"
#include "engine/image/image_store.h"
#include "engine/image/oci_archive.h"
#include "tests/engine/distribution/image_test_util.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

// Records what the builder reports.
class Recorder : public BuildReporter {
 public:
  void Step(int n, int total, const Instruction& inst) override {
    steps.push_back(std::to_string(n) + "/" + std::to_string(total) + " " + inst.original);
  }
  void Output(Stream, std::string_view data) override { output.append(data); }
  void StepDone(bool cached, std::chrono::milliseconds) override {
    ++done;
    if (cached) ++cached_steps;
  }
  std::vector<std::string> steps;
  std::string output;
  int done = 0, cached_steps = 0;
};

class BuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir("slipway-builder");
    cgroup_parent_ = "slipway-buildtest-" + std::to_string(::getpid());
    auto store = ImageStore::Open(root_ + "/store");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();

    OciImageSpec spec;
    spec.layer_tars = {BusyboxTar()};
    spec.runtime_config = {{"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
                           {"Cmd", {"sh"}}};
    spec.image_name = "docker.io/library/busybox:latest";
    OciLayout layout = WriteOciLayout(spec);
    TarDirectory(layout.dir, root_ + "/busybox.tar");
    (void)RemoveTree(layout.dir);
    auto loaded = LoadOciArchive(*store_, root_ + "/busybox.tar");
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();

    context_ = root_ + "/context";
    ASSERT_TRUE(MakeDirs(context_).ok());
    options_.context_dir = context_;
    options_.work_dir = root_ + "/work";
    options_.runtime = {root_ + "/state", cgroup_parent_};
    mounts_before_ = MountPoints();
  }

  void TearDown() override {
    EXPECT_EQ(MountPoints(), mounts_before_);
    store_.reset();
    (void)RemoveTree(root_);
    RemoveCgroupParent(cgroup_parent_);
  }

  void Write(const std::string& rel, const std::string& data) {
    std::string path = context_ + "/" + rel;
    ASSERT_TRUE(MakeDirs(path.substr(0, path.rfind('/'))).ok());
    WriteBytes(path, data);
  }

  Result<ImageRecord> Build(const std::string& dockerfile, const std::string& tag = "built:1") {
    Write("Dockerfile", dockerfile);
    options_.tag = tag;
    return slipway::Build(*store_, options_, recorder_);
  }

  // Runs `script` in the image with its config's env.
  SandboxRun RunIn(const ImageRecord& image, const std::string& script) {
    auto lowers = store_->LowerDirs(image);
    auto config = store_->Config(image);
    if (!lowers.ok() || !config.ok()) return SandboxRun{-1, "", "", "no lowers/config"};
    return runtime_.Run(*lowers, {"sh", "-c", script}, config->env);
  }

  // What the build left in its work dir (nothing, after any build).
  // (The cache is not a leftover.)
  std::vector<std::string> WorkDirLeftovers() {
    std::vector<std::string> out;
    for (const std::string& name : ListDir(options_.work_dir))
      if (name != "cache" && name != "cache.lock") out.push_back(name);
    return out;
  }

  std::string root_, context_, cgroup_parent_;
  std::unique_ptr<ImageStore> store_;
  BuildOptions options_;
  Recorder recorder_;
  TestRuntime runtime_;
  std::vector<std::string> mounts_before_;
};

TEST_F(BuilderTest, BuildsLayersConfigAndHistory) {
  Write("f.txt", "file content\n");
  auto image = Build(
      "FROM busybox\n"
      "RUN echo hi > /hello && rm /bin/ls\n"
      "ENV A=1\n"
      "WORKDIR /app\n"
      "COPY f.txt .\n"
      "CMD [\"cat\",\"/app/f.txt\"]\n");
  ASSERT_TRUE(image.ok()) << image.status().ToString() << "\n" << recorder_.output;
  EXPECT_EQ(recorder_.steps.size(), 6u);
  EXPECT_EQ(recorder_.steps[1], "2/6 RUN echo hi > /hello && rm /bin/ls");
  EXPECT_EQ(recorder_.done, 6);

  auto tagged = store_->Resolve("built:1");
  ASSERT_TRUE(tagged.ok()) << tagged.status().ToString();
  EXPECT_EQ(tagged->id.str(), image->id.str());
  EXPECT_EQ(image->layers.size(), 3u);

  auto config = store_->Config(*image);
  ASSERT_TRUE(config.ok());
  EXPECT_NE(std::find(config->env.begin(), config->env.end(), "A=1"), config->env.end());
  EXPECT_EQ(config->working_dir, "/app");
  EXPECT_EQ(config->cmd, (std::vector<std::string>{"cat", "/app/f.txt"}));
  EXPECT_EQ(config->diff_ids.size(), 3u);
  ASSERT_GE(config->history.size(), 5u);
  std::vector<bool> empty;
  for (size_t i = config->history.size() - 5; i < config->history.size(); ++i)
    empty.push_back(config->history[i].empty_layer);
  EXPECT_EQ(empty, (std::vector<bool>{false, true, true, false, true}));
  EXPECT_EQ(config->history[config->history.size() - 4].created_by, "ENV A=1");

  SandboxRun run = RunIn(*image, "cat /hello; test -e /bin/ls && echo ls-present; cat /app/f.txt; echo A=$A");
  EXPECT_EQ(run.exit_code, 0) << run.err << run.error;
  EXPECT_EQ(run.out, "hi\nfile content\nA=1\n");
  EXPECT_TRUE(WorkDirLeftovers().empty());
}

TEST_F(BuilderTest, LayersStackAndEmptyRunAddsNoLayer) {
  Write("f.txt", "f\n");
  auto image = Build(
      "FROM busybox\n"
      "COPY f.txt /f\n"
      "RUN cat /f > /g && rm /f\n"
      "RUN true\n"
      "USER tester\n"
      "RUN id -u && id -g\n"
      "COPY --chown=tester f.txt /owned\n"
      "LABEL a=b \"c d\"=\"e f\"\n"
      "EXPOSE 80 53/udp\n"
      "ENTRYPOINT [\"/bin/sh\"]\n");
  ASSERT_TRUE(image.ok()) << image.status().ToString() << "\n" << recorder_.output;
  EXPECT_EQ(recorder_.output, "1000\n1000\n");
  auto config = store_->Config(*image);
  ASSERT_TRUE(config.ok());
  // busybox + COPY + RUN + COPY: `RUN true` and `RUN id` changed nothing.
  EXPECT_EQ(config->diff_ids.size(), 4u);
  EXPECT_EQ(config->user, "tester");
  EXPECT_EQ(config->labels, (std::map<std::string, std::string>{{"a", "b"}, {"c d", "e f"}}));
  EXPECT_EQ(config->exposed_ports, (std::vector<std::string>{"53/udp", "80/tcp"}));
  EXPECT_EQ(config->entrypoint, (std::vector<std::string>{"/bin/sh"}));
  EXPECT_TRUE(config->cmd.empty());  // the base's CMD is reset by ENTRYPOINT
  SandboxRun run = RunIn(*image, "cat /g; test -e /f && echo f-present; stat -c '%u:%g %a' /owned /g");
  EXPECT_EQ(run.out, "f\n1000:1000 644\n0:0 644\n") << run.err;

  // The image is a valid OCI image: skopeo reads the saved archive, checking every digest.
  std::string archive = root_ + "/built.tar";
  ASSERT_TRUE(SaveOciArchive(*store_, {"built:1"}, archive).ok());
  std::string out;
  EXPECT_EQ(
      RunShell("skopeo copy --quiet oci-archive:" + archive + " dir:" + root_ + "/skopeo-dir 2>&1", &out), 0)
      << out;
  EXPECT_TRUE(WorkDirLeftovers().empty());
}

TEST_F(BuilderTest, CachedStepsAreReused) {
  Write("f.txt", "one\n");
  const std::string dockerfile =
      "FROM busybox\n"
      "COPY f.txt /f\n"
      "RUN date +%s%N > /stamp\n"
      "ENV X=1\n"
      "RUN true\n";
  auto first = Build(dockerfile);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(recorder_.cached_steps, 0);
  // Each cached layer remembers the blob it became, so a rebuild from the
  // cache does not tar and compress it again.
  int layers = 0;
  for (const std::string& entry : ListDir(options_.work_dir + "/cache")) {
    std::string dir = options_.work_dir + "/cache/" + entry;
    if (!PathExists(dir + "/layer")) continue;
    ++layers;
    EXPECT_TRUE(PathExists(dir + "/blob")) << entry;
  }
  EXPECT_EQ(layers, 2);  // COPY and the first RUN; `RUN true` changed nothing

  recorder_ = Recorder();
  auto second = Build(dockerfile);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(recorder_.cached_steps, 3);  // COPY, RUN, RUN (FROM and ENV are never "cached")
  auto c1 = store_->Config(*first), c2 = store_->Config(*second);
  ASSERT_TRUE(c1.ok() && c2.ok());
  EXPECT_EQ(c1->diff_ids, c2->diff_ids);  // the same layers, /stamp included
  EXPECT_EQ(first->id, second->id);       // nothing changed: the very same image
  EXPECT_EQ(c2->history.back().empty_layer, true);

  recorder_ = Recorder();
  options_.no_cache = true;
  ASSERT_TRUE(Build(dockerfile).ok());
  EXPECT_EQ(recorder_.cached_steps, 0);

  // A changed source invalidates its step and everything after it.
  options_.no_cache = false;
  recorder_ = Recorder();
  Write("f.txt", "two\n");
  auto changed = Build(dockerfile);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(recorder_.cached_steps, 0);
  SandboxRun run = RunIn(*changed, "cat /f");
  EXPECT_EQ(run.out, "two\n");
  std::vector<std::string> work = ListDir(options_.work_dir);
  std::sort(work.begin(), work.end());
  EXPECT_EQ(work, (std::vector<std::string>{"cache", "cache.lock"}));

  // Pruning waits for no build: refused while one uses the cache.
  {
    BuildCache cache(options_.work_dir + "/cache");
    auto in_use = cache.Use();
    ASSERT_TRUE(in_use.ok());
    Status refused = PruneBuildCache(options_.work_dir + "/cache");
    EXPECT_EQ(refused.code(), Code::kFailedPrecondition) << refused.ToString();
  }
  // Pruning empties the cache (no build is running).
  ASSERT_TRUE(PruneBuildCache(options_.work_dir + "/cache").ok());
  recorder_ = Recorder();
  ASSERT_TRUE(Build(dockerfile).ok());
  EXPECT_EQ(recorder_.cached_steps, 0);
}

TEST_F(BuilderTest, FailingRunShowsOutputAndLeavesNothing) {
  std::vector<Digest> blobs_before = store_->content().List();
  auto image = Build(
      "FROM busybox\n"
      "RUN echo made > /x\n"
      "RUN echo before-failing && exit 3\n"
      "ENV B=2\n",
      "failed:1");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(image.status().message().find("Dockerfile:3: RUN echo before-failing && exit 3"),
            std::string::npos)
      << image.status().ToString();
  EXPECT_NE(image.status().message().find("exited with code 3"), std::string::npos);
  EXPECT_NE(recorder_.output.find("before-failing"), std::string::npos);
  EXPECT_FALSE(store_->Resolve("failed:1").ok());
  auto images = store_->metadata().ListImages();
  ASSERT_TRUE(images.ok());
  EXPECT_EQ(images->size(), 1u);  // busybox only
  // Not even the successful step's layer was written.
  std::vector<std::string> before, after;
  for (const Digest& d : blobs_before) before.push_back(d.str());
  for (const Digest& d : store_->content().List()) after.push_back(d.str());
  EXPECT_EQ(after, before);
  EXPECT_TRUE(WorkDirLeftovers().empty());
  EXPECT_TRUE(CgroupTree(cgroup_parent_).empty());
}

TEST_F(BuilderTest, CancelStopsARun) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  options_.cancel_fd = fds[0];
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    (void)!::write(fds[1], "x", 1);
  });
  auto start = std::chrono::steady_clock::now();
  auto image = Build("FROM busybox\nRUN sleep 30\n", "cancelled:1");
  canceller.join();
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_FALSE(image.ok());
  EXPECT_NE(image.status().message().find("Dockerfile:2: RUN sleep 30: cancelled"), std::string::npos)
      << image.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_FALSE(store_->Resolve("cancelled:1").ok());
  EXPECT_TRUE(WorkDirLeftovers().empty());
  EXPECT_TRUE(CgroupTree(cgroup_parent_).empty());
}

TEST_F(BuilderTest, ArgsWithDefaultsAndBuildArgs) {
  Write("f.txt", "f\n");
  options_.build_args = {{"DIR", "/d2"}, {"BASE", "busybox"}};
  auto image = Build(
      "ARG BASE=nothing\n"
      "FROM $BASE\n"
      "ARG WHO=default\n"
      "ARG DIR=/d1\n"
      "RUN echo \"who=$WHO dir=$DIR\" > /who\n"
      "COPY f.txt $DIR/\n");
  ASSERT_TRUE(image.ok()) << image.status().ToString() << "\n" << recorder_.output;
  SandboxRun run = RunIn(*image, "cat /who /d2/f.txt; test -e /d1 && echo d1; echo WHO=$WHO");
  EXPECT_EQ(run.out, "who=default dir=/d2\nf\nWHO=\n") << run.err;
  auto config = store_->Config(*image);
  ASSERT_TRUE(config.ok());
  for (const std::string& e : config->env) EXPECT_EQ(e.rfind("WHO=", 0), std::string::npos) << e;
}

TEST_F(BuilderTest, MultiStageCopyFrom) {
  auto image = Build(
      "FROM busybox AS builder\n"
      "RUN mkdir /out && echo built > /out/artifact && rm /out/../bin/cat && echo gone > /out/gone\n"
      "RUN rm /out/gone\n"
      "FROM busybox\n"
      "COPY --from=0 /out/artifact /a0\n"
      "COPY --from=builder /out /outdir\n");
  ASSERT_TRUE(image.ok()) << image.status().ToString() << "\n" << recorder_.output;
  SandboxRun run = RunIn(*image, "cat /a0 /outdir/artifact; ls /outdir; test -e /bin/cat && echo has-cat");
  EXPECT_EQ(run.out, "built\nbuilt\nartifact\nhas-cat\n") << run.err;

  // A whited-out file of the stage is not there to copy.
  auto missing = Build(
      "FROM busybox AS builder\n"
      "RUN rm /bin/cat\n"
      "FROM busybox\n"
      "COPY --from=builder /bin/cat /cat\n",
      "missing:1");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("Dockerfile:4:"), std::string::npos)
      << missing.status().ToString();
  EXPECT_TRUE(WorkDirLeftovers().empty());
}

TEST_F(BuilderTest, ScratchStageAndTarget) {
  Write("f.txt", "f\n");
  options_.target = "files";
  auto image = Build(
      "FROM scratch AS files\n"
      "COPY f.txt /data/\n"
      "ADD f.txt /added\n"
      "FROM busybox\n"
      "RUN false\n");
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(recorder_.steps.size(), 3u);  // the later stage is not built
  EXPECT_EQ(image->layers.size(), 2u);
  auto lowers = store_->LowerDirs(*image);
  ASSERT_TRUE(lowers.ok());
  ASSERT_EQ(lowers->size(), 2u);
  EXPECT_EQ(ReadTestFile(lowers->at(0) + "/added"), "f\n");  // topmost first
  EXPECT_EQ(ReadTestFile(lowers->at(1) + "/data/f.txt"), "f\n");

  options_.target = "";
  WriteBytes(context_ + "/a.tar.gz", Gzip("x"));
  auto archive = Build("FROM scratch\nADD a.tar.gz /\n", "s:1");
  ASSERT_FALSE(archive.ok());
  EXPECT_NE(archive.status().message().find("Dockerfile:2: ADD of archives is not supported yet"),
            std::string::npos)
      << archive.status().ToString();
  auto run_on_scratch = Build("FROM scratch\nRUN true\n", "s:2");
  ASSERT_FALSE(run_on_scratch.ok());
  EXPECT_NE(run_on_scratch.status().message().find("Dockerfile:2:"), std::string::npos);
  EXPECT_TRUE(WorkDirLeftovers().empty());
}

TEST_F(BuilderTest, DockerignoreExcludesFromCopy) {
  Write("keep.txt", "k\n");
  Write("secret.txt", "s\n");
  Write("sub/x.log", "l\n");
  Write("sub/y.txt", "y\n");
  Write(".dockerignore", "secret.txt\n**/*.log\n");
  auto image = Build(
      "FROM busybox\n"
      "COPY . /ctx\n");
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  SandboxRun run = RunIn(*image, "cd /ctx && ls -A . sub");
  EXPECT_EQ(run.out, ".:\n.dockerignore\nDockerfile\nkeep.txt\nsub\n\nsub:\ny.txt\n") << run.err;

  auto ignored = Build("FROM busybox\nCOPY secret.txt /\n", "ignored:1");
  EXPECT_FALSE(ignored.ok());
}

TEST_F(BuilderTest, CopyRefusesEscapes) {
  ASSERT_EQ(::symlink("/etc", (context_ + "/link").c_str()), 0);
  EXPECT_FALSE(Build("FROM busybox\nCOPY ../../etc/passwd /\n", "esc:1").ok());
  auto through = Build("FROM busybox\nCOPY link/passwd /\n", "esc:2");
  ASSERT_FALSE(through.ok());
  EXPECT_NE(through.status().message().find("symlink"), std::string::npos) << through.status().ToString();
  // The link itself is copied as a link.
  auto link = Build("FROM busybox\nCOPY link /copied\n", "esc:3");
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  SandboxRun run = RunIn(*link, "readlink /copied");
  EXPECT_EQ(run.out, "/etc\n");
}

TEST_F(BuilderTest, ContextFilesAreNotReadThroughSymlinks) {
  ASSERT_EQ(::symlink("/etc/passwd", (context_ + "/Dockerfile").c_str()), 0);
  options_.tag = "x:1";
  auto image = slipway::Build(*store_, options_, recorder_);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().message().find("root:"), std::string::npos) << image.status().ToString();
  EXPECT_NE(image.status().message().find("not a regular file"), std::string::npos)
      << image.status().ToString();
}

TEST_F(BuilderTest, UnknownInstructionFailsBeforeAnythingRuns) {
  auto image = Build(
      "FROM busybox\n"
      "RUN echo should-not-run\n"
      "FOO bar\n");
  ASSERT_FALSE(image.ok());
  EXPECT_NE(image.status().message().find("Dockerfile:3: unknown instruction: FOO"), std::string::npos)
      << image.status().ToString();
  EXPECT_TRUE(recorder_.steps.empty());
  EXPECT_TRUE(CgroupTree(cgroup_parent_).empty());
  EXPECT_FALSE(PathExists(options_.work_dir));

  auto shell = Build("FROM busybox\nRUN echo no\nSHELL [\"/bin/bash\", \"-c\"]\n");
  ASSERT_FALSE(shell.ok());
  EXPECT_NE(shell.status().message().find("Dockerfile:3: SHELL is not supported yet"), std::string::npos)
      << shell.status().ToString();
  EXPECT_TRUE(recorder_.steps.empty());
}

TEST_F(BuilderTest, MissingBaseImageNeedsPull) {
  auto image = Build("FROM nosuchimage:1\nRUN true\n");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kNotFound);
  EXPECT_NE(image.status().message().find("image nosuchimage:1 not found; pull it first"), std::string::npos)
      << image.status().ToString();
}

}  // namespace
}  // namespace slipway::testing
