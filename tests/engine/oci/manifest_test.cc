#include "engine/oci/manifest.h"

#include <gtest/gtest.h>

namespace slipway {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

std::string OciManifest(const std::string& layer_type = media_type::kOciLayerTarGzip,
                        const std::string& config_type = media_type::kOciConfig) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":")" +
         config_type + R"(","digest":")" + kA + R"(","size":123},
    "layers":[{"mediaType":")" +
         layer_type + R"(","digest":")" + kB + R"(","size":4567,
               "annotations":{"k":"v"}}]})";
}

void ExpectError(const Status& status, const std::string& part) {
  EXPECT_EQ(status.code(), Code::kInvalidArgument) << status.message();
  EXPECT_NE(status.message().find(part), std::string::npos) << status.message();
}

TEST(ManifestTest, ParsesAnOciManifest) {
  auto m = ParseManifest(OciManifest());
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->media_type, media_type::kOciManifest);
  EXPECT_EQ(m->config.media_type, media_type::kOciConfig);
  EXPECT_EQ(m->config.digest.str(), kA);
  EXPECT_EQ(m->config.size, 123);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].digest.str(), kB);
  EXPECT_EQ(m->layers[0].size, 4567);
  EXPECT_EQ(m->layers[0].annotations.at("k"), "v");
}

TEST(ManifestTest, ParsesADockerSchema2Manifest) {
  std::string body = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
    "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":")" +
                     kA + R"(","size":1},
    "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":")" +
                     kB + R"(","size":2}]})";
  auto type = DetectManifestMediaType(body, "application/vnd.docker.distribution.manifest.v2+json");
  ASSERT_TRUE(type.ok()) << type.status().message();
  EXPECT_EQ(*type, media_type::kDockerManifest);
  auto m = ParseManifest(body, *type);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->config.media_type, media_type::kDockerConfig);
  EXPECT_EQ(LayerCompression(m->layers[0].media_type).value(), Compression::kGzip);
}

TEST(ManifestTest, ErrorsNameTheField) {
  ExpectError(ParseManifest("not json").status(), "invalid JSON");
  ExpectError(ParseManifest("[]").status(), "not a JSON object");
  ExpectError(ParseManifest(R"({"schemaVersion":2,"layers":[]})").status(), "config: missing");
  ExpectError(ParseManifest(R"({"config":{}})").status(), "schemaVersion: missing");
  ExpectError(ParseManifest(R"({"schemaVersion":3})").status(), "schemaVersion: 3, want 2");
  std::string no_layers =
      R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json",
    "digest":")" +
      kA + R"(","size":1}})";
  ExpectError(ParseManifest(no_layers).status(), "layers: missing");
  std::string body = OciManifest();
  auto without = [&](const std::string& field) {
    std::string b = body;
    b.replace(b.find(field), field.size(), "\"x\":0");
    return b;
  };
  ExpectError(ParseManifest(without("\"size\":4567")).status(), "layers[0].size: missing");
  ExpectError(ParseManifest(without("\"digest\":\"" + kA + "\"")).status(), "config.digest: missing");
  std::string negative = body;
  negative.replace(negative.find("4567"), 4, "-1");
  ExpectError(ParseManifest(negative).status(), "layers[0].size: not a non-negative integer");
  std::string bad_digest = body;
  bad_digest.replace(bad_digest.find(kB), kB.size(), "sha256:xyz");
  ExpectError(ParseManifest(bad_digest).status(), "layers[0].digest");
  std::string bad_annotation = body;
  bad_annotation.replace(bad_annotation.find("\"v\""), 3, "7");
  ExpectError(ParseManifest(bad_annotation).status(), "layers[0].annotations[\"k\"]: not a string");
}

TEST(ManifestTest, UnknownMediaTypesAreNamed) {
  ExpectError(ParseManifest(OciManifest("application/vnd.example.layer")).status(),
              "layers[0].mediaType: unsupported layer media type \"application/vnd.example.layer\"");
  ExpectError(
      ParseManifest(OciManifest(media_type::kOciLayerTarGzip, "application/vnd.cncf.helm.config.v1+json"))
          .status(),
      "unsupported config media type \"application/vnd.cncf.helm.config.v1+json\"");
  std::string artifact =
      R"({"schemaVersion":2,"mediaType":"application/vnd.example.thing+json","layers":[]})";
  ExpectError(DetectManifestMediaType(artifact, "").status(), "\"application/vnd.example.thing+json\"");
  ExpectError(ParseManifest(artifact).status(), "\"application/vnd.example.thing+json\"");
  ExpectError(DetectManifestMediaType("{}", "application/vnd.example.other").status(),
              "\"application/vnd.example.other\"");
}

TEST(ManifestTest, Schema1IsRejected) {
  std::string v1 = R"({"schemaVersion":1,"name":"library/busybox","tag":"latest","fsLayers":[]})";
  ExpectError(DetectManifestMediaType(v1, "application/json").status(), "schema 1");
  ExpectError(DetectManifestMediaType("{}", media_type::kDockerSchema1Signed).status(), "schema 1");
  ExpectError(ParseManifest(v1).status(), "schema 1");
  ExpectError(ParseManifest(OciManifest(), media_type::kDockerSchema1).status(), "schema 1");
}

TEST(ManifestTest, DetectsTheMediaType) {
  EXPECT_EQ(DetectManifestMediaType(OciManifest(), "").value(), media_type::kOciManifest);
  EXPECT_EQ(DetectManifestMediaType(R"({"schemaVersion":2,"manifests":[]})", "").value(),
            media_type::kOciIndex);
  EXPECT_EQ(DetectManifestMediaType(R"({"schemaVersion":2,"config":{}})", "application/json").value(),
            media_type::kOciManifest);
  EXPECT_EQ(DetectManifestMediaType(R"({"schemaVersion":2,"manifests":[]})",
                                    std::string(media_type::kDockerManifestList) + "; charset=utf-8")
                .value(),
            media_type::kDockerManifestList);
  // The body's own mediaType and the Content-Type must agree.
  ExpectError(DetectManifestMediaType(OciManifest(), media_type::kDockerManifest).status(), "but served as");
  ExpectError(ParseManifest(OciManifest(), media_type::kDockerManifest).status(), "but served as");
}

std::string IndexJson() {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
         kA + R"(","size":10,
     "platform":{"architecture":"amd64","os":"linux"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
         kB + R"(","size":11,
     "platform":{"architecture":"arm64","os":"linux","variant":"v8"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
         kC + R"(","size":12,
     "platform":{"architecture":"arm","os":"linux","variant":"v7"}}]})";
}

TEST(IndexTest, ParsesAndSelectsAPlatform) {
  auto index = ParseIndex(IndexJson());
  ASSERT_TRUE(index.ok()) << index.status().message();
  ASSERT_EQ(index->manifests.size(), 3u);
  EXPECT_EQ(index->manifests[1].Platform(), "linux/arm64/v8");
  EXPECT_EQ(SelectPlatform(*index, "linux", "amd64")->digest.str(), kA);
  EXPECT_EQ(SelectPlatform(*index, "linux", "arm64")->digest.str(), kB);  // variant ignored unless asked
  EXPECT_EQ(SelectPlatform(*index, "linux", "arm", "v7")->digest.str(), kC);
  auto none = SelectPlatform(*index, "linux", "arm", "v6");
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  EXPECT_NE(none.status().message().find("linux/arm/v6"), std::string::npos) << none.status().message();
  auto other = SelectPlatform(*index, "windows", "amd64");
  EXPECT_NE(other.status().message().find("available: linux/amd64, linux/arm64/v8, linux/arm/v7"),
            std::string::npos)
      << other.status().message();
}

TEST(IndexTest, ErrorsNameTheField) {
  std::string body = IndexJson();
  std::string unknown = body;
  unknown.replace(unknown.find(media_type::kOciManifest), std::string(media_type::kOciManifest).size(),
                  "application/vnd.example.sbom");
  ExpectError(ParseIndex(unknown).status(),
              "manifests[0].mediaType: unsupported manifest media type "
              "\"application/vnd.example.sbom\"");
  std::string no_arch = body;
  no_arch.replace(no_arch.find(R"("architecture":"arm64",)"), 23, "");
  ExpectError(ParseIndex(no_arch).status(), "manifests[1].platform.architecture: missing");
  ExpectError(ParseIndex(R"({"schemaVersion":2})").status(), "manifests: missing");
  ExpectError(ParseIndex(OciManifest()).status(), "unsupported index media type");
}

TEST(SerializeTest, ProducesCanonicalBytesThatParseBack) {
  Manifest m;
  m.media_type = media_type::kOciManifest;
  m.config = DescribeContent(media_type::kOciConfig, "{}");
  Descriptor layer;
  layer.media_type = media_type::kOciLayerTarGzip;
  layer.digest = Digest::Parse(kB).value();
  layer.size = 42;
  m.layers.push_back(layer);
  std::string json = SerializeManifest(m);
  EXPECT_EQ(json, R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":)"
                  R"({"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)"
                  R"(44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":)"
                  R"([{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
                      kB + R"(","size":42}]})");
  EXPECT_EQ(SerializeManifest(m), json);  // deterministic
  auto back = ParseManifest(json);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->config.digest, m.config.digest);
  EXPECT_EQ(back->layers[0].size, 42);

  Index index;
  Descriptor entry = DescribeContent(media_type::kOciManifest, json);
  entry.os = "linux";
  entry.architecture = "arm64";
  entry.variant = "v8";
  index.manifests.push_back(entry);
  auto parsed = ParseIndex(SerializeIndex(index));
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->manifests[0].Platform(), "linux/arm64/v8");
  EXPECT_EQ(parsed->manifests[0].digest, Digest::Of(json));
}

TEST(MediaTypeTest, LayerCompression) {
  EXPECT_EQ(LayerCompression(media_type::kOciLayerTar).value(), Compression::kNone);
  EXPECT_EQ(LayerCompression(media_type::kOciLayerTarZstd).value(), Compression::kZstd);
  EXPECT_EQ(LayerCompression(media_type::kDockerLayerGzip).value(), Compression::kGzip);
  EXPECT_FALSE(LayerCompression(media_type::kOciConfig).ok());
  EXPECT_TRUE(IsIndexMediaType(media_type::kDockerManifestList));
  EXPECT_FALSE(IsManifestMediaType(media_type::kDockerSchema1));
}

}  // namespace
}  // namespace slipway
