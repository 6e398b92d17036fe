// PushByDigest against a real docker-registry: the manifest by digest before
// any tag, idempotence, immutable tags refused before anything moves, tags
// moved, blobs mounted across repositories, and the digest preserved as
// skopeo sees it.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/base/fs.h"
#include "engine/distribution/distribution.h"
#include "tests/engine/distribution/image_test_util.h"
#include "tests/engine/registry/registry_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class PushByDigestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("slipway-push-by-digest");
    auto s = ImageStore::Open(dir_ + "/store");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    registry_.reset();
    for (const auto& d : scratch_) fs::remove_all(d);
    fs::remove_all(dir_);
  }

  static RegistryOptions Options() {
    RegistryOptions o;
    o.retries = 1;
    o.retry_backoff = std::chrono::milliseconds(50);
    o.timeout = std::chrono::seconds(10);
    return o;
  }

  // A two-layer image of random files, committed to the store as `name`.
  ImageRecord MakeImage(const std::string& name, unsigned seed) {
    testing::OciImageSpec spec;
    spec.layer_tars = {testing::RandomFileTar("a", 4096, seed), testing::RandomFileTar("b", 70000, seed + 1)};
    testing::OciLayout layout = testing::WriteOciLayout(spec);
    scratch_.push_back(layout.dir);
    for (const auto& e : fs::directory_iterator(layout.dir + "/blobs/sha256")) {
      auto d = store_->PutBlob(testing::ReadTestFile(e.path()));
      EXPECT_TRUE(d.ok()) << d.status().ToString();
    }
    auto image = store_->Commit(layout.manifest_digest, name);
    EXPECT_TRUE(image.ok()) << image.status().ToString();
    return image.ok() ? *image : ImageRecord();
  }

  // The digest of the manifest skopeo reads back for `ref` (the raw bytes'
  // sha256, computed here rather than trusting anyone's header).
  std::string SkopeoDigest(const std::string& ref) {
    std::string raw = testing::Skopeo("inspect --raw --tls-verify=false docker://" + ref);
    return Digest::Of(raw).str();
  }

  std::string dir_;
  std::unique_ptr<ImageStore> store_;
  testing::TestRegistry* registry() {
    if (!registry_) registry_ = std::make_unique<testing::TestRegistry>();
    return registry_.get();
  }
  std::string Repo(const std::string& path) { return registry()->host() + "/" + path; }
  std::unique_ptr<testing::TestRegistry> registry_;
  std::vector<std::string> scratch_;
};

TEST_F(PushByDigestTest, PushesByDigestThenEachTagAndSkopeoReadsTheSameDigest) {
  ImageRecord image = MakeImage("local/app:1", 1);
  RegistryClient client(Options());
  auto report = PushByDigest(*store_, client, image.id.str(), Repo("team/app"), {"latest", "1a2b3c4d"}, {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->manifest_digest, image.manifest_digest);
  EXPECT_TRUE(report->manifest_pushed);
  EXPECT_EQ(report->blobs_pushed, 3);  // two layers and the config
  EXPECT_EQ(report->tags_set, (std::vector<std::string>{"latest", "1a2b3c4d"}));
  EXPECT_TRUE(report->tags_moved.empty());
  EXPECT_TRUE(report->changed());
  EXPECT_EQ(SkopeoDigest(Repo("team/app:latest")), image.manifest_digest.str());
  EXPECT_EQ(SkopeoDigest(Repo("team/app:1a2b3c4d")), image.manifest_digest.str());
  EXPECT_EQ(SkopeoDigest(Repo("team/app@" + image.manifest_digest.str())), image.manifest_digest.str());
}

TEST_F(PushByDigestTest, PushingTheSameDigestAgainChangesNothing) {
  ImageRecord image = MakeImage("local/app:1", 2);
  RegistryClient client(Options());
  ASSERT_TRUE(PushByDigest(*store_, client, "local/app:1", Repo("team/app"), {"latest"}, {"latest"}).ok());
  auto again = PushByDigest(*store_, client, "local/app:1", Repo("team/app"), {"latest"}, {"latest"});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->changed());
  EXPECT_FALSE(again->manifest_pushed);
  EXPECT_EQ(again->blobs_present, 3);
  EXPECT_EQ(again->blobs_pushed + again->blobs_mounted, 0);
  EXPECT_TRUE(again->tags_set.empty());
  // A new tag on the same digest is a change, and only the tag moves.
  auto tagged = PushByDigest(*store_, client, "local/app:1", Repo("team/app"), {"latest", "v2"}, {});
  ASSERT_TRUE(tagged.ok()) << tagged.status().ToString();
  EXPECT_TRUE(tagged->changed());
  EXPECT_FALSE(tagged->manifest_pushed);
  EXPECT_EQ(tagged->tags_set, std::vector<std::string>{"v2"});
}

TEST_F(PushByDigestTest, ImmutableTagPointingElsewhereIsRefusedBeforeAnyPush) {
  ImageRecord first = MakeImage("local/app:1", 3);
  ImageRecord second = MakeImage("local/app:2", 13);
  ASSERT_NE(first.manifest_digest, second.manifest_digest);
  RegistryClient client(Options());
  ASSERT_TRUE(PushByDigest(*store_, client, "local/app:1", Repo("team/app"), {"v1"}, {"v1"}).ok());

  auto refused = PushByDigest(*store_, client, "local/app:2", Repo("team/app"), {"new", "v1"}, {"v1"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("v1"), std::string::npos) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find(first.manifest_digest.str()), std::string::npos);
  EXPECT_NE(refused.status().message().find(second.manifest_digest.str()), std::string::npos);
  // Nothing of the second image reached the registry: no blob, no manifest,
  // no tag; the immutable tag still names the first.
  auto target = ParseReference(Repo("team/app")).value();
  for (const LayerRecord& layer : second.layers) EXPECT_FALSE(*client.HasBlob(target, layer.blob));
  EXPECT_FALSE(*client.HasBlob(target, second.id));
  EXPECT_FALSE(client.ManifestDigest(target, second.manifest_digest.str())->has_value());
  EXPECT_FALSE(client.ManifestDigest(target, "new")->has_value());
  EXPECT_EQ(**client.ManifestDigest(target, "v1"), first.manifest_digest);
}

TEST_F(PushByDigestTest, MutableTagIsMovedAndSaysSo) {
  MakeImage("local/app:1", 4);
  ImageRecord second = MakeImage("local/app:2", 14);
  RegistryClient client(Options());
  ASSERT_TRUE(PushByDigest(*store_, client, "local/app:1", Repo("team/app"), {"latest", "v1"}, {"v1"}).ok());
  auto moved = PushByDigest(*store_, client, "local/app:2", Repo("team/app"), {"latest"}, {"v1"});
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->tags_moved, std::vector<std::string>{"latest"});
  EXPECT_EQ(SkopeoDigest(Repo("team/app:latest")), second.manifest_digest.str());
}

TEST_F(PushByDigestTest, BlobsAreMountedFromAnotherRepositoryOfTheSameRegistry) {
  MakeImage("local/app:1", 5);
  RegistryClient client(Options());
  ASSERT_TRUE(PushByDigest(*store_, client, "local/app:1", Repo("staging/app"), {"1"}, {}).ok());
  auto report =
      PushByDigest(*store_, client, "local/app:1", Repo("prod/app"), {"1"}, {}, {}, {"staging/app"});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->blobs_mounted, 3);
  EXPECT_EQ(report->blobs_pushed, 0);
}

// A plain push checks its blobs in parallel from its first request on: each
// of them meets the registry's basic-auth challenge, and each must answer
// it (a client that took a second challenge for a refusal failed here).
// PushByDigest asks the tags first, one at a time, and meets it once.
TEST_F(PushByDigestTest, PushesInParallelToARegistryBehindBasicAuth) {
  registry_ = std::make_unique<testing::TestRegistry>(testing::TestRegistryOptions{"ci", "pw-61c0e2"});
  MakeImage("local/app:1", 7);
  RegistryOptions options = Options();
  options.credentials = [](const std::string&) {
    return std::optional<Credentials>(Credentials{"ci", "pw-61c0e2"});
  };
  TransferOptions transfer;
  transfer.parallelism = 3;
  {
    RegistryClient client(options);
    auto pushed = Push(*store_, client, "local/app:1", Repo("team/plain:1"), transfer);
    ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
  }
  RegistryClient client(options);
  auto report = PushByDigest(*store_, client, "local/app:1", Repo("team/app"), {"1"}, {}, transfer);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->blobs_pushed, 3);

  options.credentials = [](const std::string&) {
    return std::optional<Credentials>(Credentials{"ci", "wrong"});
  };
  RegistryClient wrong(options);
  auto refused = PushByDigest(*store_, wrong, "local/app:1", Repo("team/other"), {"1"}, {}, transfer);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnauthenticated) << refused.status().ToString();
  EXPECT_EQ(refused.status().message().find("wrong"), std::string::npos);
}

TEST_F(PushByDigestTest, RefusesTagsOrDigestsInTheRepositoryAndBadTags) {
  MakeImage("local/app:1", 6);
  RegistryClient client(Options());
  for (const std::string& repo : {Repo("team/app:1"), Repo("team/app@sha256:" + std::string(64, 'a'))}) {
    auto r = PushByDigest(*store_, client, "local/app:1", repo, {"x"}, {});
    ASSERT_FALSE(r.ok()) << repo;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  }
  for (const std::string& tag :
       {std::string(""), std::string("-x"), std::string("a/b"), std::string(200, 'a')}) {
    auto r = PushByDigest(*store_, client, "local/app:1", Repo("team/app"), {tag}, {});
    ASSERT_FALSE(r.ok()) << tag;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  }
  auto missing = PushByDigest(*store_, client, "sha256:" + std::string(64, 'f'), Repo("team/app"), {"x"}, {});
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace slipway
