#include "engine/registry/referrers.h"

#include <algorithm>

namespace slipway {

std::string ReferrersTag(const Digest& subject) {
  return "sha256-" + subject.hex();
}

namespace {

// The tag scheme's index of `subject`'s referrers: empty when the tag does
// not exist yet.
Result<Index> TagSchemeIndex(RegistryClient& client, const Reference& repo, const Digest& subject) {
  auto fetched = client.GetManifestByTag(repo, ReferrersTag(subject));
  if (!fetched.ok() && fetched.status().code() == Code::kNotFound) return Index{};
  if (!fetched.ok()) return fetched.status();
  return ParseIndex(fetched->body, fetched->media_type);
}

}  // namespace

Result<AttachReport> AttachArtifact(RegistryClient& client, const Reference& repo, const Digest& subject,
                                    const std::string& artifact_type, const std::string& media_type,
                                    std::string_view content) {
  const std::string context = "attach " + artifact_type + " to " + repo.Name() + "@" + subject.str();
  auto fetched = client.GetManifestByDigest(repo, subject);
  if (!fetched.ok()) return fetched.status().Wrap(context);
  Descriptor subject_descriptor = DescribeContent(fetched->media_type, fetched->body);

  static constexpr std::string_view kEmpty = "{}";
  Manifest artifact;
  artifact.media_type = media_type::kOciManifest;
  artifact.artifact_type = artifact_type;
  artifact.config = DescribeContent(media_type::kOciEmpty, kEmpty);
  artifact.layers = {DescribeContent(media_type, content)};
  artifact.subject = subject_descriptor;
  const std::string body = SerializeManifest(artifact);

  AttachReport report;
  report.digest = Digest::Of(body);
  auto existing = client.ManifestDigest(repo, report.digest.str());
  if (!existing.ok()) return existing.status().Wrap(context);
  bool indexed_by_registry = false;
  if (!existing->has_value()) {
    SLIPWAY_RETURN_IF_ERROR(client.PushBlobContent(repo, artifact.config, kEmpty).Wrap(context));
    SLIPWAY_RETURN_IF_ERROR(client.PushBlobContent(repo, artifact.layers[0], content).Wrap(context));
    PutManifestReply reply;
    SLIPWAY_RETURN_IF_ERROR(
        client.PutManifest(repo, report.digest.str(), artifact.media_type, body, &reply).Wrap(context));
    report.changed = true;
    // distribution-spec 1.1: OCI-Subject names the subject when the
    // registry indexed the artifact itself; without it the pusher must keep
    // the tag scheme's index.
    indexed_by_registry = reply.subject == subject.str();
  } else {
    auto referrers = client.GetReferrers(repo, subject);
    if (!referrers.ok()) return referrers.status().Wrap(context);
    indexed_by_registry = referrers->has_value();
  }
  if (indexed_by_registry) return report;

  report.tag_scheme = true;
  auto index = TagSchemeIndex(client, repo, subject);
  if (!index.ok()) return index.status().Wrap(context + ": tag " + ReferrersTag(subject));
  bool listed = std::any_of(index->manifests.begin(), index->manifests.end(),
                            [&](const Descriptor& d) { return d.digest == report.digest; });
  if (listed) return report;
  Descriptor entry = DescribeContent(artifact.media_type, body);
  entry.artifact_type = artifact_type;
  index->media_type = media_type::kOciIndex;
  index->manifests.push_back(entry);
  SLIPWAY_RETURN_IF_ERROR(
      client.PutManifest(repo, ReferrersTag(subject), media_type::kOciIndex, SerializeIndex(*index))
          .Wrap(context + ": tag " + ReferrersTag(subject)));
  report.changed = true;
  return report;
}

Result<std::vector<Descriptor>> ListReferrers(RegistryClient& client, const Reference& repo,
                                              const Digest& subject, std::string_view artifact_type) {
  const std::string context = "referrers of " + repo.Name() + "@" + subject.str();
  Index index;
  auto api = client.GetReferrers(repo, subject);
  if (!api.ok()) return api.status().Wrap(context);
  if (api->has_value()) {
    auto parsed = ParseIndex((*api)->body, media_type::kOciIndex);
    if (!parsed.ok()) return parsed.status().Wrap(context);
    index = std::move(parsed).value();
  } else {
    auto tagged = TagSchemeIndex(client, repo, subject);
    if (!tagged.ok()) return tagged.status().Wrap(context + ": tag " + ReferrersTag(subject));
    index = std::move(tagged).value();
  }
  std::vector<Descriptor> out;
  for (Descriptor& d : index.manifests) {
    if (artifact_type.empty() || d.artifact_type == artifact_type) out.push_back(std::move(d));
  }
  return out;
}

}  // namespace slipway
