// BuildSandboxSpec: what a create request becomes, on a real image store
// holding an image whose config sets Entrypoint, Cmd, Env, WorkingDir, User.
#include "engine/containers/sandbox_spec.h"

#include <gtest/gtest.h>

#include "engine/base/fs.h"
#include "engine/image/oci_archive.h"
#include "tests/engine/distribution/image_test_util.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

using ::slipway::testing::BusyboxTar;

class SpecBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::slipway::testing::MakeTempDir("spec-builder");
    auto store = ImageStore::Open(dir_ + "/store");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    ::slipway::testing::OciImageSpec image;
    image.layer_tars = {BusyboxTar()};
    image.runtime_config = {{"Entrypoint", {"/bin/sh", "-c"}},
                            {"Cmd", {"echo from-image"}},
                            {"Env", {"PATH=/bin", "MODE=image"}},
                            {"WorkingDir", "/srv"},
                            {"User", "root"}};
    image.image_name = "docker.io/library/configured:1";
    auto layout = ::slipway::testing::WriteOciLayout(image);
    ::slipway::testing::TarDirectory(layout.dir, dir_ + "/image.tar");
    auto loaded = LoadOciArchive(*store_, dir_ + "/image.tar");
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    (void)RemoveTree(layout.dir);
  }
  void TearDown() override {
    store_.reset();
    (void)RemoveTree(dir_);
  }

  CreateRequest Request() {
    CreateRequest r;
    r.image = "configured:1";
    return r;
  }

  std::string dir_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(SpecBuilderTest, TakesTheImageDefaults) {
  auto built = BuildSandboxSpec(Request(), *store_);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ(built->spec.argv, (std::vector<std::string>{"/bin/sh", "-c", "echo from-image"}));
  EXPECT_EQ(built->spec.workdir, "/srv");
  EXPECT_EQ(built->spec.env, (std::vector<std::string>{"PATH=/bin", "MODE=image", "HOME=/root"}));
  EXPECT_EQ(built->spec.uid, 0u);
  EXPECT_FALSE(built->spec.lower_dirs.empty());
  EXPECT_TRUE(built->image_id.starts_with("sha256:"));
}

TEST_F(SpecBuilderTest, CommandReplacesCmdButKeepsEntrypoint) {
  CreateRequest r = Request();
  r.command = {"echo mine"};
  auto built = BuildSandboxSpec(r, *store_);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ(built->spec.argv, (std::vector<std::string>{"/bin/sh", "-c", "echo mine"}));
}

TEST_F(SpecBuilderTest, EntrypointDropsTheImagesCmd) {
  CreateRequest r = Request();
  r.entrypoint = std::vector<std::string>{"/bin/true"};
  auto built = BuildSandboxSpec(r, *store_);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ(built->spec.argv, (std::vector<std::string>{"/bin/true"}));
}

TEST_F(SpecBuilderTest, RequestEnvOverridesTheImagesByName) {
  CreateRequest r = Request();
  r.env = {"MODE=request", "EXTRA=1"};
  r.workdir = "/tmp";
  r.user = "1000:1001";
  auto built = BuildSandboxSpec(r, *store_);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ(built->spec.env,
            (std::vector<std::string>{"PATH=/bin", "MODE=request", "EXTRA=1", "HOME=/home/tester"}));
  EXPECT_EQ(built->spec.workdir, "/tmp");
  EXPECT_EQ(built->spec.uid, 1000u);
  EXPECT_EQ(built->spec.gid, 1001u);
}

TEST_F(SpecBuilderTest, MapsLimitsNetworkBindsAndCapabilities) {
  CreateRequest r = Request();
  r.limits.memory_bytes = 64 << 20;
  r.limits.cpu_millis = 500;
  r.limits.pids_max = 32;
  r.timeout_ms = 1500;
  r.network = "container:db";
  r.binds = {dir_ + ":/work:ro"};
  r.cap_drop = {"CHOWN"};
  auto built = BuildSandboxSpec(r, *store_);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ(built->spec.limits.memory_bytes, 64 << 20);
  EXPECT_EQ(built->spec.limits.cpu_millis, 500);
  EXPECT_EQ(built->spec.limits.pids_max, 32);
  EXPECT_EQ(built->spec.timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(built->spec.network, NetworkMode::kContainer);
  EXPECT_EQ(built->spec.network_peer, "db");
  ASSERT_EQ(built->spec.binds.size(), 1u);
  EXPECT_TRUE(built->spec.binds[0].read_only);
  EXPECT_EQ(built->spec.capabilities & ~DefaultCapabilities(), 0u);
  EXPECT_NE(built->spec.capabilities, DefaultCapabilities());
}

TEST_F(SpecBuilderTest, MapsEachNetwork) {
  struct Case {
    std::string network;
    NetworkMode mode;
    std::string peer;
  };
  for (const Case& c :
       {Case{"", NetworkMode::kPrivate, ""}, Case{"none", NetworkMode::kPrivate, ""},
        Case{"host", NetworkMode::kHost, ""}, Case{"container:db", NetworkMode::kContainer, "db"}}) {
    CreateRequest r = Request();
    r.network = c.network;
    auto built = BuildSandboxSpec(r, *store_);
    ASSERT_TRUE(built.ok()) << c.network << ": " << built.status().ToString();
    EXPECT_EQ(built->spec.network, c.mode) << c.network;
    EXPECT_EQ(built->spec.network_peer, c.peer) << c.network;
  }
}

TEST_F(SpecBuilderTest, UnsupportedNetworksNameTheAcceptedForms) {
  // Only the exact words: a near miss must not fall back to some mode.
  for (const char* network : {"bridge", "Host", "host:", "host:db", " host", "container:", "container"}) {
    CreateRequest r = Request();
    r.network = network;
    auto built = BuildSandboxSpec(r, *store_);
    ASSERT_FALSE(built.ok()) << network;
    EXPECT_EQ(built.status().code(), Code::kInvalidArgument) << network;
    EXPECT_EQ(built.status().message(),
              "unsupported network \"" + std::string(network) + "\": use none, host or container:NAME");
  }
}

TEST_F(SpecBuilderTest, MissingImageIsNotFound) {
  CreateRequest r = Request();
  r.image = "nowhere:1";
  auto built = BuildSandboxSpec(r, *store_);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.status().code(), Code::kNotFound);
  EXPECT_NE(built.status().message().find("nowhere:1"), std::string::npos);
}

TEST_F(SpecBuilderTest, RefusesBadRequests) {
  auto expect_invalid = [&](CreateRequest r, const std::string& why) {
    auto built = BuildSandboxSpec(r, *store_);
    ASSERT_FALSE(built.ok()) << why;
    EXPECT_EQ(built.status().code(), Code::kInvalidArgument) << why << ": " << built.status().ToString();
  };
  CreateRequest both = Request();
  both.rootfs = dir_;
  expect_invalid(both, "image and rootfs");
  CreateRequest neither;
  expect_invalid(neither, "neither image nor rootfs");
  CreateRequest relative;
  relative.rootfs = "store";
  relative.command = {"true"};
  expect_invalid(relative, "relative rootfs");
  CreateRequest no_command;
  no_command.rootfs = dir_;
  expect_invalid(no_command, "rootfs without a command");
  for (const std::string& name : std::vector<std::string>{"a/b", "..", "-x", std::string(129, 'a'), "a\nb"}) {
    CreateRequest r = Request();
    r.name = name;
    expect_invalid(r, "name " + name);
  }
  CreateRequest network = Request();
  network.network = "bridge";
  expect_invalid(network, "bridge network");
  CreateRequest env = Request();
  env.env = {"=x"};
  expect_invalid(env, "env without a key");
  CreateRequest bind = Request();
  bind.binds = {"relative:/x"};
  expect_invalid(bind, "relative bind source");
  CreateRequest cap = Request();
  cap.cap_add = {"NOT_A_CAP"};
  expect_invalid(cap, "unknown capability");
}

TEST_F(SpecBuilderTest, RootfsRunsTheGivenCommand) {
  CreateRequest r;
  r.rootfs = dir_ + "/store/../store";
  r.command = {"/bin/true"};
  auto built = BuildSandboxSpec(r, *store_);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ(built->spec.lower_dirs, (std::vector<std::string>{dir_ + "/store"}));
  EXPECT_TRUE(built->image_id.empty());
}

}  // namespace
}  // namespace slipway
