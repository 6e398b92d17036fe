#include "engine/image/blob_feed.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace slipway {

void BlobFeed::Published(int64_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    published_ = std::max(published_, bytes);
  }
  cv_.notify_all();
}

void BlobFeed::Restarted() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Before anything was published no reader can have read anything: the
    // writer truncating its file voids nothing.
    if (published_ > 0) restarted_ = true;
    published_ = 0;
  }
  cv_.notify_all();
}

void BlobFeed::Finish(Status committed) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    committed_ = std::move(committed);
  }
  cv_.notify_all();
}

bool BlobFeed::restarted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return restarted_;
}

Status BlobFeed::RestartedError() const {
  return Status(Code::kUnavailable, "the download started over after the unpack had read from it");
}

Status BlobFeed::WaitFinished() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return finished_; });
  return committed_;
}

Status BlobFeed::Verdict() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return finished_; });
  if (restarted_) return RestartedError();
  if (!committed_.ok()) return committed_.Wrap("the blob was refused");
  return Status::Ok();
}

Decompressor::ReadFn BlobFeed::Reader() {
  return [this, offset = int64_t{0}](uint8_t* buf, size_t size) mutable -> Result<size_t> {
    SLIPWAY_ASSIGN_OR_RETURN(size_t n, ReadAt(offset, buf, size));
    offset += static_cast<int64_t>(n);
    return n;
  };
}

Result<size_t> BlobFeed::ReadAt(int64_t offset, uint8_t* buf, size_t size) {
  size_t want;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return restarted_ || finished_ || offset >= size_ || published_ > offset; });
    if (restarted_) return RestartedError();
    if (offset >= size_) return size_t{0};  // read it all: the end, whatever the verdict
    if (published_ <= offset) {             // finished without publishing the rest
      if (!committed_.ok()) return committed_.Wrap("the download failed");
      return Internal("blob feed: finished at " + std::to_string(published_) + " of " +
                      std::to_string(size_) + " bytes");
    }
    want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(size), published_ - offset));
  }
  // Outside the lock: the writer goes on meanwhile. Should it restart during
  // this pread, the file may be truncated under it; the check below voids
  // whatever came back (Restarted sets the flag before the writer
  // truncates).
  ssize_t n;
  do {
    n = ::pread(fd_.get(), buf, want, offset);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoStatus("pread blob being downloaded");
  std::lock_guard<std::mutex> lock(mu_);
  if (restarted_) return RestartedError();
  if (n == 0) return Internal("blob feed: the file ends at " + std::to_string(offset) + ", published " +
                              std::to_string(published_));
  return static_cast<size_t>(n);
}

}  // namespace slipway
