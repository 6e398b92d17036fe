// Decoding the daemon's streams. Docker's multiplexed stream (attach, logs)
// has its codec in engine/runtime/frame.h; this is newline-delimited JSON,
// and writing what arrives.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "engine/base/status.h"

namespace slipway::cli {

// Newline-delimited JSON (pull and push progress): one call per line.
class LineSplitter {
 public:
  using Sink = std::function<void(std::string_view line)>;
  explicit LineSplitter(Sink sink) : sink_(std::move(sink)) {}
  void Feed(std::string_view data);
  // The last line, if it had no newline.
  void Finish();

 private:
  Sink sink_;
  std::string partial_;
};

// Writes all of `data` to `fd` (stdout, stderr), retrying short writes.
void WriteAll(int fd, std::string_view data);

}  // namespace slipway::cli
