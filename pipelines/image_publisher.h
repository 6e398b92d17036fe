// ImagePublisher: puts an image of slipwayd's store into a registry, by
// digest, and attaches artifacts to it. slipwayd implements it over its
// image store and registry client (engine/distribution); PromotionService
// asks only these two things.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "pipelines/image_provider.h"

namespace slipway::pipelines {

struct PublishRequest {
  std::string image_id;    // "sha256:<hex>", an image of the local store
  std::string repository;  // the target, without tag or digest: "127.0.0.1:5000/team/app"
  std::vector<std::string> tags;         // resolved: "latest", "1a2b3c4d"
  std::set<std::string> immutable_tags;  // those of `tags` that may not move once set
};

struct PublishResult {
  std::string manifest_digest;  // "sha256:<hex>" that the registry serves
  // False when the registry already had the manifest and every tag pointed
  // at it: the promotion changed nothing.
  bool changed = false;
  int blobs_pushed = 0, blobs_mounted = 0, blobs_present = 0;
  std::vector<std::string> tags_set;    // put now (new, or moved from another digest)
  std::vector<std::string> tags_moved;  // of tags_set, those that pointed at another digest
};

class ImagePublisher {
 public:
  virtual ~ImagePublisher() = default;

  // Pushes the image's blobs the registry lacks (a cross-repository mount
  // first when another repository of the same registry holds them), then its
  // manifest by digest, and only then each tag, so that no tag ever points
  // at an incomplete image. Before anything is pushed, every tag of
  // `immutable_tags` that already points at another digest makes it
  // kFailedPrecondition naming the tag and both digests. kNotFound for an
  // image not in the store; kUnavailable when the registry cannot be
  // reached; kPermissionDenied when it refuses the credentials.
  virtual Result<PublishResult> Publish(const PublishRequest& request, const OutputLine& output) = 0;

  // Pushes `content` as an OCI artifact into `repository`: an image manifest
  // of `artifact_type` with the empty config, one layer of `media_type`
  // holding `content`, and `subject` the manifest `subject_digest` (which
  // must be in `repository`). It is found through the referrers API where
  // the registry has it, and otherwise through the referrers tag scheme
  // (the tag "sha256-<hex of subject>" holding an index of the referrers,
  // which this updates). Returns the artifact manifest's digest; attaching
  // the same content again changes nothing.
  virtual Result<std::string> Attach(const std::string& repository, const std::string& subject_digest,
                                     const std::string& artifact_type, const std::string& media_type,
                                     const std::string& content) = 0;
};

}  // namespace slipway::pipelines
