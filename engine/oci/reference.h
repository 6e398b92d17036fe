// Image references ("busybox", "ghcr.io/org/app:1.2@sha256:...") parsed by
// the grammar of the distribution project and normalized as Docker does.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/base/status.h"
#include "engine/oci/digest.h"

namespace slipway {

// Docker Hub's name in references; its API lives at kDockerHubApiHost.
inline constexpr std::string_view kDockerHubRegistry = "docker.io";
inline constexpr std::string_view kDockerHubApiHost = "registry-1.docker.io";

struct Reference {
  std::string registry;    // "docker.io", "localhost:5000", "[::1]:5000"
  std::string repository;  // "library/busybox"
  std::string tag;         // empty only when a digest is given without a tag
  std::optional<Digest> digest;

  // Fully qualified: "docker.io/library/busybox:latest[@sha256:...]".
  std::string str() const;
  // As Docker shows it: "busybox:latest", "user/app:1", "ghcr.io/o/a:1".
  std::string Familiar() const;
  // "registry/repository", without tag or digest.
  std::string Name() const;
  // What a manifest request names: the digest if there is one, else the tag.
  std::string TagOrDigest() const;

  bool operator==(const Reference&) const = default;
};

// Parses `[host[:port]/]path[:tag][@sha256:<hex>]`. Without a host the
// registry is docker.io and a single path component gets "library/"; without
// tag and digest the tag is "latest". Errors say which part is wrong.
Result<Reference> ParseReference(std::string_view text);

// A repository path alone ("library/busybox"): lowercase components of
// [a-z0-9] joined by the grammar's separators, at most 255 characters.
Status ValidateRepository(std::string_view repository);

// A tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
bool IsValidTag(std::string_view tag);

}  // namespace slipway
