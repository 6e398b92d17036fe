#include "engine/base/event_log.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "engine/base/time.h"

namespace slipway {

namespace {

bool Reserved(const std::string& key) {
  return key == "time" || key == "level" || key == "event";
}

Result<UniqueFd> OpenAppend(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd) return ErrnoStatus("open log file " + path);
  return fd;
}

}  // namespace

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "unknown";
}

Result<LogLevel> ParseLogLevel(std::string_view name) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (name == LogLevelName(l)) return l;
  }
  return InvalidArgument("invalid log level \"" + std::string(name) + "\": want debug, info, warn or error");
}

EventLog::EventLog(std::string path, UniqueFd fd, LogLevel level)
    : path_(std::move(path)), fd_(std::move(fd)), level_(level) {}

Result<std::unique_ptr<EventLog>> EventLog::Open(const std::string& path, LogLevel level) {
  UniqueFd fd;
  if (!path.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(fd, OpenAppend(path));
  }
  return std::unique_ptr<EventLog>(new EventLog(path, std::move(fd), level));
}

Status EventLog::Reopen() {
  if (path_.empty()) return Status::Ok();
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd fd, OpenAppend(path_));
  std::lock_guard<std::mutex> lock(mu_);
  fd_ = std::move(fd);
  return Status::Ok();
}

void EventLog::Log(LogLevel level, std::string_view event, const nlohmann::ordered_json& fields) {
  if (!Enabled(level)) return;
  nlohmann::ordered_json line;
  line["time"] = FormatRfc3339Millis(NowUnixMs());
  line["level"] = LogLevelName(level);
  line["event"] = event;
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) line[Reserved(key) ? "_" + key : key] = value;
  } else if (!fields.is_null()) {
    line["fields"] = fields;
  }
  // Ill-formed UTF-8 (a path or command from an image may hold any bytes)
  // becomes U+FFFD instead of an exception.
  WriteLine(line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
}

void EventLog::WriteLine(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  int fd = fd_ ? fd_.get() : STDERR_FILENO;
  // Normally one write(2). The loop only finishes a write a signal cut
  // short; the mutex keeps other threads' lines out of the middle of it.
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to report it: the line is dropped
    done += static_cast<size_t>(n);
  }
}

}  // namespace slipway
