// Per-blob progress of pulls and pushes, from slipwayd's NDJSON progress
// events: redrawn in place on a terminal, one plain line per phase change
// otherwise (CI logs, pipes).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace slipway::cli {

class ProgressPrinter {
 public:
  explicit ProgressPrinter(int fd);

  // One event: {"blob": "sha256:...", "phase": "downloading", "done": N, "total": N}.
  void Update(const std::string& blob, const std::string& phase, int64_t done, int64_t total);

 private:
  struct Line {
    std::string blob;
    std::string phase;
    int64_t done = 0, total = 0;
  };
  std::string Format(const Line& line) const;

  int fd_;
  bool tty_;
  std::vector<Line> lines_;
  int drawn_ = 0;  // lines on screen from the last redraw
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace slipway::cli
