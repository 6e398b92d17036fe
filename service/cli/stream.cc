#include "service/cli/stream.h"

#include <unistd.h>

#include "engine/base/fs.h"

namespace slipway::cli {

void LineSplitter::Feed(std::string_view data) {
  for (;;) {
    size_t nl = data.find('\n');
    if (nl == std::string_view::npos) break;
    if (partial_.empty()) {
      sink_(data.substr(0, nl));
    } else {
      partial_.append(data.substr(0, nl));
      sink_(partial_);
      partial_.clear();
    }
    data.remove_prefix(nl + 1);
  }
  partial_.append(data);
}

void LineSplitter::Finish() {
  if (partial_.empty()) return;
  sink_(partial_);
  partial_.clear();
}

void WriteAll(int fd, std::string_view data) {
  // A closed pipe ends the write: nothing more can be shown.
  (void)slipway::WriteAll(fd, data, "output");
}

Status ReadLogStream(DaemonClient& client, const std::string& path, const std::string& what,
                     const std::function<void(Stream stream, std::string_view data)>& sink) {
  FrameDecoder decoder({.output_in_pieces = true}, sink);
  Status framing;
  Status st = client.Stream("GET", path, nullptr, [&](std::string_view data) {
    framing = decoder.Feed(data);
    return framing.ok();
  });
  if (!framing.ok()) return Internal("the log stream of " + what + " is not framed: " + framing.message());
  return st;
}

Status PrintLogStream(DaemonClient& client, const std::string& path, const std::string& what) {
  return ReadLogStream(client, path, what, [](Stream stream, std::string_view data) {
    WriteAll(stream == Stream::kStdout ? STDOUT_FILENO : STDERR_FILENO, data);
  });
}

}  // namespace slipway::cli
