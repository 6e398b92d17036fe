#include "service/cli/stream.h"

#include "engine/base/fs.h"

namespace slipway::cli {

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
  // A closed pipe ends the write: nothing more can be shown.
  (void)slipway::WriteAll(fd, data, "output");
}

}  // namespace slipway::cli
