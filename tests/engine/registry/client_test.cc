// RegistryClient against a real docker-registry on loopback, cross-checked
// with skopeo.
#include "engine/registry/client.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/engine/registry/recording_sink.h"
#include "tests/engine/registry/registry_fixture.h"

namespace slipway {
namespace {

using namespace std::chrono_literals;
using testing::Skopeo;
using testing::TestImage;
using testing::TestRegistry;

using testing::RecordingSink;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

RegistryOptions FastOptions() {
  RegistryOptions o;
  o.retries = 2;
  o.retry_backoff = 20ms;
  o.timeout = 10s;
  return o;
}

// Blobs first, manifest last: a failed push leaves no tag behind.
Status PushImage(RegistryClient& client, const Reference& ref, const TestImage& image) {
  SLIPWAY_RETURN_IF_ERROR(client.PushBlob(ref, image.manifest.config, image.config_path));
  for (size_t i = 0; i < image.layer_paths.size(); ++i) {
    SLIPWAY_RETURN_IF_ERROR(client.PushBlob(ref, image.manifest.layers[i], image.layer_paths[i]));
  }
  return client.PutManifest(ref, ref.tag, image.manifest.media_type, image.manifest_json);
}

// One registry for the suite, holding test/busybox:1 as skopeo pushed it.
class RegistryClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = new TestRegistry();
    image_ = new TestImage(TestImage::Busybox());
    testing::SkopeoPush(*image_, registry_->host() + "/test/busybox:1");
  }
  static void TearDownTestSuite() {
    delete image_;
    delete registry_;
  }
  static std::string Docker(const std::string& name) { return "docker://" + registry_->host() + "/" + name; }

  static TestRegistry* registry_;
  static TestImage* image_;
};

TestRegistry* RegistryClientTest::registry_ = nullptr;
TestImage* RegistryClientTest::image_ = nullptr;

TEST_F(RegistryClientTest, Ping) {
  RegistryClient client(FastOptions());
  Status s = client.Ping(registry_->host());
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST_F(RegistryClientTest, PullsWhatSkopeoPushed) {
  RegistryClient client(FastOptions());
  std::vector<std::pair<Digest, int64_t>> progress;
  client.set_progress([&](const Digest& d, int64_t done, int64_t total) {
    EXPECT_LE(done, total);
    progress.emplace_back(d, done);
  });
  std::optional<FetchedManifest> index;
  auto fetched = client.GetManifest(registry_->Ref("test/busybox:1"), &index);
  ASSERT_TRUE(fetched.ok()) << fetched.status().message();
  EXPECT_FALSE(index.has_value());
  EXPECT_EQ(fetched->media_type, media_type::kOciManifest);
  EXPECT_EQ(fetched->body, Skopeo("inspect --raw --tls-verify=false " + Docker("test/busybox:1")));
  EXPECT_EQ(fetched->digest.str(),
            Trim(Skopeo("inspect --format '{{.Digest}}' --tls-verify=false " + Docker("test/busybox:1"))));
  EXPECT_EQ(fetched->digest, image_->manifest_digest);

  auto manifest = ParseManifest(fetched->body, fetched->media_type);
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  RecordingSink config;
  Status s = client.FetchBlob(registry_->Ref("test/busybox"), manifest->config, config);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(config.data, Skopeo("inspect --config --raw --tls-verify=false " + Docker("test/busybox:1")));
  EXPECT_EQ(config.resets, 0);

  ASSERT_EQ(manifest->layers.size(), 1u);
  RecordingSink layer;
  s = client.FetchBlob(registry_->Ref("test/busybox"), manifest->layers[0], layer);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Digest::Of(layer.data), manifest->layers[0].digest);
  EXPECT_EQ(layer.data, ReadAll(image_->layer_paths[0]));
  int64_t blob_bytes = manifest->config.size + manifest->layers[0].size;
  EXPECT_EQ(client.bytes_pulled(), blob_bytes + static_cast<int64_t>(fetched->body.size()));
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().first, manifest->layers[0].digest);
  EXPECT_EQ(progress.back().second, manifest->layers[0].size);
}

TEST_F(RegistryClientTest, PullsByDigest) {
  RegistryClient client(FastOptions());
  std::string digest = image_->manifest_digest.str();
  auto by_ref = client.GetManifest(registry_->Ref("test/busybox@" + digest));
  ASSERT_TRUE(by_ref.ok()) << by_ref.status().message();
  EXPECT_EQ(by_ref->body, image_->manifest_json);
  auto raw = client.GetManifestByDigest(registry_->Ref("test/busybox"), image_->manifest_digest);
  ASSERT_TRUE(raw.ok()) << raw.status().message();
  EXPECT_EQ(raw->body, image_->manifest_json);
  // A tag beside the digest is ignored: the digest decides.
  auto both = client.GetManifest(registry_->Ref("test/busybox:nonexistent@" + digest));
  EXPECT_TRUE(both.ok()) << both.status().message();
}

TEST_F(RegistryClientTest, PullsDockerSchema2) {
  testing::SkopeoPush(*image_, registry_->host() + "/test/busybox:v2s2", "v2s2");
  RegistryClient client(FastOptions());
  auto fetched = client.GetManifest(registry_->Ref("test/busybox:v2s2"));
  ASSERT_TRUE(fetched.ok()) << fetched.status().message();
  EXPECT_EQ(fetched->media_type, media_type::kDockerManifest);
  EXPECT_EQ(fetched->digest.str(),
            Trim(Skopeo("inspect --format '{{.Digest}}' --tls-verify=false " + Docker("test/busybox:v2s2"))));
  auto manifest = ParseManifest(fetched->body, fetched->media_type);
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  EXPECT_EQ(manifest->config.media_type, media_type::kDockerConfig);
  EXPECT_EQ(manifest->layers[0].media_type, media_type::kDockerLayerGzip);
  RecordingSink config;
  Status s = client.FetchBlob(registry_->Ref("test/busybox"), manifest->config, config);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(config.data, Skopeo("inspect --config --raw --tls-verify=false " + Docker("test/busybox:v2s2")));
}

TEST_F(RegistryClientTest, MissingThingsAreNotFound) {
  RegistryClient client(FastOptions());
  auto tag = client.GetManifest(registry_->Ref("test/busybox:nope"));
  EXPECT_EQ(tag.status().code(), Code::kNotFound);
  EXPECT_NE(tag.status().message().find("404 Not Found: MANIFEST_UNKNOWN"), std::string::npos)
      << tag.status().message();
  auto repo = client.GetManifest(registry_->Ref("test/nothing-here:1"));
  EXPECT_EQ(repo.status().code(), Code::kNotFound) << repo.status().message();
  RecordingSink sink;
  Descriptor missing = DescribeContent(media_type::kOciLayerTarGzip, "not pushed");
  Status blob = client.FetchBlob(registry_->Ref("test/busybox"), missing, sink);
  EXPECT_EQ(blob.code(), Code::kNotFound) << blob.message();
  EXPECT_NE(blob.message().find("BLOB_UNKNOWN"), std::string::npos) << blob.message();
  EXPECT_FALSE(client.HasBlob(registry_->Ref("test/busybox"), missing.digest).value());
}

TEST_F(RegistryClientTest, PushesMonolithicAndChunkedThenManifestLast) {
  RegistryOptions options = FastOptions();
  options.chunk_size = 256 << 10;  // the ~1 MB busybox layer goes in chunks, the config in one PUT
  RegistryClient client(options);
  TestImage image = TestImage::Busybox();
  ASSERT_GT(image.manifest.layers[0].size, 3 * static_cast<int64_t>(options.chunk_size));
  Reference ref = registry_->Ref("test/pushed:v1");
  EXPECT_FALSE(client.HasBlob(ref, image.manifest.layers[0].digest).value());

  size_t patches_before = 0;
  for (size_t at = 0; (at = registry_->Log().find("\"PATCH /v2/test/pushed/", at)) != std::string::npos;
       ++at) {
    ++patches_before;
  }
  Status s = PushImage(client, ref, image);
  ASSERT_TRUE(s.ok()) << s.message();
  int64_t blobs = image.manifest.config.size + image.manifest.layers[0].size;
  EXPECT_EQ(client.bytes_pushed(), blobs + static_cast<int64_t>(image.manifest_json.size()));
  size_t patches = 0;
  std::string log = registry_->Log();
  for (size_t at = 0; (at = log.find("\"PATCH /v2/test/pushed/", at)) != std::string::npos; ++at) ++patches;
  size_t want = (image.manifest.layers[0].size + options.chunk_size - 1) / options.chunk_size;
  EXPECT_EQ(patches - patches_before, want) << log;

  EXPECT_EQ(Skopeo("inspect --raw --tls-verify=false " + Docker("test/pushed:v1")), image.manifest_json);
  EXPECT_EQ(Trim(Skopeo("inspect --format '{{.Digest}}' --tls-verify=false " + Docker("test/pushed:v1"))),
            image.manifest_digest.str());
  EXPECT_EQ(Skopeo("inspect --config --raw --tls-verify=false " + Docker("test/pushed:v1")),
            image.config_json);
  EXPECT_TRUE(client.HasBlob(ref, image.manifest.layers[0].digest).value());

  // Again: the blobs are there, only the manifest goes.
  int64_t before = client.bytes_pushed();
  s = PushImage(client, registry_->Ref("test/pushed:v2"), image);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(client.bytes_pushed() - before, static_cast<int64_t>(image.manifest_json.size()));

  // And by digest.
  s = client.PutManifest(ref, image.manifest_digest.str(), media_type::kOciManifest, image.manifest_json);
  EXPECT_TRUE(s.ok()) << s.message();
  s = client.PutManifest(ref, image.manifest_digest.str(), media_type::kOciManifest,
                         image.manifest_json + " ");
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.message();
}

TEST_F(RegistryClientTest, PushesARandomBlobInChunksAndReadsItBack) {
  RegistryOptions options = FastOptions();
  options.chunk_size = 100000;  // not a divisor: the last chunk is short
  RegistryClient client(options);
  std::string path = testing::WriteRandomFile(1 << 20, 7);
  Descriptor d = DescribeContent(media_type::kOciLayerTar, ReadAll(path));
  int64_t last = 0;
  bool monotonic = true;
  client.set_progress([&](const Digest& digest, int64_t done, int64_t total) {
    if (digest != d.digest || total != d.size) return;
    monotonic = monotonic && done >= last;
    last = done;
  });
  Reference ref = registry_->Ref("test/random");
  Status s = client.PushBlob(ref, d, path);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(monotonic);
  EXPECT_EQ(last, d.size);
  RecordingSink sink;
  s = client.FetchBlob(ref, d, sink);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Digest::Of(sink.data), d.digest);

  // A descriptor that does not match the file is refused before any upload.
  Descriptor wrong = d;
  wrong.size += 1;
  s = client.PushBlob(registry_->Ref("test/random2"), wrong, path);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.message();
}

TEST_F(RegistryClientTest, MountsAcrossRepositories) {
  RegistryClient client(FastOptions());
  const Descriptor& layer = image_->manifest.layers[0];
  Reference target = registry_->Ref("test/mounted");
  EXPECT_FALSE(client.HasBlob(target, layer.digest).value());
  auto mounted = client.MountBlob(target, layer.digest, "test/busybox");
  ASSERT_TRUE(mounted.ok()) << mounted.status().message();
  EXPECT_TRUE(*mounted);
  EXPECT_TRUE(client.HasBlob(target, layer.digest).value());
  EXPECT_EQ(client.bytes_pushed(), 0);

  Digest absent = Digest::Of("never pushed anywhere");
  auto not_mounted = client.MountBlob(registry_->Ref("test/mounted2"), absent, "test/busybox");
  ASSERT_TRUE(not_mounted.ok()) << not_mounted.status().message();
  EXPECT_FALSE(*not_mounted);
}

TEST_F(RegistryClientTest, SelectsThePlatformFromAnIndex) {
  RegistryClient pusher(FastOptions());
  Reference repo = registry_->Ref("test/multi");
  TestImage amd64 = TestImage::Busybox("amd64");
  TestImage arm64 = TestImage::Busybox("arm64");
  Index index;
  for (const TestImage* image : {&amd64, &arm64}) {
    Status s = pusher.PushBlob(repo, image->manifest.config, image->config_path);
    ASSERT_TRUE(s.ok()) << s.message();
    s = pusher.PushBlob(repo, image->manifest.layers[0], image->layer_paths[0]);
    ASSERT_TRUE(s.ok()) << s.message();
    s = pusher.PutManifest(repo, image->manifest_digest.str(), media_type::kOciManifest,
                           image->manifest_json);
    ASSERT_TRUE(s.ok()) << s.message();
    Descriptor entry = DescribeContent(media_type::kOciManifest, image->manifest_json);
    entry.os = "linux";
    entry.architecture = image == &amd64 ? "amd64" : "arm64";
    index.manifests.push_back(entry);
  }
  std::string index_json = SerializeIndex(index);
  Status s = pusher.PutManifest(repo, "multi", media_type::kOciIndex, index_json);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Skopeo("inspect --raw --tls-verify=false " + Docker("test/multi:multi")), index_json);

  std::optional<FetchedManifest> fetched_index;
  auto chosen = RegistryClient(FastOptions()).GetManifest(registry_->Ref("test/multi:multi"), &fetched_index);
  ASSERT_TRUE(chosen.ok()) << chosen.status().message();
  EXPECT_EQ(chosen->digest, amd64.manifest_digest);
  ASSERT_TRUE(fetched_index.has_value());
  EXPECT_EQ(fetched_index->body, index_json);
  EXPECT_EQ(fetched_index->media_type, media_type::kOciIndex);
  EXPECT_EQ(fetched_index->digest, Digest::Of(index_json));

  RegistryOptions arm = FastOptions();
  arm.architecture = "arm64";
  auto arm_chosen = RegistryClient(arm).GetManifest(registry_->Ref("test/multi:multi"));
  ASSERT_TRUE(arm_chosen.ok()) << arm_chosen.status().message();
  EXPECT_EQ(arm_chosen->digest, arm64.manifest_digest);

  // An index with only arm64: an amd64 client is told what there is.
  Index arm_only;
  arm_only.manifests.push_back(index.manifests[1]);
  s = pusher.PutManifest(repo, "armonly", media_type::kOciIndex, SerializeIndex(arm_only));
  ASSERT_TRUE(s.ok()) << s.message();
  auto none = RegistryClient(FastOptions()).GetManifest(registry_->Ref("test/multi:armonly"));
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  EXPECT_NE(none.status().message().find("no manifest for platform linux/amd64"), std::string::npos)
      << none.status().message();
  EXPECT_NE(none.status().message().find("available: linux/arm64"), std::string::npos)
      << none.status().message();
}

TEST_F(RegistryClientTest, CorruptBlobsAreRejectedAndTheSinkReset) {
  RegistryClient client(FastOptions());
  Reference ref = registry_->Ref("test/corrupt");
  std::string path = testing::WriteRandomFile(200000, 11);
  std::string content = ReadAll(path);
  Descriptor d = DescribeContent(media_type::kOciLayerTar, content);
  Status s = client.PushBlob(ref, d, path);
  ASSERT_TRUE(s.ok()) << s.message();

  Descriptor shorter = d;
  shorter.size -= 1;
  RecordingSink sink1;
  s = client.FetchBlob(ref, shorter, sink1);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("more than the expected 199999 bytes"), std::string::npos) << s.message();
  EXPECT_TRUE(sink1.data.empty());
  EXPECT_GE(sink1.resets, 1);

  Descriptor longer = d;
  longer.size += 1;
  RecordingSink sink2;
  s = client.FetchBlob(ref, longer, sink2);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("got 200000 bytes, expected 200001"), std::string::npos) << s.message();
  EXPECT_TRUE(sink2.data.empty());

  // Flip one byte of what the registry stores: same size, other digest.
  std::string on_disk = registry_->BlobDataPath(d.digest);
  ASSERT_TRUE(std::filesystem::exists(on_disk)) << on_disk;
  {
    std::fstream f(on_disk, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put(static_cast<char>(content[1000] ^ 0x55));
  }
  RecordingSink sink3;
  s = client.FetchBlob(ref, d, sink3);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("content digest mismatch"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(d.digest.str()), std::string::npos) << s.message();
  EXPECT_TRUE(sink3.data.empty());
  EXPECT_EQ(sink3.resets, 1);  // not retried: a wrong digest is not a network error

  // A sink that checks the digest itself is left to do it: the client hands
  // over the bytes, hashing nothing, but still holds the size to account.
  struct CheckingSink : RecordingSink {
    bool ChecksDigest() const override { return true; }
  };
  CheckingSink sink4;
  s = client.FetchBlob(ref, d, sink4);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(sink4.data.size(), content.size());
  EXPECT_NE(Digest::Of(sink4.data), d.digest);
  CheckingSink sink5;
  s = client.FetchBlob(ref, longer, sink5);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(sink5.data.empty());
}

TEST(RegistryKillTest, KilledDuringAChunkedPushLeavesNoTag) {
  TestRegistry registry;
  RegistryOptions options = FastOptions();
  options.chunk_size = 128 << 10;
  options.retries = 2;
  RegistryClient client(options);
  TestImage image = TestImage::Busybox();
  const Descriptor& layer = image.manifest.layers[0];
  client.set_progress([&](const Digest& d, int64_t done, int64_t) {
    if (d == layer.digest && done > 300000 && registry.running()) registry.Kill();
  });
  Reference ref = registry.Ref("test/killed:1");
  Status s = PushImage(client, ref, image);
  EXPECT_FALSE(registry.running());
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.message();
  EXPECT_NE(s.message().find("push blob " + layer.digest.str()), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("gave up after 3 attempts"), std::string::npos) << s.message();

  registry.Restart();
  RegistryClient after(FastOptions());
  auto manifest = after.GetManifest(ref);
  EXPECT_EQ(manifest.status().code(), Code::kNotFound) << manifest.status().message();
  EXPECT_TRUE(after.HasBlob(ref, image.manifest.config.digest).value());  // pushed before the kill
  EXPECT_FALSE(after.HasBlob(ref, layer.digest).value());
}

}  // namespace
}  // namespace slipway
