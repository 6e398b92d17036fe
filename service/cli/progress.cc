#include "service/cli/progress.h"

#include <unistd.h>

#include <cstdio>

#include "service/cli/format.h"
#include "service/cli/stream.h"

namespace slipway::cli {

namespace {

std::string Bytes(int64_t n) {
  char buf[32];
  if (n >= (1 << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(n) / (1 << 20));
  } else if (n >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f kB", static_cast<double>(n) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(n));
  }
  return buf;
}

}  // namespace

ProgressPrinter::ProgressPrinter(int fd) : fd_(fd), tty_(::isatty(fd) == 1) {}

std::string ProgressPrinter::Format(const Line& l) const {
  std::string s = ShortId(l.blob) + ": " + l.phase;
  if (l.phase == "downloading" || l.phase == "uploading") {
    s += " " + Bytes(l.done) + " / " + Bytes(l.total);
  } else if (l.total > 0) {
    s += " (" + Bytes(l.total) + ")";
  }
  return s;
}

void ProgressPrinter::Update(const std::string& blob, const std::string& phase, int64_t done, int64_t total) {
  Line* line = nullptr;
  for (auto& l : lines_) {
    if (l.blob == blob) line = &l;
  }
  if (!line) line = &lines_.emplace_back(Line{blob, "", 0, 0});
  bool phase_changed = line->phase != phase;
  *line = {blob, phase, done, total};
  if (!tty_) {
    if (phase_changed) WriteAll(fd_, Format(*line) + "\n");
    return;
  }
  // Byte counts arrive often; a terminal is redrawn ten times a second at most.
  auto now = std::chrono::steady_clock::now();
  if (!phase_changed && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  std::string out;
  if (drawn_ > 0) out += "\x1b[" + std::to_string(drawn_) + "A";  // back to the first line
  for (const auto& l : lines_) out += "\x1b[2K" + Format(l) + "\n";
  drawn_ = static_cast<int>(lines_.size());
  WriteAll(fd_, out);
}

}  // namespace slipway::cli
