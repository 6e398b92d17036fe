#include "pipelines/step_log.h"

namespace slipway::pipelines {

Result<std::unique_ptr<StepLogWriter>> StepLogWriter::Create(const std::string& path, int64_t max_bytes) {
  SLIPWAY_ASSIGN_OR_RETURN(LogWriter writer, LogWriter::Create(path));
  return std::unique_ptr<StepLogWriter>(new StepLogWriter(std::move(writer), path, max_bytes));
}

Status StepLogWriter::Write(Stream stream, std::string_view data) {
  std::lock_guard lock(mu_);
  if (closed_) return FailedPrecondition("log " + path_ + " is closed");
  int64_t room = max_bytes_ - written_;
  if (room < 0) room = 0;
  std::string_view kept = data.substr(0, std::min<size_t>(data.size(), static_cast<size_t>(room)));
  dropped_ += static_cast<int64_t>(data.size() - kept.size());
  if (kept.empty()) return Status::Ok();
  written_ += static_cast<int64_t>(kept.size());
  return writer_.Append(stream, kept);
}

Status StepLogWriter::Note(std::string_view line) {
  std::lock_guard lock(mu_);
  if (closed_) return FailedPrecondition("log " + path_ + " is closed");
  std::string text = "[slipway] ";
  text.append(line);
  text.push_back('\n');
  return writer_.Append(Stream::kStderr, text);
}

Status StepLogWriter::Close() {
  std::lock_guard lock(mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  if (dropped_ == 0) return Status::Ok();
  return writer_.Append(Stream::kStderr, "\n[slipway] log cut at " + std::to_string(max_bytes_) + " bytes: " +
                                     std::to_string(dropped_) + " more bytes of output were not kept\n");
}

int64_t StepLogWriter::written() const {
  std::lock_guard lock(mu_);
  return written_;
}

int64_t StepLogWriter::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace slipway::pipelines
