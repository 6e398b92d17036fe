// PipelineImages: the ImageProvider of runs (pipelines/image_provider.h),
// over slipwayd's ImageService. Ensure pulls only what the store lacks;
// Build is an image build like POST /api/v1/images/build, its progress
// turned into lines of the run's log.
#pragma once

#include <string>

#include "pipelines/image_provider.h"
#include "service/daemon/image_service.h"

namespace slipway::daemon {

class PipelineImages : public pipelines::ImageProvider {
 public:
  // `images` outlives this.
  explicit PipelineImages(ImageService& images) : images_(images) {}

  // The id of `ref` in the store; pulled first if it is not there. Two runs
  // asking for one missing image at once may both pull it (the second finds
  // every blob there already).
  Result<std::string> Ensure(const std::string& ref, const pipelines::OutputLine& output) override;
  // "Step N/M : INSTRUCTION" per step, a RUN's output line by line, and
  // "Successfully built ID" at the end.
  Result<std::string> Build(const pipelines::ImageBuildRequest& request, const pipelines::OutputLine& output,
                            int cancel_fd) override;

 private:
  ImageService& images_;
};

}  // namespace slipway::daemon
