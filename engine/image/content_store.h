// The content store: immutable blobs (layers, configs, manifests) addressed by
// their sha256 digest, laid out like containerd's:
//
//   <root>/blobs/sha256/<hex>   committed blobs, read-only (0444)
//   <root>/ingest/<random>      writes in progress
//
// The invariant: a file under blobs/ always has the digest it is named after.
// Writes go to a temp file in ingest/, are hashed while written, and are
// renamed into place only after the digest (and size) were checked and the
// data was fsynced; an interrupted or corrupted write leaves at most a temp
// file, which the next Open removes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/status.h"
#include "engine/oci/digest.h"

namespace slipway {

class ContentStore;

// Streaming ingest of one blob. Not thread-safe itself; any number of writers
// may run concurrently (each has its own temp file). Must not outlive the
// ContentStore that made it.
class BlobWriter {
 public:
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;
  ~BlobWriter();  // not committed -> temp file removed

  Status Write(std::string_view chunk);
  // Starts over (a retried download): truncates the temp file, new hash.
  // Also allowed after a failed Commit, which dropped the temp file.
  Status Reset();
  int64_t written() const { return written_; }
  // A read-only fd on the data written so far, for a reader that follows
  // the write (BlobFeed). It reads the same file after Commit has renamed
  // it; after a Reset that had to start a new temp file (one after a failed
  // Commit) it reads the old one, which the follower must treat as void.
  Result<UniqueFd> OpenReader() const;
  // Verifies size (if expected_size >= 0) and digest (if expected != nullptr),
  // fsyncs, renames atomically into blobs/sha256/<hex>. On mismatch: removes
  // the temp file and returns kInvalidArgument naming both digests (or both
  // sizes). Committing a blob that already exists is fine (the temp is
  // dropped). After a successful Commit the writer accepts no more data.
  Result<Digest> Commit(const Digest* expected, int64_t expected_size);

 private:
  friend class ContentStore;
  explicit BlobWriter(const ContentStore* store) : store_(store) {}
  Status OpenTemp();
  void DropTemp();

  const ContentStore* store_;
  std::string temp_path_;  // empty when no temp file exists
  UniqueFd fd_;            // holds an flock so that Open leaves live ingests alone
  std::unique_ptr<Sha256> hash_;
  int64_t written_ = 0;
  bool committed_ = false;
};

class ContentStore {
 public:
  // Creates <root> (0700), <root>/blobs/sha256 and <root>/ingest as needed,
  // and removes stale ingest files (those no live writer, in any process,
  // holds locked).
  static Result<std::unique_ptr<ContentStore>> Open(const std::string& root);

  bool Has(const Digest& d) const;
  std::string BlobPath(const Digest& d) const { return blobs_dir_ + "/" + d.hex(); }
  Result<int64_t> Size(const Digest& d) const;
  // The whole blob, for manifests and configs: kResourceExhausted if it is
  // larger than max_bytes, kInternal if it no longer matches its digest.
  Result<std::string> Read(const Digest& d, int64_t max_bytes) const;
  Result<std::unique_ptr<BlobWriter>> NewWriter();
  Result<Digest> Put(std::string_view data, const Digest* expected = nullptr);
  // Rehashes the file: kInternal naming both digests if it was corrupted.
  Status Verify(const Digest& d) const;
  Status Delete(const Digest& d);
  // Every committed blob, sorted.
  std::vector<Digest> List() const;

 private:
  friend class BlobWriter;
  explicit ContentStore(const std::string& root)
      : blobs_dir_(root + "/blobs/sha256"), ingest_dir_(root + "/ingest") {}
  Status RemoveStaleIngests() const;

  std::string blobs_dir_;
  std::string ingest_dir_;
};

}  // namespace slipway
