// Sandbox output: where it streams to while it is written, and the log file
// that keeps it.
//
// The log file uses Docker's attach framing (engine/runtime/frame.h) so it can
// later be served as is: one frame per chunk, stdout and stderr only, in the
// order they were written.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "engine/base/fd.h"
#include "engine/base/status.h"
#include "engine/runtime/frame.h"

namespace slipway {

class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual void Write(Stream stream, std::string_view data) = 0;
};

// Writes stdout chunks to one fd and stderr chunks to another (the CLI's own).
class FdSink : public OutputSink {
 public:
  FdSink(int stdout_fd, int stderr_fd) : out_(stdout_fd), err_(stderr_fd) {}
  void Write(Stream stream, std::string_view data) override;

 private:
  int out_, err_;
};

class LogWriter {
 public:
  static Result<LogWriter> Create(const std::string& path);
  // One frame of kStdout or kStderr (several if `data` exceeds
  // kMaxFramePayload, so that every reader accepts the file).
  Status Append(Stream stream, std::string_view data);

 private:
  explicit LogWriter(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// Calls `chunk` for every framed chunk of the log at `path`, from byte
// `offset`. Returns the offset after the last complete chunk, so a follower
// can call again when the file grows. Holds one chunk at a time, not the file;
// a header that is not a log chunk's is kInternal ("corrupt log").
Result<uint64_t> ReadLog(const std::string& path, uint64_t offset,
                         const std::function<void(Stream, std::string_view)>& chunk);

}  // namespace slipway
