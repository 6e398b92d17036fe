// Pull and push between a real image store and a real registry
// (docker-registry on loopback, images put there by skopeo), including the
// failures a registry can inflict: wrong credentials, foreign platforms,
// corrupted storage, and dying in the middle of a transfer.
#include "engine/distribution/distribution.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/base/fs.h"
#include "engine/image/layer_writer.h"
#include "engine/oci/manifest.h"
#include "engine/registry/credentials.h"
#include "tests/engine/distribution/image_test_util.h"
#include "tests/engine/image/image_store_parts.h"
#include "tests/engine/image/test_layers.h"
#include "tests/engine/registry/registry_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TestImage;
using testing::TestRegistry;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Records every progress event of a transfer.
class Phases {
 public:
  TransferOptions Options(int parallelism = 3) {
    TransferOptions o;
    o.parallelism = parallelism;
    o.progress = [this](const Digest& d, const std::string& phase, int64_t, int64_t) {
      std::lock_guard lock(mu_);
      events_.emplace_back(d, phase);
    };
    return o;
  }
  std::set<std::string> Of(const Digest& d) const {
    std::lock_guard lock(mu_);
    std::set<std::string> out;
    for (const auto& [digest, phase] : events_) {
      if (digest == d) out.insert(phase);
    }
    return out;
  }
  std::set<std::string> All() const {
    std::lock_guard lock(mu_);
    std::set<std::string> out;
    for (const auto& e : events_) out.insert(e.second);
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<Digest, std::string>> events_;
};

std::string Join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ",") + x;
  return out;
}

class DistributionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("slipway-distribution");
    store_ = OpenStore("store");
    ASSERT_NE(store_, nullptr);
    // Opened while the store is empty: opening cleans stale ingests and
    // tmp dirs, which must not hide what a test leaves behind.
    parts_ = testing::OpenImageStoreParts(dir_ + "/store");
  }
  void TearDown() override {
    store_.reset();
    parts_ = {};
    registry_.reset();
    for (const auto& d : scratch_) fs::remove_all(d);
    ASSERT_TRUE(RemoveTree(dir_).ok());
  }

  std::unique_ptr<ImageStore> OpenStore(const std::string& name) {
    auto s = ImageStore::Open(dir_ + "/" + name);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  TestRegistry& Registry(testing::TestRegistryOptions options = {}) {
    if (!registry_) registry_ = std::make_unique<TestRegistry>(options);
    return *registry_;
  }
  std::string Host() { return Registry().host(); }

  static RegistryOptions Options(const std::string& credentials_file = "") {
    RegistryOptions o;
    o.retries = 1;
    o.retry_backoff = std::chrono::milliseconds(50);
    o.timeout = std::chrono::seconds(10);
    o.credentials_file = credentials_file;
    return o;
  }

  // TestImage::Busybox pushed by skopeo to HOST/<repo_tag>.
  TestImage PushBusybox(const std::string& repo_tag, const std::string& arch = "amd64",
                        const std::string& creds = "") {
    TestImage image = TestImage::Busybox(arch);
    scratch_.push_back(image.layout_dir);
    testing::SkopeoPush(image, Host() + "/" + repo_tag, "", creds);
    return image;
  }

  // An OCI layout pushed by skopeo to HOST/<repo_tag>.
  testing::OciLayout PushLayout(const testing::OciImageSpec& spec, const std::string& repo_tag) {
    testing::OciLayout layout = testing::WriteOciLayout(spec);
    scratch_.push_back(layout.dir);
    testing::SkopeoPushLayout(layout, spec.ref_name, Host() + "/" + repo_tag);
    return layout;
  }

  // The blobs of `layout` put into `store` and committed as `name`.
  ImageRecord AddToStore(ImageStore& store, const testing::OciLayout& layout, const std::string& name) {
    for (const auto& e : fs::directory_iterator(layout.dir + "/blobs/sha256")) {
      auto d = store.PutBlob(testing::ReadTestFile(e.path()));
      EXPECT_TRUE(d.ok()) << d.status().message();
    }
    auto image = store.Commit(layout.manifest_digest, name);
    EXPECT_TRUE(image.ok()) << image.status().message();
    return image.ok() ? *image : ImageRecord();
  }

  ImageRecord ImportBusybox(const std::string& name) {
    auto image = ImportRootfsTar(*store_, testing::BusyboxTarPath(), name);
    EXPECT_TRUE(image.ok()) << image.status().message();
    return image.ok() ? *image : ImageRecord();
  }

  std::vector<ImageRecord> Images(ImageStore& s) {
    auto list = s.List();
    EXPECT_TRUE(list.ok());
    return list.ok() ? *list : std::vector<ImageRecord>{};
  }

  // The store holds no image, no snapshot, no half-written blob, and every
  // blob it has matches its digest.
  void ExpectNoImageAndConsistent(ImageStore& s) {
    EXPECT_TRUE(Images(s).empty());
    EXPECT_TRUE(parts_.snapshots->List().empty());
    for (const Digest& d : parts_.content->List()) EXPECT_TRUE(parts_.content->Verify(d).ok()) << d.str();
    std::vector<std::string> ingest;
    for (const auto& e : fs::directory_iterator(dir_ + "/store/content/ingest")) ingest.push_back(e.path());
    EXPECT_TRUE(ingest.empty()) << ingest.size() << " ingest files left";
    std::vector<std::string> snapshots;
    for (const auto& e : fs::directory_iterator(dir_ + "/store/snapshots")) snapshots.push_back(e.path());
    EXPECT_TRUE(snapshots.empty()) << snapshots.size() << " entries in snapshots/";
  }

  // Runs `argv` on `image`; returns stdout (fails the test on errors).
  std::string RunImage(ImageStore& store, const ImageRecord& image, const std::vector<std::string>& argv) {
    auto dirs = store.LowerDirs(image);
    EXPECT_TRUE(dirs.ok()) << dirs.status().message();
    if (!dirs.ok()) return "";
    testing::TestRuntime runtime;
    EXPECT_TRUE(runtime.ok()) << runtime.open_error();
    auto run = runtime.Run(*dirs, argv);
    EXPECT_TRUE(run.error.empty()) << run.error;
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return run.out;
  }

  // `size` pseudo-random (incompressible) bytes, the same for the same seed.
  std::string RandomBytes(size_t size, unsigned seed) {
    std::string path = testing::WriteRandomFile(size, seed);
    scratch_.push_back(fs::path(path).parent_path());
    return testing::ReadTestFile(path);
  }

  std::string WriteCredentials(const std::string& user, const std::string& password) {
    std::string path = dir_ + "/auth.json";
    json doc = {{"auths", {{Host(), {{"auth", Base64Encode(user + ":" + password)}}}}}};
    testing::WriteBytes(path, doc.dump());
    return path;
  }

  std::string dir_;
  std::unique_ptr<ImageStore> store_;
  testing::ImageStoreParts parts_;  // store_'s parts, to look behind its methods
  std::unique_ptr<TestRegistry> registry_;
  std::vector<std::string> scratch_;
};

// --- Pull -----------------------------------------------------------------------

TEST_F(DistributionTest, PullRecordsTheImageAndItsBlobs) {
  TestImage pushed = PushBusybox("test/busybox:1");
  RegistryClient client(Options());
  auto image = Pull(*store_, client, Host() + "/test/busybox:1");
  ASSERT_TRUE(image.ok()) << image.status().message();
  EXPECT_EQ(image->id, pushed.manifest.config.digest);
  EXPECT_EQ(image->manifest_digest, pushed.manifest_digest);
  EXPECT_EQ(image->tags, std::vector<std::string>{Host() + "/test/busybox:1"});
  ASSERT_EQ(image->layers.size(), 1u);
  EXPECT_EQ(image->layers[0].blob, pushed.manifest.layers[0].digest);
  EXPECT_EQ(*store_->ManifestBody(*image), pushed.manifest_json);
  for (const Digest& d : {pushed.manifest_digest, pushed.manifest.config.digest, pushed.manifest.layers[0].digest}) {
    EXPECT_TRUE(store_->HasBlob(d)) << d.str();
    EXPECT_TRUE(parts_.content->Verify(d).ok()) << d.str();
  }
}

TEST_F(DistributionTest, PulledImageRunsInASandbox) {
  PushBusybox("test/busybox:1");
  RegistryClient client(Options());
  auto image = Pull(*store_, client, Host() + "/test/busybox:1");
  ASSERT_TRUE(image.ok()) << image.status().message();
  EXPECT_EQ(RunImage(*store_, *image, {"sh", "-c", "echo pulled-and-running; ls /bin/busybox"}),
            "pulled-and-running\n/bin/busybox\n");
}

TEST_F(DistributionTest, PullByDigest) {
  TestImage pushed = PushBusybox("test/busybox:1");
  RegistryClient client(Options());
  std::string ref = Host() + "/test/busybox@" + pushed.manifest_digest.str();
  auto image = Pull(*store_, client, ref);
  ASSERT_TRUE(image.ok()) << image.status().message();
  EXPECT_EQ(image->manifest_digest, pushed.manifest_digest);
  EXPECT_EQ(image->id, pushed.manifest.config.digest);
  auto resolved = store_->Resolve(ref);
  ASSERT_TRUE(resolved.ok()) << resolved.status().message();
  EXPECT_EQ(resolved->id, image->id);
}

TEST_F(DistributionTest, PullByAWrongDigestFails) {
  PushBusybox("test/busybox:1");
  RegistryClient client(Options());
  auto image = Pull(*store_, client, Host() + "/test/busybox@" + Digest::Of("nothing").str());
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kNotFound) << image.status().message();
  ExpectNoImageAndConsistent(*store_);
  EXPECT_TRUE(parts_.content->List().empty());
}

TEST_F(DistributionTest, PullingAgainIsANoOp) {
  TestImage pushed = PushBusybox("test/busybox:1");
  {
    RegistryClient client(Options());
    ASSERT_TRUE(Pull(*store_, client, Host() + "/test/busybox:1").ok());
  }
  Phases phases;
  RegistryClient client(Options());
  auto again = Pull(*store_, client, Host() + "/test/busybox:1", phases.Options());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(phases.Of(pushed.manifest.layers[0].digest), std::set<std::string>{"exists"});
  EXPECT_EQ(phases.Of(pushed.manifest.config.digest), std::set<std::string>{"exists"});
  EXPECT_EQ(phases.All(), std::set<std::string>{"exists"});
  // Only the manifest crossed the wire.
  EXPECT_EQ(client.bytes_pulled(), static_cast<int64_t>(pushed.manifest_json.size()));
  EXPECT_EQ(Images(*store_).size(), 1u);
}

TEST_F(DistributionTest, FirstPullReportsDownloadingUnpackingDone) {
  TestImage pushed = PushBusybox("test/busybox:1");
  Phases phases;
  RegistryClient client(Options());
  ASSERT_TRUE(Pull(*store_, client, Host() + "/test/busybox:1", phases.Options()).ok());
  EXPECT_EQ(phases.Of(pushed.manifest.layers[0].digest),
            (std::set<std::string>{"downloading", "unpacking", "done"}));
}

TEST_F(DistributionTest, PullOfAMissingTagIsNotFoundAndStoresNothing) {
  PushBusybox("test/busybox:1");
  RegistryClient client(Options());
  auto image = Pull(*store_, client, Host() + "/test/busybox:nope");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kNotFound) << image.status().message();
  EXPECT_TRUE(Contains(image.status().message(), "busybox:nope")) << image.status().message();
  EXPECT_TRUE(parts_.content->List().empty());
  ExpectNoImageAndConsistent(*store_);
}

TEST_F(DistributionTest, PullOfAMultiPlatformIndexPicksAmd64) {
  TestImage amd = PushBusybox("test/multi:amd64", "amd64");
  TestImage arm = PushBusybox("test/multi:arm64", "arm64");
  Index index;
  for (const TestImage* i : {&arm, &amd}) {
    Descriptor d = DescribeContent(media_type::kOciManifest, i->manifest_json);
    d.os = "linux";
    d.architecture = i == &arm ? "arm64" : "amd64";
    index.manifests.push_back(d);
  }
  RegistryClient client(Options());
  ASSERT_TRUE(client.PutManifest(Registry().Ref("test/multi:both"), "both", media_type::kOciIndex,
                                 SerializeIndex(index))
                  .ok());
  auto image = Pull(*store_, client, Host() + "/test/multi:both");
  ASSERT_TRUE(image.ok()) << image.status().message();
  EXPECT_EQ(image->id, amd.manifest.config.digest);
  EXPECT_EQ(image->manifest_digest, amd.manifest_digest);
}

TEST_F(DistributionTest, PullOfAnArm64OnlyIndexFailsNamingThePlatforms) {
  TestImage arm = PushBusybox("test/arm:manifest", "arm64");
  Index index;
  Descriptor d = DescribeContent(media_type::kOciManifest, arm.manifest_json);
  d.os = "linux";
  d.architecture = "arm64";
  index.manifests.push_back(d);
  RegistryClient client(Options());
  ASSERT_TRUE(
      client.PutManifest(Registry().Ref("test/arm:1"), "1", media_type::kOciIndex, SerializeIndex(index)).ok());
  auto image = Pull(*store_, client, Host() + "/test/arm:1");
  ASSERT_FALSE(image.ok());
  EXPECT_TRUE(Contains(image.status().message(), "linux/arm64")) << image.status().message();
  EXPECT_TRUE(Contains(image.status().message(), "amd64")) << image.status().message();
  EXPECT_TRUE(parts_.content->List().empty());
  ExpectNoImageAndConsistent(*store_);
}

// A plain manifest (no index) whose config is for another architecture is
// refused too, as Docker does: it could not run here.
TEST_F(DistributionTest, PullOfASingleArm64ManifestFailsNamingThePlatform) {
  PushBusybox("test/arm:plain", "arm64");
  RegistryClient client(Options());
  auto image = Pull(*store_, client, Host() + "/test/arm:plain");
  ASSERT_FALSE(image.ok());
  EXPECT_TRUE(Contains(image.status().message(), "arm64")) << image.status().message();
  EXPECT_TRUE(Contains(image.status().message(), "linux/amd64")) << image.status().message();
  ExpectNoImageAndConsistent(*store_);
  ASSERT_TRUE(store_->Prune().ok());
  EXPECT_TRUE(parts_.content->List().empty());
}

TEST_F(DistributionTest, PullOfADockerSchema2ImageKeepsItsManifest) {
  TestImage image = TestImage::Busybox();
  scratch_.push_back(image.layout_dir);
  testing::SkopeoPush(image, Host() + "/test/docker:1", "v2s2");
  std::string served = testing::Skopeo("inspect --raw --tls-verify=false docker://" + Host() + "/test/docker:1");
  RegistryClient client(Options());
  auto pulled = Pull(*store_, client, Host() + "/test/docker:1");
  ASSERT_TRUE(pulled.ok()) << pulled.status().message();
  EXPECT_EQ(pulled->manifest_media_type, media_type::kDockerManifest);
  EXPECT_EQ(pulled->manifest_digest, Digest::Of(served));
  EXPECT_EQ(RunImage(*store_, *pulled, {"echo", "docker"}), "docker\n");
  // Pushed elsewhere, it is the same manifest, byte for byte.
  auto pushed = Push(*store_, client, Host() + "/test/docker:1", Host() + "/copy/docker:1");
  ASSERT_TRUE(pushed.ok()) << pushed.status().message();
  EXPECT_EQ(testing::Skopeo("inspect --raw --tls-verify=false docker://" + Host() + "/copy/docker:1"), served);
}

TEST_F(DistributionTest, PullOfAZstdLayer) {
  TestImage image = TestImage::Busybox();
  scratch_.push_back(image.layout_dir);
  testing::Skopeo("copy --retry-times 0 --dest-tls-verify=false --dest-compress-format zstd oci:" +
                  image.layout_dir + ":latest docker://" + Host() + "/test/zstd:1");
  json manifest =
      json::parse(testing::Skopeo("inspect --raw --tls-verify=false docker://" + Host() + "/test/zstd:1"));
  ASSERT_EQ(manifest["layers"][0]["mediaType"], media_type::kOciLayerTarZstd) << manifest.dump();
  RegistryClient client(Options());
  auto pulled = Pull(*store_, client, Host() + "/test/zstd:1");
  ASSERT_TRUE(pulled.ok()) << pulled.status().message();
  // Recompressed, the layer blob is another, the image (config) the same.
  EXPECT_EQ(pulled->layers[0].media_type, media_type::kOciLayerTarZstd);
  EXPECT_NE(pulled->layers[0].blob, image.manifest.layers[0].digest);
  EXPECT_EQ(pulled->id, image.manifest.config.digest);
  EXPECT_EQ(RunImage(*store_, *pulled, {"echo", "zstd"}), "zstd\n");
}

// Our own zstd push (WriteOciLayout, skopeo copying it as is), two layers,
// pulled from docker-registry and run.
TEST_F(DistributionTest, PullOfAnImageOfZstdLayersRuns) {
  testing::OciImageSpec spec;
  spec.layer_tars = {testing::BusyboxTar(), testing::RandomFileTar("data.bin", 3 << 20, 5)};
  spec.compress = [](const std::string& tar) { return testing::Compress(tar, testing::Compression::kZstd); };
  spec.layer_media_type = media_type::kOciLayerTarZstd;
  spec.runtime_config = {{"Cmd", {"/bin/sh"}}};
  testing::OciLayout layout = PushLayout(spec, "test/zstd2:1");
  RegistryClient client(Options());
  auto pulled = Pull(*store_, client, Host() + "/test/zstd2:1");
  ASSERT_TRUE(pulled.ok()) << pulled.status().message();
  ASSERT_EQ(pulled->layers.size(), 2u);
  EXPECT_EQ(pulled->layers[1].blob, layout.layer_digests[1]);
  EXPECT_EQ(pulled->layers[1].diff_id, layout.diff_ids[1]);
  EXPECT_EQ(RunImage(*store_, *pulled, {"wc", "-c", "/data.bin"}), std::to_string(3 << 20) + " /data.bin\n");
}

// The same gzip image through igzip and through zlib: both give the
// snapshots the config's diff_ids name (Unpack checks them), and the same
// files.
TEST_F(DistributionTest, PullsWithIgzipAndWithZlibGiveTheSameImage) {
  testing::OciImageSpec spec;
  spec.layer_tars = {testing::BusyboxTar(), testing::RandomFileTar("data.bin", 2 << 20, 6)};
  PushLayout(spec, "test/inflaters:1");
  ASSERT_EQ(::setenv("SLIPWAY_GZIP_INFLATER", "zlib", 1), 0);
  RegistryClient zlib_client(Options());
  auto zlib_store = OpenStore("zlib-store");
  auto by_zlib = Pull(*zlib_store, zlib_client, Host() + "/test/inflaters:1");
  ASSERT_EQ(::unsetenv("SLIPWAY_GZIP_INFLATER"), 0);
  ASSERT_TRUE(by_zlib.ok()) << by_zlib.status().message();
  RegistryClient isal_client(Options());
  auto by_isal = Pull(*store_, isal_client, Host() + "/test/inflaters:1");
  ASSERT_TRUE(by_isal.ok()) << by_isal.status().message();
  EXPECT_EQ(by_isal->id, by_zlib->id);
  EXPECT_EQ(RunImage(*store_, *by_isal, {"md5sum", "/data.bin"}),
            RunImage(*zlib_store, *by_zlib, {"md5sum", "/data.bin"}));
}

// A layer whose blob has the digest the manifest names, but whose gzip or
// zstd stream is cut short or corrupt: refused, the error names the layer
// and what is wrong, and neither an image nor a snapshot is recorded.
TEST_F(DistributionTest, ACorruptCompressedLayerIsRefusedAndNothingRecorded) {
  struct Case {
    std::string name, media_type, want;
    std::function<std::string(const std::string&)> compress;
  };
  const std::vector<Case> cases = {
      {"truncated-gzip", media_type::kOciLayerTarGzip, "gzip: truncated input",
       [](const std::string& tar) {
         std::string gz = testing::Gzip(tar);
         return gz.substr(0, gz.size() * 2 / 3);
       }},
      {"bad-crc-gzip", media_type::kOciLayerTarGzip, "gzip: corrupt data",
       [](const std::string& tar) {
         std::string gz = testing::Gzip(tar);
         gz[gz.size() - 6] = static_cast<char>(gz[gz.size() - 6] ^ 1);
         return gz;
       }},
      {"truncated-zstd", media_type::kOciLayerTarZstd, "zstd: truncated input",
       [](const std::string& tar) {
         std::string z = testing::Compress(tar, testing::Compression::kZstd);
         return z.substr(0, z.size() - 5);
       }},
  };
  for (const Case& c : cases) {
    for (const char* inflater : {"isal", "zlib"}) {
      SCOPED_TRACE(c.name + " " + inflater);
      testing::OciImageSpec spec;
      spec.layer_tars = {testing::RandomFileTar("data.bin", 1 << 20, 7)};
      spec.compress = c.compress;
      spec.layer_media_type = c.media_type;
      testing::OciLayout layout = PushLayout(spec, "test/" + c.name + ":1");
      ASSERT_EQ(::setenv("SLIPWAY_GZIP_INFLATER", inflater, 1), 0);
      RegistryClient client(Options());
      auto pulled = Pull(*store_, client, Host() + "/test/" + c.name + ":1");
      ASSERT_EQ(::unsetenv("SLIPWAY_GZIP_INFLATER"), 0);
      ASSERT_FALSE(pulled.ok());
      const std::string& why = pulled.status().message();
      EXPECT_TRUE(Contains(why, "unpack layer " + layout.layer_digests[0].str())) << why;
      EXPECT_TRUE(Contains(why, c.want)) << why;
      ExpectNoImageAndConsistent(*store_);
    }
  }
}

// Two processes pulling the same image into one store at once: both succeed,
// and the store ends up with one image, one snapshot and intact blobs.
TEST_F(DistributionTest, ConcurrentPullsIntoOneStore) {
  testing::OciImageSpec spec;
  spec.layer_tars = {testing::BusyboxTar(), testing::RandomFileTar("data.bin", 4 << 20, 3)};
  testing::OciLayout layout = PushLayout(spec, "test/concurrent:1");
  std::string ref = Host() + "/test/concurrent:1";
  std::string root = dir_ + "/store";
  std::vector<pid_t> children;
  for (int i = 0; i < 3; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto store = ImageStore::Open(root);
      if (!store.ok()) ::_exit(1);
      RegistryClient client(Options());
      auto image = Pull(**store, client, ref);
      if (!image.ok()) {
        std::fprintf(stderr, "pull %d: %s\n", i, image.status().message().c_str());
        ::_exit(2);
      }
      ::_exit(image->manifest_digest == layout.manifest_digest ? 0 : 3);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
  ASSERT_EQ(Images(*store_).size(), 1u);
  EXPECT_EQ(parts_.snapshots->List().size(), 2u);
  for (const Digest& d : parts_.content->List()) EXPECT_TRUE(parts_.content->Verify(d).ok()) << d.str();
  auto image = store_->Resolve(ref);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(RunImage(*store_, *image, {"sh", "-c", "wc -c < /data.bin"}), std::to_string(4 << 20) + "\n");
}

// --- Auth -------------------------------------------------------------------------

TEST_F(DistributionTest, PullWithTheRightCredentialsWorks) {
  Registry({.user = "alice", .password = "s3cret"});
  TestImage pushed = PushBusybox("test/private:1", "amd64", "alice:s3cret");
  RegistryClient client(Options(WriteCredentials("alice", "s3cret")));
  auto image = Pull(*store_, client, Host() + "/test/private:1");
  ASSERT_TRUE(image.ok()) << image.status().message();
  EXPECT_EQ(image->id, pushed.manifest.config.digest);
}

TEST_F(DistributionTest, PullWithWrongCredentialsIsUnauthenticated) {
  Registry({.user = "alice", .password = "s3cret"});
  PushBusybox("test/private:1", "amd64", "alice:s3cret");
  RegistryClient client(Options(WriteCredentials("alice", "wrong-password")));
  auto image = Pull(*store_, client, Host() + "/test/private:1");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kUnauthenticated) << image.status().message();
  EXPECT_FALSE(Contains(image.status().message(), "wrong-password")) << image.status().message();
  EXPECT_TRUE(parts_.content->List().empty());
  ExpectNoImageAndConsistent(*store_);
}

TEST_F(DistributionTest, PullWithoutCredentialsFromAPrivateRegistryIsUnauthenticated) {
  Registry({.user = "alice", .password = "s3cret"});
  PushBusybox("test/private:1", "amd64", "alice:s3cret");
  RegistryClient client(Options());
  auto image = Pull(*store_, client, Host() + "/test/private:1");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kUnauthenticated) << image.status().message();
  ExpectNoImageAndConsistent(*store_);
}

TEST_F(DistributionTest, PushWithWrongCredentialsIsUnauthenticatedAndCreatesNoTag) {
  Registry({.user = "alice", .password = "s3cret"});
  ImportBusybox(Host() + "/test/private:1");
  RegistryClient client(Options(WriteCredentials("alice", "nope")));
  auto pushed = Push(*store_, client, Host() + "/test/private:1");
  ASSERT_FALSE(pushed.ok());
  EXPECT_EQ(pushed.status().code(), Code::kUnauthenticated) << pushed.status().message();
  RegistryClient good(Options(WriteCredentials("alice", "s3cret")));
  auto manifest = good.GetManifest(Registry().Ref("test/private:1"));
  EXPECT_EQ(manifest.status().code(), Code::kNotFound) << manifest.status().message();
}

// --- Push -------------------------------------------------------------------------

TEST_F(DistributionTest, PushOfAnImportedImageServesTheSameManifest) {
  ImageRecord image = ImportBusybox(Host() + "/test/imported:1");
  RegistryClient client(Options());
  auto digest = Push(*store_, client, Host() + "/test/imported:1");
  ASSERT_TRUE(digest.ok()) << digest.status().message();
  EXPECT_EQ(*digest, image.manifest_digest);
  json inspect = json::parse(testing::Skopeo("inspect --tls-verify=false docker://" + Host() + "/test/imported:1"));
  EXPECT_EQ(inspect["Digest"], image.manifest_digest.str());
  std::string raw = testing::Skopeo("inspect --raw --tls-verify=false docker://" + Host() + "/test/imported:1");
  EXPECT_EQ(raw, *store_->ManifestBody(image));
  std::string config =
      testing::Skopeo("inspect --config --raw --tls-verify=false docker://" + Host() + "/test/imported:1");
  EXPECT_EQ(Digest::Of(config), image.id);
}

TEST_F(DistributionTest, PushToAnotherNameUsesTheTarget) {
  ImageRecord image = ImportBusybox("busybox:local");
  RegistryClient client(Options());
  auto digest = Push(*store_, client, "busybox:local", Host() + "/elsewhere/bb:7");
  ASSERT_TRUE(digest.ok()) << digest.status().message();
  json inspect = json::parse(testing::Skopeo("inspect --tls-verify=false docker://" + Host() + "/elsewhere/bb:7"));
  EXPECT_EQ(inspect["Digest"], image.manifest_digest.str());
}

TEST_F(DistributionTest, PushedImagePullsIntoAnotherStoreAndRuns) {
  ImageRecord image = ImportBusybox(Host() + "/test/roundtrip:1");
  RegistryClient client(Options());
  ASSERT_TRUE(Push(*store_, client, Host() + "/test/roundtrip:1").ok());
  auto other = OpenStore("other");
  auto pulled = Pull(*other, client, Host() + "/test/roundtrip:1");
  ASSERT_TRUE(pulled.ok()) << pulled.status().message();
  EXPECT_EQ(pulled->id, image.id);
  EXPECT_EQ(pulled->manifest_digest, image.manifest_digest);
  EXPECT_EQ(RunImage(*other, *pulled, {"echo", "round", "trip"}), "round trip\n");
}

TEST_F(DistributionTest, PushToASecondRepositoryMountsTheBlobs) {
  ImageRecord image = ImportBusybox(Host() + "/first/img:1");
  RegistryClient client(Options());
  ASSERT_TRUE(Push(*store_, client, Host() + "/first/img:1").ok());
  ASSERT_TRUE(store_->Tag(Host() + "/first/img:1", Host() + "/second/img:1").ok());
  Phases phases;
  auto digest = Push(*store_, client, Host() + "/second/img:1", "", phases.Options());
  ASSERT_TRUE(digest.ok()) << digest.status().message();
  EXPECT_EQ(phases.Of(image.layers[0].blob), std::set<std::string>{"mounted"})
      << Join(phases.Of(image.layers[0].blob));
  EXPECT_EQ(phases.Of(image.id), std::set<std::string>{"mounted"}) << Join(phases.Of(image.id));
  EXPECT_EQ(phases.All().count("uploading"), 0u);
  json inspect = json::parse(testing::Skopeo("inspect --tls-verify=false docker://" + Host() + "/second/img:1"));
  EXPECT_EQ(inspect["Digest"], image.manifest_digest.str());
}

TEST_F(DistributionTest, PushAgainFindsEveryBlobThere) {
  ImageRecord image = ImportBusybox(Host() + "/test/again:1");
  RegistryClient client(Options());
  ASSERT_TRUE(Push(*store_, client, Host() + "/test/again:1").ok());
  Phases phases;
  ASSERT_TRUE(Push(*store_, client, Host() + "/test/again:1", "", phases.Options()).ok());
  EXPECT_EQ(phases.All(), std::set<std::string>{"exists"});
}

TEST_F(DistributionTest, PushOfAnUnknownImageIsNotFound) {
  RegistryClient client(Options());
  auto digest = Push(*store_, client, Host() + "/test/ghost:1");
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.status().code(), Code::kNotFound) << digest.status().message();
}

// --- A registry misbehaving ---------------------------------------------------------

TEST_F(DistributionTest, CorruptedBlobInTheRegistryFailsThePullAndRepairedDataWorks) {
  TestImage pushed = PushBusybox("test/busybox:1");
  const Digest layer = pushed.manifest.layers[0].digest;
  std::string path = Registry().BlobDataPath(layer);
  std::string original = testing::ReadTestFile(path);
  std::string corrupted = original;
  for (size_t i = corrupted.size() / 2; i < corrupted.size() / 2 + 64; ++i) corrupted[i] ^= 0x5a;
  testing::WriteBytes(path, corrupted);

  RegistryClient client(Options());
  auto image = Pull(*store_, client, Host() + "/test/busybox:1");
  ASSERT_FALSE(image.ok());
  EXPECT_TRUE(Contains(image.status().message(), layer.str())) << image.status().message();
  // Checked once, by the content store's writer, as the blob is committed.
  EXPECT_TRUE(Contains(image.status().message(), "digest mismatch")) << image.status().message();
  EXPECT_FALSE(store_->HasBlob(layer));
  EXPECT_FALSE(store_->HasBlob(Digest::Of(corrupted)));
  ExpectNoImageAndConsistent(*store_);

  testing::WriteBytes(path, original);
  Registry().Restart();
  RegistryClient again(Options());
  auto repaired = Pull(*store_, again, Host() + "/test/busybox:1");
  ASSERT_TRUE(repaired.ok()) << repaired.status().message();
  EXPECT_TRUE(parts_.content->Verify(layer).ok());
  EXPECT_EQ(RunImage(*store_, *repaired, {"echo", "repaired"}), "repaired\n");
}

TEST_F(DistributionTest, RegistryKilledMidPullRecordsNoImage) {
  testing::OciImageSpec spec;
  spec.layer_tars = {testing::RandomFileTar("big.bin", 24 << 20, 1)};
  testing::OciLayout layout = PushLayout(spec, "test/big:1");
  const Digest big = layout.layer_digests[0];

  RegistryClient client(Options());
  std::atomic<bool> killed{false};
  client.set_progress([&](const Digest& d, int64_t done, int64_t total) {
    if (d == big && done > 0 && done < total && !killed.exchange(true)) Registry().Kill();
  });
  auto image = Pull(*store_, client, Host() + "/test/big:1");
  ASSERT_TRUE(killed) << "the registry was never killed";
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kUnavailable) << image.status().message();
  EXPECT_TRUE(Contains(image.status().message(), Host())) << image.status().message();
  EXPECT_FALSE(store_->HasBlob(big));
  ExpectNoImageAndConsistent(*store_);

  // Back up: the same store pulls the image whole.
  Registry().Restart();
  RegistryClient again(Options());
  auto pulled = Pull(*store_, again, Host() + "/test/big:1");
  ASSERT_TRUE(pulled.ok()) << pulled.status().message();
  EXPECT_TRUE(parts_.content->Verify(big).ok());
}

TEST_F(DistributionTest, RegistryKilledMidPushLeavesNoTag) {
  testing::OciImageSpec spec;
  spec.layer_tars = {testing::BusyboxTar(), testing::RandomFileTar("big.bin", 24 << 20, 2)};
  testing::OciLayout layout = testing::WriteOciLayout(spec);
  scratch_.push_back(layout.dir);
  AddToStore(*store_, layout, Host() + "/test/bigpush:1");
  const Digest big = layout.layer_digests[1];

  RegistryClient client(Options());
  std::atomic<bool> killed{false};
  client.set_progress([&](const Digest& d, int64_t done, int64_t total) {
    if (d == big && done > 0 && done < total && !killed.exchange(true)) Registry().Kill();
  });
  auto digest = Push(*store_, client, Host() + "/test/bigpush:1");
  ASSERT_TRUE(killed) << "the registry was never killed";
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.status().code(), Code::kUnavailable) << digest.status().message();

  Registry().Restart();
  RegistryClient again(Options());
  auto manifest = again.GetManifest(Registry().Ref("test/bigpush:1"));
  EXPECT_EQ(manifest.status().code(), Code::kNotFound) << manifest.status().message();
  // The local image is untouched, and a new push completes.
  ASSERT_TRUE(store_->Resolve(Host() + "/test/bigpush:1").ok());
  auto retried = Push(*store_, again, Host() + "/test/bigpush:1");
  ASSERT_TRUE(retried.ok()) << retried.status().message();
  EXPECT_EQ(*retried, layout.manifest_digest);
}

// --- Layers unpacked while they download ----------------------------------------

// The layer's first file is extracted while the rest of the blob has not
// arrived: the download is held at 4 MiB of 10 until a.bin (1 MiB, the first
// entry) is complete in the snapshot's tmp dir. A pull that unpacked only
// whole blobs would never get there.
TEST_F(DistributionTest, ALayerIsUnpackedWhileItDownloads) {
  testing::OciImageSpec spec;
  spec.layer_tars = {testing::MakeTar(
      {testing::File("a.bin", RandomBytes(1 << 20, 1)), testing::File("b.bin", RandomBytes(9 << 20, 2))})};
  testing::OciLayout layout = PushLayout(spec, "test/streamed:1");
  const Digest layer = layout.layer_digests[0];
  const std::string snapshots = dir_ + "/store/snapshots";

  RegistryClient client(Options());
  std::atomic<bool> held{false}, seen{false};
  client.set_progress([&](const Digest& d, int64_t done, int64_t) {
    if (d != layer || done < (4 << 20) || held.exchange(true)) return;
    for (int i = 0; i < 2000 && !seen; ++i) {
      for (const auto& e : fs::directory_iterator(snapshots)) {
        std::error_code ec;
        if (e.path().filename().string().starts_with("tmp-") &&
            fs::file_size(e.path() / "a.bin", ec) == (1u << 20) && !ec) {
          seen = true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  auto image = Pull(*store_, client, Host() + "/test/streamed:1");
  ASSERT_TRUE(image.ok()) << image.status().message();
  ASSERT_TRUE(held) << "the download was never held";
  EXPECT_TRUE(seen) << "a.bin was not extracted while the rest of the layer was downloading";
  EXPECT_TRUE(parts_.content->Verify(layer).ok());
  auto dirs = store_->LowerDirs(*image);
  ASSERT_TRUE(dirs.ok()) << dirs.status().message();
  EXPECT_TRUE(testing::ReadTestFile((*dirs)[0] + "/b.bin") == RandomBytes(9 << 20, 2));
}

// The registry serves a blob that is a valid layer, with the right size and
// the right diff_id, but not the digest the manifest names (its gzip
// header's mtime changed). The unpack reads it all as it streams in and its
// diff_id check passes; only the blob's digest stops it, before the
// snapshot takes its name: no snapshot, no blob, the error names the layer.
TEST_F(DistributionTest, AStreamedLayerWithTheWrongDigestLeavesNothing) {
  testing::OciImageSpec spec;
  spec.layer_tars = {testing::MakeTar({testing::File("a.bin", RandomBytes(3 << 20, 3)),
                                       testing::File("etc/hostname", "streamed\n")})};
  testing::OciLayout layout = PushLayout(spec, "test/wrong-digest:1");
  const Digest layer = layout.layer_digests[0];
  std::string path = Registry().BlobDataPath(layer);
  std::string blob = testing::ReadTestFile(path);
  ASSERT_EQ(blob.substr(0, 3), std::string("\x1f\x8b\x08"));
  blob[4] = '\x01';  // MTIME: covered by no checksum of gzip's, only by the digest
  testing::WriteBytes(path, blob);

  RegistryClient client(Options());
  auto image = Pull(*store_, client, Host() + "/test/wrong-digest:1");
  ASSERT_FALSE(image.ok());
  const std::string& why = image.status().message();
  EXPECT_EQ(image.status().code(), Code::kInvalidArgument) << why;
  EXPECT_TRUE(Contains(why, "layer " + layer.str())) << why;
  EXPECT_TRUE(Contains(why, "digest mismatch: expected " + layer.str() + ", got " + Digest::Of(blob).str()))
      << why;
  EXPECT_FALSE(store_->HasBlob(layer));
  ExpectNoImageAndConsistent(*store_);
}

// The registry's copy of the blob is cut short: it sends fewer bytes than
// the manifest's size, then ends the response. The unpack, waiting for the
// rest, fails with the download; nothing is left.
TEST_F(DistributionTest, AStreamedLayerCutShortLeavesNothing) {
  testing::OciImageSpec spec;
  spec.layer_tars = {testing::RandomFileTar("big.bin", 6 << 20, 4)};
  testing::OciLayout layout = PushLayout(spec, "test/cut-short:1");
  const Digest layer = layout.layer_digests[0];
  std::string path = Registry().BlobDataPath(layer);
  std::string blob = testing::ReadTestFile(path);
  testing::WriteBytes(path, blob.substr(0, blob.size() / 2));

  RegistryClient client(Options());
  auto image = Pull(*store_, client, Host() + "/test/cut-short:1");
  ASSERT_FALSE(image.ok());
  const std::string& why = image.status().message();
  EXPECT_TRUE(Contains(why, "layer " + layer.str())) << why;
  EXPECT_TRUE(Contains(why, "got " + std::to_string(blob.size() / 2) + " bytes, expected " +
                                std::to_string(blob.size())))
      << why;
  ExpectNoImageAndConsistent(*store_);
}

// The connection dies in the middle of a layer and the retry starts the blob
// over: what the unpack had read is void, and the layer is unpacked again
// from the blob once it is in. The pull succeeds with the right files.
TEST_F(DistributionTest, ADownloadRetriedMidLayerStillGivesTheRightSnapshot) {
  testing::OciImageSpec spec;
  spec.layer_tars = {testing::BusyboxTar(), testing::RandomFileTar("big.bin", 16 << 20, 5)};
  testing::OciLayout layout = PushLayout(spec, "test/retried:1");
  const Digest big = layout.layer_digests[1];

  RegistryClient client(Options());
  std::atomic<bool> restarted{false};
  client.set_progress([&](const Digest& d, int64_t done, int64_t) {
    if (d == big && done >= (6 << 20) && !restarted.exchange(true)) {
      Registry().Kill();  // the connection dies under the download
      Registry().Restart();
    }
  });
  auto image = Pull(*store_, client, Host() + "/test/retried:1");
  ASSERT_TRUE(restarted) << "the registry was never restarted";
  ASSERT_TRUE(image.ok()) << image.status().message();
  EXPECT_TRUE(parts_.content->Verify(big).ok());
  EXPECT_EQ(parts_.snapshots->List().size(), 2u);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir_ + "/store/snapshots")) {
    if (e.path().filename().string().starts_with("tmp-")) left.push_back(e.path());
  }
  EXPECT_TRUE(left.empty()) << left.size() << " tmp dirs left";
  auto dirs = store_->LowerDirs(*image);
  ASSERT_TRUE(dirs.ok()) << dirs.status().message();
  EXPECT_TRUE(testing::ReadTestFile((*dirs)[0] + "/big.bin") == RandomBytes(16 << 20, 5));
}

TEST_F(DistributionTest, PullFromANonListeningPortIsUnavailable) {
  int port = Registry().port();
  Registry().Kill();
  RegistryClient client(Options());
  auto start = std::chrono::steady_clock::now();
  auto image = Pull(*store_, client, "127.0.0.1:" + std::to_string(port) + "/test/busybox:1");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kUnavailable) << image.status().message();
  EXPECT_TRUE(Contains(image.status().message(), "127.0.0.1:" + std::to_string(port))) << image.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(parts_.content->List().empty());
}

}  // namespace
}  // namespace slipway
