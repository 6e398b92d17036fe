// A step's stored output: the file a run keeps for each of its steps and
// services (<runs_dir>/<id>/logs/<n>.log), framed as a sandbox's output log
// (engine/runtime/frame.h) so the container logs' reader and the API's
// stream serve it unchanged.
//
// Capped: past `max_bytes` of output, the rest is counted and dropped, and
// Close() says how much was cut, in the log itself. Slipway's own lines
// (Note: what was fetched, pulled, why a step was skipped) are not counted
// against the cap, so the reason a log ends is always in it.
//
// What reaches the writer is already masked: a step's secrets are masked by
// slipway-monitor as the step writes them.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "engine/base/status.h"
#include "engine/runtime/log.h"

namespace slipway::pipelines {

class StepLogWriter {
 public:
  // Creates the log at `path` (as LogWriter::Create does).
  static Result<std::unique_ptr<StepLogWriter>> Create(const std::string& path, int64_t max_bytes);

  // Appends output of `stream`, or counts it once the cap is reached.
  // Thread-safe.
  Status Write(Stream stream, std::string_view data);
  // Appends one line of slipway's own ("[slipway] " + line), on stderr.
  Status Note(std::string_view line);
  // Writes the note of what was cut, if anything was. Idempotent.
  Status Close();

  int64_t written() const;
  int64_t dropped() const;

 private:
  StepLogWriter(LogWriter writer, std::string path, int64_t max_bytes)
      : writer_(std::move(writer)), path_(std::move(path)), max_bytes_(max_bytes) {}

  mutable std::mutex mu_;
  LogWriter writer_;  // the sandbox log's own framing
  std::string path_;
  int64_t max_bytes_;
  int64_t written_ = 0;
  int64_t dropped_ = 0;
  bool closed_ = false;
};

}  // namespace slipway::pipelines
