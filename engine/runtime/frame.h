// Docker's multiplexed stream frame: the one codec for the sandbox log file
// (engine/runtime/log.h), slipwayd's attach and logs streams, and the CLI
// that reads them (docs/api.md, "Attach").
//
// A frame is an 8-byte header {stream, 0, 0, 0, size as big-endian uint32}
// followed by `size` bytes of payload. This target depends on engine/base
// only, so the CLI can use it without the runtime's libraries.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "engine/base/status.h"

namespace slipway {

// A frame's stream id, byte 0 of its header.
enum class Stream : uint8_t {
  kStdout = 1,
  kStderr = 2,
  // The last frame of an attach stream: the container object as it ended
  // (JSON). Never in a log file or a logs stream.
  kEnd = 3,
};

constexpr size_t kFrameHeaderSize = 8;

// The largest payload a decoder accepts. Writers stay far below it: output
// goes in chunks of one pipe read (64 KiB) and the end frame is one container
// object. A larger size is a corrupt or hostile stream, refused before
// anything is allocated for it.
constexpr uint32_t kMaxFramePayload = 16 << 20;

// The header of a frame of `size` payload bytes. `size` must be at most
// kMaxFramePayload, or decoders refuse the frame.
std::array<char, kFrameHeaderSize> EncodeFrameHeader(Stream stream, uint32_t size);
// Header and payload in one string.
std::string EncodeFrame(Stream stream, std::string_view payload);

// Decodes a stream of frames from pieces split anywhere (the network's,
// a file's reads). Keeps at most one frame's payload (whole delivery) or one
// header (piecewise delivery).
class FrameDecoder {
 public:
  struct Options {
    // Pass stdout and stderr payloads on in pieces as they arrive (a long
    // line is not held back), instead of each frame whole. A kEnd frame is
    // always passed on whole.
    bool output_in_pieces = false;
    // Whether kEnd frames may appear (attach streams); elsewhere one is an
    // error.
    bool allow_end = false;
  };
  // Called once per frame with its whole payload (a zero-length frame too),
  // or with each non-empty piece of an output frame under output_in_pieces.
  using Sink = std::function<void(Stream stream, std::string_view payload)>;

  FrameDecoder(Options options, Sink sink) : options_(options), sink_(std::move(sink)) {}

  // Consumes all of `data`. At a header with an unknown stream id, non-zero
  // padding or a size above kMaxFramePayload it returns kInvalidArgument,
  // and the same for every later call: the rest of such a stream cannot be
  // trusted to be framed.
  Status Feed(std::string_view data);

  // Whether the input so far ended between frames (a stream cut short ends
  // inside one).
  bool at_frame_boundary() const { return header_size_ == 0 && !in_payload_; }
  // How many bytes fed so far lie in complete frames: where the next frame
  // starts, or the bad header begins once Feed failed.
  uint64_t complete_bytes() const { return complete_bytes_; }

 private:
  Status StartFrame();
  void Deliver(std::string_view piece);

  Options options_;
  Sink sink_;
  Status error_;
  char header_[kFrameHeaderSize] = {};
  size_t header_size_ = 0;   // the part of a header read so far
  bool in_payload_ = false;  // a header was read, its payload is due
  Stream stream_ = Stream::kStdout;
  uint32_t remaining_ = 0;  // payload bytes still to come
  uint32_t size_ = 0;       // the frame's whole payload size
  std::string whole_;       // a payload collected across pieces
  uint64_t complete_bytes_ = 0;
};

}  // namespace slipway
