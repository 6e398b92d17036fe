// Decoders for the daemon's two stream formats. Both take the body in
// whatever pieces the network delivers and emit whole units.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "engine/base/status.h"

namespace slipway::cli {

// Docker's multiplexed stream (attach, logs): frames of an 8-byte header
// {stream, 0, 0, 0, size as big-endian uint32} and `size` bytes. Stream 1 is
// stdout, 2 stderr, 3 the container object as it ended (attach only).
class FrameDecoder {
 public:
  using Sink = std::function<void(int stream, std::string_view payload)>;
  explicit FrameDecoder(Sink sink) : sink_(std::move(sink)) {}

  // Output frames are passed on in pieces as they arrive (a long line is not
  // held back); a stream-3 frame whole.
  void Feed(std::string_view data);
  // Whether the stream ended between frames.
  bool at_frame_boundary() const { return header_.empty() && remaining_ == 0; }

 private:
  Sink sink_;
  std::string header_;      // the part of a header read so far
  int stream_ = 0;          // of the frame being read
  uint32_t remaining_ = 0;  // its bytes still to come
  std::string whole_;       // a stream-3 frame, collected
};

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
