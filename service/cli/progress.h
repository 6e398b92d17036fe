// Per-blob progress of pulls and pushes: redrawn in place on a terminal,
// one plain line per phase change otherwise (CI logs, pipes).
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "engine/distribution/distribution.h"

namespace slipway::cli {

class ProgressPrinter {
 public:
  explicit ProgressPrinter(int fd);
  TransferProgress Callback();

 private:
  struct Line {
    Digest blob;
    std::string phase;
    int64_t done = 0, total = 0;
  };
  void Update(const Digest& blob, const std::string& phase, int64_t done, int64_t total);
  std::string Format(const Line& line) const;

  int fd_;
  bool tty_;
  std::mutex mu_;
  std::vector<Line> lines_;
  int drawn_ = 0;  // lines on screen from the last redraw
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace slipway::cli
