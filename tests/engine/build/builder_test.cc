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
#include "tests/engine/image/image_store_parts.h"
#include "tests/engine/image/test_layers.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/monitor_test_main.h"

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
    // RUN steps run as containers, under slipway-monitor, as in slipwayd.
    auto container_store = ContainerStore::Open(root_ + "/containers.db");
    ASSERT_TRUE(container_store.ok()) << container_store.status().ToString();
    container_store_ = std::move(container_store).value();
    auto log = EventLog::Open("", LogLevel::kWarn);
    ASSERT_TRUE(log.ok());
    log_ = std::move(log).value();
    ContainerServiceOptions containers;
    containers.runtime = {root_ + "/state", cgroup_parent_};
    containers.monitor_binary = g_monitor;
    auto service = ContainerService::Open(containers, *container_store_, *store_, *log_);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    containers_ = std::move(service).value();
    ASSERT_TRUE(containers_->Reconcile().ok());
    containers_->Run();
    options_.containers = containers_.get();
    mounts_before_ = MountPoints();
  }

  void TearDown() override {
    EXPECT_EQ(MountPoints(), mounts_before_);
    // Every RUN step's container went with its step.
    if (containers_) {
      auto left = containers_->List(/*all=*/true);
      ASSERT_TRUE(left.ok());
      EXPECT_TRUE(left->empty()) << left->size() << " containers left, first: " << left->front().ToJson();
    }
    containers_.reset();
    container_store_.reset();
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
  std::unique_ptr<ContainerStore> container_store_;
  std::unique_ptr<EventLog> log_;
  std::unique_ptr<ContainerService> containers_;
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
  ImageStoreParts parts = OpenImageStoreParts(root_ + "/store");
  std::vector<Digest> blobs_before = parts.content->List();
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
  auto images = store_->List();
  ASSERT_TRUE(images.ok());
  EXPECT_EQ(images->size(), 1u);  // busybox only
  // Not even the successful step's layer was written.
  std::vector<std::string> before, after;
  for (const Digest& d : blobs_before) before.push_back(d.str());
  for (const Digest& d : parts.content->List()) after.push_back(d.str());
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
  // Gzip'd, but not a tar: copied as it is, as with Docker.
  auto archive = Build("FROM scratch\nADD a.tar.gz /\n", "s:1");
  ASSERT_TRUE(archive.ok()) << archive.status().ToString();
  auto archive_lowers = store_->LowerDirs(*archive);
  ASSERT_TRUE(archive_lowers.ok());
  EXPECT_EQ(ReadTestFile(archive_lowers->at(0) + "/a.tar.gz"), Gzip("x"));
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

  // The network.host entitlement is checked up front too.
  auto host = Build("FROM busybox\nRUN echo no\nRUN --network=host true\n");
  ASSERT_FALSE(host.ok());
  EXPECT_EQ(host.status().code(), Code::kPermissionDenied);
  EXPECT_NE(
      host.status().message().find("Dockerfile:3: RUN --network=host needs the network.host entitlement"),
      std::string::npos)
      << host.status().ToString();
  EXPECT_TRUE(recorder_.steps.empty());
}

TEST_F(BuilderTest, HostNetworkOnlyWithTheEntitlement) {
  options_.allow_host_network = true;
  auto image = Build(
      "FROM busybox\n"
      "RUN --network=host tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort > /host-net\n"
      "RUN --network=none tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort > /none-net\n"
      "RUN tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort > /default-net\n");
  ASSERT_TRUE(image.ok()) << image.status().ToString() << "\n" << recorder_.output;
  std::vector<std::string> names = ListDir("/sys/class/net");
  std::sort(names.begin(), names.end());
  std::string host_ifaces;
  for (const std::string& name : names) host_ifaces += name + "\n";
  EXPECT_EQ(RunIn(*image, "cat /host-net").out, host_ifaces);
  EXPECT_EQ(RunIn(*image, "cat /none-net").out, "lo\n");
  EXPECT_EQ(RunIn(*image, "cat /default-net").out, "lo\n");
}

TEST_F(BuilderTest, ConfigInstructionsAsDocker) {
  auto image = Build(
      "FROM busybox\n"
      "SHELL [\"/bin/sh\", \"-c\", \"echo \\\"shell:$1\\\" > /shell-used\", \"sh\"]\n"
      "RUN anything at all\n"
      "CMD the command\n"
      "ARG SIG=SIGQUIT\n"
      "STOPSIGNAL $SIG\n"
      "ARG V=/cache\n"
      "VOLUME [\"/data\"]\n"
      "VOLUME $V /data\n"
      "HEALTHCHECK --interval=5s --timeout=2s --retries=3 CMD [\"true\"]\n"
      "ONBUILD RUN echo triggered\n");
  ASSERT_TRUE(image.ok()) << image.status().ToString() << "\n" << recorder_.output;
  EXPECT_EQ(RunIn(*image, "cat /shell-used").out, "shell:anything at all\n");
  auto config = store_->Config(*image);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->shell,
            (std::vector<std::string>{"/bin/sh", "-c", "echo \"shell:$1\" > /shell-used", "sh"}));
  EXPECT_EQ(config->cmd, (std::vector<std::string>{"/bin/sh", "-c", "echo \"shell:$1\" > /shell-used", "sh",
                                                   "the command"}));
  EXPECT_EQ(config->stop_signal, "SIGQUIT");
  EXPECT_EQ(config->volumes, (std::vector<std::string>{"/cache", "/data"}));
  ASSERT_TRUE(config->healthcheck.has_value());
  EXPECT_EQ(config->healthcheck->test, (std::vector<std::string>{"CMD", "true"}));
  EXPECT_EQ(config->healthcheck->interval_ns, 5'000'000'000);
  EXPECT_EQ(config->healthcheck->timeout_ns, 2'000'000'000);
  EXPECT_EQ(config->healthcheck->retries, 3);
  EXPECT_EQ(config->on_build, (std::vector<std::string>{"RUN echo triggered"}));

  auto bad = Build("FROM busybox\nSTOPSIGNAL SIGNOPE\n", "bad:1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("Dockerfile:2: invalid signal \"SIGNOPE\""), std::string::npos)
      << bad.status().ToString();
}

TEST_F(BuilderTest, OnbuildTriggersRunOnceInTheChild) {
  Write("marker.txt", "from the child's context\n");
  auto parent =
      Build("FROM busybox\nONBUILD COPY marker.txt /marker\nONBUILD RUN echo ran >> /log\n", "parent:1");
  ASSERT_TRUE(parent.ok()) << parent.status().ToString();
  EXPECT_EQ(RunIn(*parent, "test -e /marker || echo absent").out, "absent\n");  // not run in the parent

  recorder_ = Recorder();
  auto child = Build("FROM parent:1\nRUN echo child >> /log\n", "child:1");
  ASSERT_TRUE(child.ok()) << child.status().ToString() << "\n" << recorder_.output;
  EXPECT_EQ(recorder_.steps.size(), 4u);  // FROM, two triggers, RUN
  EXPECT_EQ(RunIn(*child, "cat /marker /log").out, "from the child's context\nran\nchild\n");
  auto config = store_->Config(*child);
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->on_build.empty());  // not passed on to grandchildren

  auto grandchild = Build("FROM child:1\nRUN cat /log\n", "grandchild:1");
  ASSERT_TRUE(grandchild.ok()) << grandchild.status().ToString();
  EXPECT_EQ(RunIn(*grandchild, "cat /log").out, "ran\nchild\n");

  // A failing trigger names the FROM line and says where it came from.
  auto failing = Build("FROM busybox\nONBUILD RUN exit 3\n", "failing:1");
  ASSERT_TRUE(failing.ok());
  auto failed = Build("ARG X=1\nFROM failing:1\nRUN true\n", "failed:1");
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("Dockerfile:2: the base image's ONBUILD trigger: RUN exit 3"),
            std::string::npos)
      << failed.status().ToString();
}

TEST_F(BuilderTest, AddUnpacksLocalArchives) {
  TarEntry tool = File("bin/tool", "tool\n", 0750);
  tool.uid = 1234;
  tool.gid = 5678;
  WriteBytes(context_ + "/tools.tar.gz", Compress(MakeTar({Dir("bin"), tool}), Compression::kGzip));
  WriteBytes(context_ + "/plain.tar", MakeTar({File("etc/motd", "hello\n")}));
  WriteBytes(context_ + "/notes.gz", Compress("not a tar\n", Compression::kGzip));
  auto image = Build(
      "FROM busybox\n"
      "ADD tools.tar.gz /opt\n"
      "ADD --chown=7:8 plain.tar /srv/\n"
      "ADD notes.gz /notes.gz\n"
      "COPY tools.tar.gz /copied.tar.gz\n");
  ASSERT_TRUE(image.ok()) << image.status().ToString() << "\n" << recorder_.output;
  EXPECT_EQ(RunIn(*image, "stat -c '%a %u:%g' /opt/bin/tool; cat /opt/bin/tool").out,
            "750 1234:5678\ntool\n");
  // --chown does not apply to an archive's entries (as buildah).
  EXPECT_EQ(RunIn(*image, "stat -c '%u:%g' /srv/etc/motd; cat /srv/etc/motd").out, "0:0\nhello\n");
  EXPECT_EQ(RunIn(*image, "gunzip -c /notes.gz").out, "not a tar\n");
  EXPECT_EQ(RunIn(*image, "test -f /copied.tar.gz && echo kept").out, "kept\n");  // COPY never unpacks

  WriteBytes(context_ + "/wh.tar", MakeTar({File(".wh.bin", "")}));
  auto whiteout = Build("FROM busybox\nADD wh.tar /\n", "wh:1");
  ASSERT_FALSE(whiteout.ok());
  EXPECT_NE(whiteout.status().message().find("reserved for layer whiteouts"), std::string::npos)
      << whiteout.status().ToString();
  EXPECT_TRUE(RunIn(*image, "test -d /bin && echo ok").out == "ok\n");
  EXPECT_TRUE(WorkDirLeftovers().empty());

  // URLs would be fetched from the host's network: refused.
  auto url = Build("FROM busybox\nARG SRC=http://127.0.0.1:7780/api/v1/images\nADD $SRC /x\n", "url:1");
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(url.status().code(), Code::kPermissionDenied);
  EXPECT_NE(url.status().message().find("Dockerfile:3: ADD of URLs is refused"), std::string::npos)
      << url.status().ToString();
}

TEST_F(BuilderTest, CopyChmodAndFromAnImage) {
  Write("f.txt", "f\n");
  Write("d/inner.txt", "inner\n");
  auto image = Build(
      "FROM busybox\n"
      "COPY --chmod=640 f.txt /f.txt\n"
      "COPY --chmod=0700 --link d /d\n"
      "COPY --from=busybox /bin/busybox /copied-busybox\n");
  ASSERT_TRUE(image.ok()) << image.status().ToString() << "\n" << recorder_.output;
  EXPECT_EQ(RunIn(*image, "stat -c %a /f.txt /d/inner.txt").out, "640\n700\n");
  EXPECT_EQ(RunIn(*image, "cmp /bin/busybox /copied-busybox && echo same").out, "same\n");

  auto bad = Build("FROM busybox\nCOPY --chmod=u+x f.txt /\n", "bad:1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("Dockerfile:2: invalid --chmod \"u+x\""), std::string::npos)
      << bad.status().ToString();
  auto missing = Build("FROM busybox\nCOPY --from=nosuch:1 /x /x\n", "bad:2");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("image nosuch:1 not found"), std::string::npos)
      << missing.status().ToString();
}

TEST_F(BuilderTest, RunHeredocs) {
  auto image = Build(
      "FROM busybox\n"
      "RUN <<EOF\n"
      "echo one > /plain\n"
      "echo two >> /plain\n"
      "EOF\n"
      "RUN <<EOF\n"
      "#!/bin/sh\n"
      "echo \"script as $0\" > /script\n"
      "EOF\n"
      "RUN cat <<A > /a && cat <<'B' > /b\n"
      "a $HOME\n"
      "A\n"
      "b $HOME\n"
      "B\n");
  ASSERT_TRUE(image.ok()) << image.status().ToString() << "\n" << recorder_.output;
  EXPECT_EQ(RunIn(*image, "cat /plain /script /a /b").out,
            "one\ntwo\nscript as /dev/pipes/EOF\na /root\nb $HOME\n");
  // The script's mount point is not part of the image.
  EXPECT_EQ(RunIn(*image, "test -e /dev/pipes && echo leaked || echo clean").out, "clean\n");
  auto layers = store_->LowerDirs(*image);
  ASSERT_TRUE(layers.ok());
  for (const std::string& layer : *layers) EXPECT_FALSE(PathExists(layer + "/dev/pipes")) << layer;

  // A changed heredoc is a cache miss; the same one a hit.
  recorder_ = Recorder();
  ASSERT_TRUE(Build("FROM busybox\nRUN <<EOF\necho one > /plain\necho two >> /plain\nEOF\n", "h:2").ok());
  EXPECT_EQ(recorder_.cached_steps, 1);
  recorder_ = Recorder();
  ASSERT_TRUE(Build("FROM busybox\nRUN <<EOF\necho one > /plain\necho 2 >> /plain\nEOF\n", "h:3").ok());
  EXPECT_EQ(recorder_.cached_steps, 0);
}

TEST_F(BuilderTest, CopyHeredocs) {
  Write("f.txt", "from the context\n");
  auto image = Build(
      "FROM busybox\n"
      "ARG WHO=world\n"
      "COPY <<EOF /etc/greeting\n"
      "hello $WHO \"quoted\" \\$literal\n"
      "EOF\n"
      "COPY --chmod=600 --chown=1:2 <<'RAW' f.txt /conf/\n"
      "raw $WHO\n"
      "RAW\n");
  ASSERT_TRUE(image.ok()) << image.status().ToString() << "\n" << recorder_.output;
  EXPECT_EQ(RunIn(*image, "cat /etc/greeting; stat -c '%a %u:%g %Y' /etc/greeting").out,
            "hello world \"quoted\" $literal\n664 0:0 0\n");
  EXPECT_EQ(RunIn(*image, "cat /conf/RAW /conf/f.txt; stat -c '%a %u:%g' /conf/RAW").out,
            "raw $WHO\nfrom the context\n600 1:2\n");
  // The same text rebuilt without the cache makes the same layer.
  recorder_ = Recorder();
  options_.no_cache = true;
  auto again =
      Build("FROM busybox\nARG WHO=world\nCOPY <<EOF /etc/greeting\nhello $WHO \"quoted\" \\$literal\nEOF\n",
            "h:5");
  ASSERT_TRUE(again.ok());
  auto first =
      Build("FROM busybox\nARG WHO=world\nCOPY <<EOF /etc/greeting\nhello $WHO \"quoted\" \\$literal\nEOF\n",
            "h:6");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(again->layers.back().diff_id.str(), first->layers.back().diff_id.str());
}

// A Dockerfile comes from whoever pushed it: its RUN steps get the limits.
TEST_F(BuilderTest, RunStepsAreLimited) {
  const std::string forks = "FROM busybox\nRUN for i in $(seq 40); do sleep 2 & done; wait\n";
  auto unlimited = Build(forks, "forks:1");
  ASSERT_TRUE(unlimited.ok()) << unlimited.status().ToString() << recorder_.output;
  EXPECT_EQ(recorder_.output.find("can't fork"), std::string::npos) << recorder_.output;

  recorder_ = Recorder();
  options_.limits.pids_max = 16;
  options_.no_cache = true;
  (void)Build(forks, "forks:2");  // whether the shell survives its failed forks is its business
  EXPECT_NE(recorder_.output.find("can't fork"), std::string::npos) << recorder_.output;

  options_.limits = {};
  options_.limits.memory_bytes = 32 << 20;
  auto hog = Build("FROM busybox\nRUN x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo ${#x}\n", "hog:1");
  ASSERT_FALSE(hog.ok());
  EXPECT_NE(hog.status().message().find("exited with code 137"), std::string::npos) << hog.status().ToString();
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
