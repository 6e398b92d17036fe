// RegistryPublisher (promotion's ImagePublisher) over a real ImageService
// and image store, against docker-registry behind htpasswd: the image by
// digest with its tags, read back by skopeo; promoting again changes
// nothing and says so; an attachment found under the sha256-<hex> tag; and
// the contract's error codes (unknown image, refused credentials, a
// registry that is down).
#include "service/daemon/image_publisher.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/containers/container_service.h"
#include "engine/containers/container_store.h"
#include "engine/image/layer_writer.h"
#include "tests/engine/distribution/image_test_util.h"
#include "tests/engine/registry/registry_fixture.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/monitor_test_main.h"

namespace slipway::daemon {
namespace {

constexpr char kUser[] = "promoter";
constexpr char kPassword[] = "pw-0c8e5d2a91";

class ImagePublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::MakeTempDir("slipway-publisher");
    auto images = ImageStore::Open(root_ + "/data");
    ASSERT_TRUE(images.ok()) << images.status().ToString();
    images_ = std::move(images).value();
    auto imported = ImportRootfsTar(*images_, testing::BusyboxTarPath(), "app:1");
    ASSERT_TRUE(imported.ok()) << imported.status().ToString();
    image_ = *imported;
    auto log = EventLog::Open(root_ + "/events.log", LogLevel::kDebug);
    ASSERT_TRUE(log.ok());
    log_ = std::move(log).value();
    auto cstore = ContainerStore::Open(root_ + "/data/slipway.db");
    ASSERT_TRUE(cstore.ok()) << cstore.status().ToString();
    container_store_ = std::move(cstore).value();
    ContainerServiceOptions copts;
    copts.runtime = {root_ + "/state", "slipway-publishertest-" + std::to_string(::getpid())};
    copts.monitor_binary = testing::g_monitor;
    auto containers = ContainerService::Open(copts, *container_store_, *images_, *log_);
    ASSERT_TRUE(containers.ok()) << containers.status().ToString();
    containers_ = std::move(containers).value();
    registry_ = std::make_unique<testing::TestRegistry>(testing::TestRegistryOptions{kUser, kPassword});
    repo_ = registry_->host() + "/team/app";
  }
  void TearDown() override {
    publisher_.reset();
    service_.reset();
    containers_.reset();
    registry_.reset();
    std::filesystem::remove_all(root_);
  }

  RegistryPublisher& Publisher(const std::string& password = kPassword) {
    ImageServiceOptions options;
    options.registry.retries = 1;
    options.registry.retry_backoff = std::chrono::milliseconds(50);
    options.registry.timeout = std::chrono::seconds(10);
    options.registry.credentials = [password](const std::string&) {
      return std::optional<Credentials>(Credentials{kUser, password});
    };
    publisher_.reset();
    service_ = std::make_unique<ImageService>(*images_, *containers_, metrics_, *log_, options);
    publisher_ = std::make_unique<RegistryPublisher>(*service_);
    return *publisher_;
  }

  std::string SkopeoDigest(const std::string& ref) {
    std::string raw = testing::Skopeo("inspect --raw --tls-verify=false --creds " + std::string(kUser) + ":" +
                                      kPassword + " docker://" + ref);
    return Digest::Of(raw).str();
  }

  std::string root_;
  std::unique_ptr<ImageStore> images_;
  ImageRecord image_;
  std::unique_ptr<EventLog> log_;
  std::unique_ptr<ContainerStore> container_store_;
  std::unique_ptr<ContainerService> containers_;
  Metrics metrics_;
  std::unique_ptr<ImageService> service_;
  std::unique_ptr<RegistryPublisher> publisher_;
  std::unique_ptr<testing::TestRegistry> registry_;
  std::string repo_;
};

TEST_F(ImagePublisherTest, PublishesByDigestThenSaysNothingChanged) {
  pipelines::PublishRequest request{image_.id.str(), repo_, {"latest", "1a2b3c4d"}, {"1a2b3c4d"}};
  std::vector<std::string> lines;
  auto published = Publisher().Publish(request, [&](std::string_view line) { lines.emplace_back(line); });
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  EXPECT_EQ(published->manifest_digest, image_.manifest_digest.str());
  EXPECT_TRUE(published->changed);
  EXPECT_EQ(published->blobs_pushed, 2);  // the layer and the config
  EXPECT_EQ(published->tags_set, (std::vector<std::string>{"latest", "1a2b3c4d"}));
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("2 blobs pushed"), std::string::npos) << lines.back();
  EXPECT_NE(lines.back().find("tags set: latest, 1a2b3c4d"), std::string::npos) << lines.back();
  EXPECT_EQ(SkopeoDigest(repo_ + ":latest"), image_.manifest_digest.str());
  EXPECT_EQ(SkopeoDigest(repo_ + ":1a2b3c4d"), image_.manifest_digest.str());
  EXPECT_GT(metrics_.registry_bytes_pushed.value(), 0u);

  lines.clear();
  auto again = publisher_->Publish(request, [&](std::string_view line) { lines.emplace_back(line); });
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->blobs_present, 2);
  EXPECT_TRUE(again->tags_set.empty());
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("nothing changed"), std::string::npos) << lines.back();
}

TEST_F(ImagePublisherTest, AttachIsFoundUnderTheTagSchemeAndIsIdempotent) {
  auto published = Publisher().Publish({image_.id.str(), repo_, {"1"}, {}}, nullptr);
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  auto attached = publisher_->Attach(repo_, published->manifest_digest, "application/vnd.in-toto+json",
                                     "application/vnd.dsse.envelope.v1+json", R"({"payload":"e30="})");
  ASSERT_TRUE(attached.ok()) << attached.status().ToString();
  auto again = publisher_->Attach(repo_, published->manifest_digest, "application/vnd.in-toto+json",
                                  "application/vnd.dsse.envelope.v1+json", R"({"payload":"e30="})");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *attached);
  std::string tag = "sha256-" + image_.manifest_digest.hex();
  auto index =
      nlohmann::json::parse(testing::Skopeo("inspect --raw --tls-verify=false --creds " + std::string(kUser) +
                                            ":" + kPassword + " docker://" + repo_ + ":" + tag));
  ASSERT_EQ(index["manifests"].size(), 1u) << index.dump();
  EXPECT_EQ(index["manifests"][0]["digest"], *attached);
  EXPECT_EQ(index["manifests"][0]["artifactType"], "application/vnd.in-toto+json");
}

TEST_F(ImagePublisherTest, ErrorsAreTheContracts) {
  auto unknown = Publisher().Publish({"sha256:" + std::string(64, 'e'), repo_, {"1"}, {}}, nullptr);
  EXPECT_EQ(unknown.status().code(), Code::kNotFound) << unknown.status().ToString();

  auto refused = Publisher("wrong-password").Publish({image_.id.str(), repo_, {"1"}, {}}, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kPermissionDenied) << refused.status().ToString();
  EXPECT_EQ(refused.status().message().find("wrong-password"), std::string::npos);

  auto published = Publisher().Publish({image_.id.str(), repo_, {"v1"}, {"v1"}}, nullptr);
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  registry_->Kill();
  auto down = publisher_->Publish({image_.id.str(), repo_, {"v1"}, {"v1"}}, nullptr);
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), Code::kUnavailable) << down.status().ToString();
  auto attach_down = publisher_->Attach(repo_, published->manifest_digest, "a/b", "c/d", "x");
  EXPECT_EQ(attach_down.status().code(), Code::kUnavailable) << attach_down.status().ToString();
}

}  // namespace
}  // namespace slipway::daemon
