#include "service/daemon/image_publisher.h"

#include <mutex>
#include <set>

namespace slipway::daemon {

namespace {

// The contract's codes: a registry refusing the credentials is
// kPermissionDenied whether it said 401 or 403.
Status AsPublishError(const Status& status) {
  if (status.code() == Code::kUnauthenticated) return Status(Code::kPermissionDenied, status.message());
  return status;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

Result<pipelines::PublishResult> RegistryPublisher::Publish(const pipelines::PublishRequest& request,
                                                            const pipelines::OutputLine& output) {
  // Progress comes from several transfer threads at once, "uploading" with
  // every chunk sent: one line per blob and phase, one at a time.
  std::mutex mu;
  std::set<std::string> announced;
  TransferProgress once = [&](const Digest& blob, const std::string& phase, int64_t, int64_t) {
    if (!output || (phase != "uploading" && phase != "mounted" && phase != "exists")) return;
    std::lock_guard lock(mu);
    if (announced.insert(phase + " " + blob.str()).second) output(phase + " " + blob.str());
  };
  auto report =
      images_.PushByDigest(request.image_id, request.repository, request.tags, request.immutable_tags, once);
  if (!report.ok()) return AsPublishError(report.status());
  pipelines::PublishResult result;
  result.manifest_digest = report->manifest_digest.str();
  result.changed = report->changed();
  result.blobs_pushed = report->blobs_pushed;
  result.blobs_mounted = report->blobs_mounted;
  result.blobs_present = report->blobs_present;
  result.tags_set = report->tags_set;
  result.tags_moved = report->tags_moved;
  if (output) {
    std::string line = request.repository + "@" + result.manifest_digest + ": ";
    if (!result.changed) {
      line += "already there, tags " + Join(request.tags) + " in place; nothing changed";
    } else {
      line += std::to_string(result.blobs_pushed) + " blobs pushed, " + std::to_string(result.blobs_mounted) +
              " mounted, " + std::to_string(result.blobs_present) + " present";
      if (!result.tags_set.empty()) line += "; tags set: " + Join(result.tags_set);
      if (!result.tags_moved.empty()) line += " (moved: " + Join(result.tags_moved) + ")";
    }
    output(line);
  }
  return result;
}

Result<std::string> RegistryPublisher::Attach(const std::string& repository,
                                              const std::string& subject_digest,
                                              const std::string& artifact_type, const std::string& media_type,
                                              const std::string& content) {
  SLIPWAY_ASSIGN_OR_RETURN(Digest subject, Digest::Parse(subject_digest));
  auto report = images_.Attach(repository, subject, artifact_type, media_type, content);
  if (!report.ok()) return AsPublishError(report.status());
  return report->digest.str();
}

}  // namespace slipway::daemon
