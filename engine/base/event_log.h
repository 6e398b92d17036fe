// slipwayd's event log: one JSON object per line, for machines first.
//
//   {"time":"2026-11-29T08:55:01.123Z","level":"info","event":"container.started","id":"5d0f...","pid":123}
//
// `time` (RFC 3339, UTC, milliseconds), `level` and `event` come first, then
// the caller's fields in the order given. A field named time, level or event
// is written as _time, _level or _event rather than hiding the real one.
//
// Thread-safe: each line is written whole, by one write(2) under a mutex,
// so lines from different threads never interleave; files are opened with
// O_APPEND, so another process appending to the same file does not
// overwrite them. Logging never fails its caller: a line that cannot be
// written is dropped.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "engine/base/fd.h"
#include "engine/base/status.h"

namespace slipway {

enum class LogLevel { kDebug = 0, kInfo, kWarn, kError };

const char* LogLevelName(LogLevel level);  // "debug", "info", "warn", "error"
Result<LogLevel> ParseLogLevel(std::string_view name);

class EventLog {
 public:
  // Appends to `path` (created with mode 0640 if missing), or writes to
  // stderr when `path` is empty. Events below `level` are dropped.
  static Result<std::unique_ptr<EventLog>> Open(const std::string& path, LogLevel level);

  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // `fields`: a JSON object, usually written in place:
  //   log.Info("container.started", {{"id", id}, {"pid", pid}});
  // Anything else that is not null is written under the key "fields".
  void Log(LogLevel level, std::string_view event, const nlohmann::ordered_json& fields = nullptr);
  void Debug(std::string_view event, const nlohmann::ordered_json& fields = nullptr) {
    Log(LogLevel::kDebug, event, fields);
  }
  void Info(std::string_view event, const nlohmann::ordered_json& fields = nullptr) {
    Log(LogLevel::kInfo, event, fields);
  }
  void Warn(std::string_view event, const nlohmann::ordered_json& fields = nullptr) {
    Log(LogLevel::kWarn, event, fields);
  }
  void Error(std::string_view event, const nlohmann::ordered_json& fields = nullptr) {
    Log(LogLevel::kError, event, fields);
  }

  // Whether an event at `level` would be written: lets a caller skip building
  // expensive fields for debug events.
  bool Enabled(LogLevel level) const { return level >= level_.load(std::memory_order_relaxed); }
  void SetLevel(LogLevel level) { level_.store(level, std::memory_order_relaxed); }

  // Opens the file again by its path, for log rotation (SIGHUP after
  // logrotate moved it away). Nothing to do for stderr.
  Status Reopen();

 private:
  EventLog(std::string path, UniqueFd fd, LogLevel level);
  void WriteLine(const std::string& line);

  const std::string path_;  // empty: stderr
  std::mutex mu_;           // guards fd_ and keeps each line's write whole
  UniqueFd fd_;             // invalid: stderr
  std::atomic<LogLevel> level_;
};

}  // namespace slipway
