// Artifacts that refer to a manifest (OCI distribution-spec 1.1): pushing
// one whose `subject` is an image, and finding them again.
//
// A registry with the referrers API (GET /v2/<name>/referrers/<digest>)
// indexes them itself, and says so with an OCI-Subject header when the
// artifact's manifest is put. One without it (docker-registry 2.8) gets the
// spec's fallback, the referrers tag scheme: the tag "sha256-<hex of the
// subject>" holds an OCI index listing the referrers, which the pusher
// fetches, extends and puts back. Two pushers extending one tag index at the
// same moment may lose one entry (the spec's scheme has no compare-and-swap);
// attaching again restores it, since attaching is idempotent.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"
#include "engine/oci/digest.h"
#include "engine/oci/manifest.h"
#include "engine/oci/reference.h"
#include "engine/registry/client.h"

namespace slipway {

// "sha256-<hex>": the referrers tag scheme's tag of `subject`.
std::string ReferrersTag(const Digest& subject);

struct AttachReport {
  Digest digest;            // of the artifact's manifest
  bool changed = false;     // false: the artifact was there and listed already
  bool tag_scheme = false;  // listed in the sha256-<hex> tag's index (no referrers API)
};

// Pushes `content` as an artifact of `artifact_type` referring to `subject`
// (a manifest in `repo`: kNotFound otherwise): the empty config blob "{}",
// one layer of `media_type` holding `content`, then the artifact manifest by
// digest, then (without a referrers API) the tag scheme's index. The
// manifest is serialized deterministically, so the same content attached
// again has the same digest and changes nothing.
Result<AttachReport> AttachArtifact(RegistryClient& client, const Reference& repo, const Digest& subject,
                                    const std::string& artifact_type, const std::string& media_type,
                                    std::string_view content);

// The manifests in `repo` whose subject is `subject`, of `artifact_type`
// only when it is not empty: from the referrers API, else from the tag
// scheme's index (none when the tag does not exist).
Result<std::vector<Descriptor>> ListReferrers(RegistryClient& client, const Reference& repo,
                                              const Digest& subject, std::string_view artifact_type = {});

}  // namespace slipway
