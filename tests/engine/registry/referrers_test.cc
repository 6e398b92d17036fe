// Artifacts attached to an image in a real docker-registry (2.8: no
// referrers API, so the sha256-<hex> tag scheme), and found again.
#include "engine/registry/referrers.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/engine/registry/recording_sink.h"
#include "tests/engine/registry/registry_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

constexpr char kType[] = "application/vnd.in-toto+json";
constexpr char kLayerType[] = "application/vnd.dsse.envelope.v1+json";

class ReferrersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = testing::TestImage::Busybox();
    testing::SkopeoPush(image_, registry_.host() + "/team/app:1");
    repo_ = registry_.Ref("team/app:1");
  }
  static RegistryOptions Options() {
    RegistryOptions o;
    o.retries = 1;
    o.retry_backoff = std::chrono::milliseconds(50);
    return o;
  }
  Index TagIndex(RegistryClient& client) {
    auto fetched = client.GetManifestByTag(repo_, ReferrersTag(image_.manifest_digest));
    EXPECT_TRUE(fetched.ok()) << fetched.status().ToString();
    if (!fetched.ok()) return {};
    EXPECT_EQ(fetched->media_type, media_type::kOciIndex);
    auto index = ParseIndex(fetched->body);
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    return index.ok() ? *index : Index{};
  }

  testing::TestRegistry registry_;
  testing::TestImage image_;
  Reference repo_;
};

TEST_F(ReferrersTest, DockerRegistryHasNoReferrersApi) {
  RegistryClient client(Options());
  auto referrers = client.GetReferrers(repo_, image_.manifest_digest);
  ASSERT_TRUE(referrers.ok()) << referrers.status().ToString();
  EXPECT_FALSE(referrers->has_value());
}

TEST_F(ReferrersTest, AttachKeepsTheTagSchemeIndexAndTheArtifactReadsBack) {
  RegistryClient client(Options());
  const std::string content = R"({"payloadType":"x","payload":"e30=","signatures":[]})";
  auto report = AttachArtifact(client, repo_, image_.manifest_digest, kType, kLayerType, content);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->changed);
  EXPECT_TRUE(report->tag_scheme);

  EXPECT_EQ(ReferrersTag(image_.manifest_digest), "sha256-" + image_.manifest_digest.hex());
  Index index = TagIndex(client);
  ASSERT_EQ(index.manifests.size(), 1u);
  EXPECT_EQ(index.manifests[0].digest, report->digest);
  EXPECT_EQ(index.manifests[0].artifact_type, kType);
  EXPECT_EQ(index.manifests[0].media_type, media_type::kOciManifest);

  // The artifact manifest: artifactType, the empty config, one layer, the subject.
  auto manifest = client.GetManifestByDigest(repo_, report->digest);
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  auto doc = nlohmann::json::parse(manifest->body);
  EXPECT_EQ(doc["artifactType"], kType);
  EXPECT_EQ(doc["config"]["mediaType"], media_type::kOciEmpty);
  EXPECT_EQ(doc["config"]["digest"], Digest::Of("{}").str());
  EXPECT_EQ(doc["subject"]["digest"], image_.manifest_digest.str());
  EXPECT_EQ(doc["subject"]["size"], image_.manifest_json.size());
  ASSERT_EQ(doc["layers"].size(), 1u);
  EXPECT_EQ(doc["layers"][0]["mediaType"], kLayerType);
  Descriptor layer = DescribeContent(kLayerType, content);
  StringSink sink;
  ASSERT_TRUE(client.FetchBlob(repo_, layer, sink).ok());
  EXPECT_EQ(sink.data(), content);

  auto listed = ListReferrers(client, repo_, image_.manifest_digest, kType);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].digest, report->digest);

  // The image itself is untouched: same digest by its tag.
  EXPECT_EQ(**client.ManifestDigest(repo_, "1"), image_.manifest_digest);
}

TEST_F(ReferrersTest, AttachingTheSameContentAgainChangesNothing) {
  RegistryClient client(Options());
  auto first = AttachArtifact(client, repo_, image_.manifest_digest, kType, kLayerType, "same");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto index_digest = client.ManifestDigest(repo_, ReferrersTag(image_.manifest_digest));
  auto again = AttachArtifact(client, repo_, image_.manifest_digest, kType, kLayerType, "same");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->digest, first->digest);
  EXPECT_EQ(TagIndex(client).manifests.size(), 1u);
  EXPECT_EQ(**client.ManifestDigest(repo_, ReferrersTag(image_.manifest_digest)), **index_digest);
}

TEST_F(ReferrersTest, AnIndexThatLostItsEntryGetsItBack) {
  // What a lost race between two pushers would leave: the artifact exists,
  // the tag's index does not list it. Attaching again repairs it.
  RegistryClient client(Options());
  auto first = AttachArtifact(client, repo_, image_.manifest_digest, kType, kLayerType, "one");
  ASSERT_TRUE(first.ok());
  Index empty;
  ASSERT_TRUE(client
                  .PutManifest(repo_, ReferrersTag(image_.manifest_digest), media_type::kOciIndex,
                               SerializeIndex(empty))
                  .ok());
  auto again = AttachArtifact(client, repo_, image_.manifest_digest, kType, kLayerType, "one");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->changed);
  EXPECT_EQ(TagIndex(client).manifests.size(), 1u);
}

TEST_F(ReferrersTest, SeveralArtifactsAreAllListedAndFilteredByType) {
  RegistryClient client(Options());
  ASSERT_TRUE(AttachArtifact(client, repo_, image_.manifest_digest, kType, kLayerType, "one").ok());
  ASSERT_TRUE(AttachArtifact(client, repo_, image_.manifest_digest, kType, kLayerType, "two").ok());
  ASSERT_TRUE(
      AttachArtifact(client, repo_, image_.manifest_digest, "application/x-sbom", "text/plain", "sbom").ok());
  EXPECT_EQ(TagIndex(client).manifests.size(), 3u);
  EXPECT_EQ(ListReferrers(client, repo_, image_.manifest_digest, kType)->size(), 2u);
  EXPECT_EQ(ListReferrers(client, repo_, image_.manifest_digest)->size(), 3u);
}

TEST_F(ReferrersTest, MissingSubjectIsNotFoundAndNoReferrersIsEmpty) {
  RegistryClient client(Options());
  Digest ghost = Digest::Of("no such manifest");
  auto report = AttachArtifact(client, repo_, ghost, kType, kLayerType, "x");
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Code::kNotFound) << report.status().ToString();
  EXPECT_FALSE(client.ManifestDigest(repo_, ReferrersTag(ghost))->has_value());
  auto listed = ListReferrers(client, repo_, image_.manifest_digest);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_TRUE(listed->empty());
}

}  // namespace
}  // namespace slipway
