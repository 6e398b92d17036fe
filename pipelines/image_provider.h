// ImageProvider: the images a run needs, from whoever holds them. slipwayd
// implements it over its ImageService (pulls through the registry client,
// builds through engine/build); the CI asks only these two things.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "engine/base/status.h"

namespace slipway::pipelines {

// Output lines of a pull or build, for the run's log.
using OutputLine = std::function<void(std::string_view line)>;

struct ImageBuildRequest {
  std::string context;     // absolute directory (inside the run's workspace)
  std::string dockerfile;  // absolute path
  std::string tag;         // what the run's steps name it by
  std::map<std::string, std::string> args;
};

class ImageProvider {
 public:
  virtual ~ImageProvider() = default;
  // Makes sure `ref` is in the image store, pulling it only if it is
  // missing; returns the image id ("sha256:...") to create containers from.
  virtual Result<std::string> Ensure(const std::string& ref, const OutputLine& output) = 0;
  // Builds an image; returns its id. `cancel_fd` becomes readable when the
  // run is cancelled (-1: never).
  virtual Result<std::string> Build(const ImageBuildRequest& request, const OutputLine& output,
                                    int cancel_fd) = 0;
};

}  // namespace slipway::pipelines
