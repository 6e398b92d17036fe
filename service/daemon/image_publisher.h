// RegistryPublisher: promotion's ImagePublisher (pipelines/image_publisher.h)
// over slipwayd's ImageService, whose registry clients carry the stored
// registry logins (registry_logins.h) and registry_auth. The push is
// engine/distribution's PushByDigest, the attachment engine/registry's
// AttachArtifact (referrers API, or the sha256-<hex> tag scheme).
#pragma once

#include <string>

#include "pipelines/image_publisher.h"
#include "service/daemon/image_service.h"

namespace slipway::daemon {

class RegistryPublisher : public pipelines::ImagePublisher {
 public:
  // `images` outlives this.
  explicit RegistryPublisher(ImageService& images) : images_(images) {}

  // Reports one line per blob phase change that matters ("mounted",
  // "uploading", "exists") and a summary line.
  Result<pipelines::PublishResult> Publish(const pipelines::PublishRequest& request,
                                           const pipelines::OutputLine& output) override;
  Result<std::string> Attach(const std::string& repository, const std::string& subject_digest,
                             const std::string& artifact_type, const std::string& media_type,
                             const std::string& content) override;

 private:
  ImageService& images_;
};

}  // namespace slipway::daemon
