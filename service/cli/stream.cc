#include "service/cli/stream.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace slipway::cli {

namespace {
constexpr int kResultStream = 3;
constexpr size_t kHeaderSize = 8;
}  // namespace

void FrameDecoder::Feed(std::string_view data) {
  while (!data.empty()) {
    if (remaining_ == 0) {
      size_t take = std::min(kHeaderSize - header_.size(), data.size());
      header_.append(data.substr(0, take));
      data.remove_prefix(take);
      if (header_.size() < kHeaderSize) return;
      auto byte = [&](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(header_[i])); };
      stream_ = static_cast<int>(byte(0));
      remaining_ = byte(4) << 24 | byte(5) << 16 | byte(6) << 8 | byte(7);
      header_.clear();
      if (remaining_ == 0 && stream_ == kResultStream) sink_(stream_, "");
      continue;
    }
    size_t take = std::min<size_t>(remaining_, data.size());
    std::string_view piece = data.substr(0, take);
    data.remove_prefix(take);
    remaining_ -= static_cast<uint32_t>(take);
    if (stream_ != kResultStream) {
      sink_(stream_, piece);
      continue;
    }
    whole_.append(piece);
    if (remaining_ == 0) {
      sink_(stream_, whole_);
      whole_.clear();
    }
  }
}

void LineSplitter::Feed(std::string_view data) {
  for (;;) {
    size_t nl = data.find('\n');
    if (nl == std::string_view::npos) break;
    if (partial_.empty()) {
      sink_(data.substr(0, nl));
    } else {
      partial_.append(data.substr(0, nl));
      sink_(partial_);
      partial_.clear();
    }
    data.remove_prefix(nl + 1);
  }
  partial_.append(data);
}

void LineSplitter::Finish() {
  if (partial_.empty()) return;
  sink_(partial_);
  partial_.clear();
}

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a closed pipe: nothing more can be shown
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace slipway::cli
