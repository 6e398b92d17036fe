// Image manifests and indexes as the OCI image spec and Docker's schema 2
// define them: media types, strict parsers and a serializer.
//
// A manifest's digest is the sha256 of its exact bytes, so a manifest we push
// is serialized once and that byte string is both digested and uploaded;
// never re-serialize a parsed manifest and expect the same digest.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"
#include "engine/oci/digest.h"

namespace slipway {

namespace media_type {
inline constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kOciConfig[] = "application/vnd.oci.image.config.v1+json";
// OCI 1.1's empty descriptor: the config of an artifact, the blob "{}".
inline constexpr char kOciEmpty[] = "application/vnd.oci.empty.v1+json";
inline constexpr char kOciLayerTar[] = "application/vnd.oci.image.layer.v1.tar";
inline constexpr char kOciLayerTarGzip[] = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr char kOciLayerTarZstd[] = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr char kOciForeignLayerTar[] = "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr char kOciForeignLayerTarGzip[] =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr char kOciForeignLayerTarZstd[] =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
inline constexpr char kDockerManifestList[] = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kDockerConfig[] = "application/vnd.docker.container.image.v1+json";
inline constexpr char kDockerLayerGzip[] = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr char kDockerForeignLayerGzip[] = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
// Rejected: schema 1 is deprecated and its digests are not content digests.
inline constexpr char kDockerSchema1[] = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr char kDockerSchema1Signed[] = "application/vnd.docker.distribution.manifest.v1+prettyjws";
}  // namespace media_type

bool IsIndexMediaType(std::string_view type);     // OCI index, Docker manifest list
bool IsManifestMediaType(std::string_view type);  // OCI manifest, Docker schema 2
bool IsConfigMediaType(std::string_view type);
bool IsLayerMediaType(std::string_view type);

enum class Compression { kNone, kGzip, kZstd };
// How a layer of this media type is compressed; error for non-layer types.
Result<Compression> LayerCompression(std::string_view type);

// The Accept header of a manifest request: every type ParseManifest and
// ParseIndex understand.
const std::string& ManifestAcceptHeader();

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  // Platform, for the entries of an index.
  std::string os, architecture, variant;
  std::vector<std::string> urls;  // foreign layers only
  std::map<std::string, std::string> annotations;
  // OCI 1.1: the type of the artifact this descriptor points at (entries
  // of a referrers index), "" for images.
  std::string artifact_type;

  // "linux/arm64/v8" ("" when the descriptor has no platform).
  std::string Platform() const;
};

// A descriptor of `content`: its digest and size.
Descriptor DescribeContent(std::string media_type, std::string_view content);

struct Manifest {
  std::string media_type;  // kOciManifest or kDockerManifest
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
  // OCI 1.1 artifacts (serialized when set; ParseManifest reads images
  // only): what the artifact is, and the manifest it refers to.
  std::string artifact_type;
  std::optional<Descriptor> subject;
};

struct Index {
  std::string media_type = media_type::kOciIndex;  // or kDockerManifestList
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;
};

// The media type of a manifest body as served with `content_type` (the
// Content-Type header, may be empty or generic): the body's "mediaType" when
// present, else the header, else inferred from the fields ("manifests" → OCI
// index, "config" → OCI manifest). Schema 1 and unknown types are errors
// naming the type.
Result<std::string> DetectManifestMediaType(std::string_view body, std::string_view content_type);

// Strict parsers: every error names the field ("layers[1].digest: ...").
// `media_type`, when given, is the type the body was served as; a body whose
// own mediaType disagrees is rejected.
Result<Manifest> ParseManifest(std::string_view body, std::string_view media_type = {});
Result<Index> ParseIndex(std::string_view body, std::string_view media_type = {});

// The entry of `index` for os/architecture (and variant, only when given):
// the first match. None matching is an error listing the platforms there are.
Result<Descriptor> SelectPlatform(const Index& index, std::string_view os, std::string_view architecture,
                                  std::string_view variant = {});

// Compact JSON, fields in the conventional order. Digest the result as is.
std::string SerializeManifest(const Manifest& manifest);
std::string SerializeIndex(const Index& index);

}  // namespace slipway
