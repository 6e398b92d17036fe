// Decoding the daemon's streams. Docker's multiplexed stream (attach, logs)
// has its codec in engine/runtime/frame.h; this is newline-delimited JSON,
// reading a logs endpoint, and writing what arrives.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "engine/base/status.h"
#include "engine/runtime/frame.h"
#include "service/cli/client.h"

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

// GET `path`, a logs endpoint (the multiplexed stream of containers' and
// run steps' logs), handing each piece of output to `sink` as it arrives.
// `what` names the log in the error about a stream that is not framed.
Status ReadLogStream(DaemonClient& client, const std::string& path, const std::string& what,
                     const std::function<void(Stream stream, std::string_view data)>& sink);
// The same, written to stdout and stderr.
Status PrintLogStream(DaemonClient& client, const std::string& path, const std::string& what);

}  // namespace slipway::cli
