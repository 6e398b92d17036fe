// A blob on its way into the content store, read by its layer's unpack while
// it is still being written: what lets a pull unpack a layer as it downloads
// rather than after.
//
// Two sides, on two threads:
// - The writer (a download) writes the blob through a BlobWriter, which
//   hashes it, and tells the feed how far the written data goes
//   (Published), that what it wrote is void (Restarted: a retried download
//   starts the file over), and how the blob ended (Finish: committed under
//   its expected digest and size, or the error). Finish must be called on
//   every path, or readers wait forever.
// - The reader (the unpack) reads the writer's temp file through its own fd
//   (BlobWriter::OpenReader), never past what was published, waiting while
//   the writer is behind; the stream ends at the blob's expected size. The
//   writer is never slowed by the reader: the data waits in the file (the
//   page cache), not in a queue, so a slow unpack never stalls the
//   registry's connection into its timeout.
//
// The contract that keeps a bad blob out of the snapshots: nothing the
// reader read may be trusted until Verdict() returns Ok. Ok means the writer
// committed the blob with the expected digest and size, and did not restart
// after publishing anything, so the bytes read were the bytes hashed (the
// temp file is private, 0600 under a 0700 directory, and only the writer
// writes it). After a restart every read and the verdict fail with
// kUnavailable; restarted() then tells the reader to unpack the committed
// blob instead, once WaitFinished() says it is in.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "engine/base/fd.h"
#include "engine/base/status.h"
#include "engine/image/decompress.h"

namespace slipway {

// Thread-safe: one writer, any number of readers.
class BlobFeed {
 public:
  // `reader`: a read-only fd on the writer's temp file; `size`: the blob's
  // expected size in bytes (the descriptor's), where readers see its end.
  BlobFeed(UniqueFd reader, int64_t size) : fd_(std::move(reader)), size_(size) {}
  BlobFeed(const BlobFeed&) = delete;
  BlobFeed& operator=(const BlobFeed&) = delete;

  // --- The writer's side.
  // The first `bytes` bytes of the blob are in the file and hashed.
  void Published(int64_t bytes);
  // The writer starts over: what it published is void.
  void Restarted();
  // The end: Ok if the blob was committed under its digest, else why not.
  void Finish(Status committed);

  // --- The readers' side.
  // A reader of the blob from its first byte (Decompressor::ReadFn: fills a
  // buffer, 0 at the end); each call gives an independent one.
  Decompressor::ReadFn Reader();
  // Waits for Finish: Ok only if the blob was committed and no restart
  // voided what readers read.
  Status Verdict();
  // Waits for Finish: the writer's result, whatever readers read.
  Status WaitFinished();
  bool restarted() const;

 private:
  Result<size_t> ReadAt(int64_t offset, uint8_t* buf, size_t size);
  Status RestartedError() const;

  const UniqueFd fd_;
  const int64_t size_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t published_ = 0;
  bool restarted_ = false;
  bool finished_ = false;
  Status committed_;
};

}  // namespace slipway
