#include "engine/image/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "engine/base/fs.h"

namespace slipway {
namespace {

Result<Digest> HashFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + path);
  Sha256 hash;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read " + path);
    if (n == 0) break;
    hash.Update(buf, static_cast<size_t>(n));
  }
  return hash.Finish();
}

}  // namespace

// ---- BlobWriter ----

BlobWriter::~BlobWriter() {
  DropTemp();
}

Status BlobWriter::OpenTemp() {
  for (;;) {
    std::string path = store_->ingest_dir_ + "/" + RandomHex(16);
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) return ErrnoStatus("create " + path);
    // The lock tells ContentStore::Open (maybe in another process) that this
    // ingest is alive. Open may have unlinked the file between our create and
    // our lock; then the link count is 0 and we start over with a new name.
    if (::flock(fd.get(), LOCK_EX) != 0) return ErrnoStatus("flock " + path);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("fstat " + path);
    if (st.st_nlink == 0) continue;
    temp_path_ = std::move(path);
    fd_ = std::move(fd);
    hash_ = std::make_unique<Sha256>();
    written_ = 0;
    return Status::Ok();
  }
}

void BlobWriter::DropTemp() {
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  temp_path_.clear();
  fd_.reset();
  hash_.reset();
}

Status BlobWriter::Write(std::string_view chunk) {
  if (committed_) return FailedPrecondition("write blob: already committed");
  if (!fd_) return FailedPrecondition("write blob: the previous commit failed; Reset first");
  SLIPWAY_RETURN_IF_ERROR(WriteAll(fd_.get(), chunk, temp_path_));
  hash_->Update(chunk);
  written_ += static_cast<int64_t>(chunk.size());
  return Status::Ok();
}

Result<UniqueFd> BlobWriter::OpenReader() const {
  if (!fd_) return FailedPrecondition("open blob reader: no temp file (committed, or a failed commit)");
  UniqueFd fd(::open(temp_path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + temp_path_);
  return fd;
}

Status BlobWriter::Reset() {
  if (committed_) return FailedPrecondition("reset blob writer: already committed");
  if (!fd_) return OpenTemp();
  if (::ftruncate(fd_.get(), 0) != 0) return ErrnoStatus("ftruncate " + temp_path_);
  if (::lseek(fd_.get(), 0, SEEK_SET) != 0) return ErrnoStatus("lseek " + temp_path_);
  hash_ = std::make_unique<Sha256>();
  written_ = 0;
  return Status::Ok();
}

Result<Digest> BlobWriter::Commit(const Digest* expected, int64_t expected_size) {
  if (committed_) return FailedPrecondition("commit blob: already committed");
  if (!fd_) return FailedPrecondition("commit blob: the previous commit failed; Reset first");
  Digest got = hash_->Finish();
  hash_.reset();
  Status st;
  if (expected_size >= 0 && written_ != expected_size) {
    st = InvalidArgument("commit blob " + (expected ? expected->str() : got.str()) +
                         ": size mismatch: expected " + std::to_string(expected_size) + " bytes, got " +
                         std::to_string(written_) + " bytes (" + got.str() + ")");
  } else if (expected && *expected != got) {
    st = InvalidArgument("commit blob: digest mismatch: expected " + expected->str() + ", got " + got.str());
  } else if (::fchmod(fd_.get(), 0444) != 0) {
    st = ErrnoStatus("fchmod " + temp_path_);
  } else if (::fsync(fd_.get()) != 0) {
    st = ErrnoStatus("fsync " + temp_path_);
  }
  if (st.ok()) {
    st = RenameNoReplace(temp_path_, store_->BlobPath(got));
    if (st.ok()) {
      temp_path_.clear();  // it is the blob now
    } else if (st.code() == Code::kAlreadyExists) {
      st = Status::Ok();  // another writer committed the same content; ours is dropped below
    }
  }
  if (st.ok()) st = FsyncDir(store_->blobs_dir_);
  DropTemp();
  if (!st.ok()) return st;
  committed_ = true;
  return got;
}

// ---- ContentStore ----

Result<std::unique_ptr<ContentStore>> ContentStore::Open(const std::string& root) {
  std::unique_ptr<ContentStore> store(new ContentStore(root));
  // Private: blobs of private images must not be readable by host users.
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(root, 0700));
  if (::chmod(root.c_str(), 0700) != 0) return ErrnoStatus("chmod " + root);
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(store->blobs_dir_));
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(store->ingest_dir_));
  SLIPWAY_RETURN_IF_ERROR(store->RemoveStaleIngests());
  return store;
}

Status ContentStore::RemoveStaleIngests() const {
  for (const std::string& name : ListDir(ingest_dir_)) {
    std::string path = ingest_dir_ + "/" + name;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) continue;
      // Not a file we could lock (a symlink, say): nothing a writer uses.
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink " + path);
      continue;
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) continue;  // a live writer
      return ErrnoStatus("flock " + path);
    }
    // Unlink while holding the lock: a writer that races us sees nlink == 0.
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      if (errno == EISDIR || errno == EPERM) {
        SLIPWAY_RETURN_IF_ERROR(RemoveTree(path));
      } else {
        return ErrnoStatus("unlink " + path);
      }
    }
  }
  return Status::Ok();
}

bool ContentStore::Has(const Digest& d) const {
  struct stat st;
  return !d.empty() && ::stat(BlobPath(d).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<int64_t> ContentStore::Size(const Digest& d) const {
  std::string path = BlobPath(d);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat " + path);
  return static_cast<int64_t>(st.st_size);
}

Result<std::string> ContentStore::Read(const Digest& d, int64_t max_bytes) const {
  std::string path = BlobPath(d);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("fstat " + path);
  if (st.st_size > max_bytes) {
    return Status(Code::kResourceExhausted, "read blob " + d.str() + ": " + std::to_string(st.st_size) +
                                                " bytes, more than the limit of " +
                                                std::to_string(max_bytes));
  }
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read " + path);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  // Small blobs are cheap to rehash, and a manifest or config is what the
  // rest of the engine trusts: check it rather than hand out corrupted JSON.
  Digest actual = Digest::Of(data);
  if (actual != d) {
    return Internal("read blob " + d.str() + ": content is corrupt, it hashes to " + actual.str());
  }
  return data;
}

Result<std::unique_ptr<BlobWriter>> ContentStore::NewWriter() {
  std::unique_ptr<BlobWriter> w(new BlobWriter(this));
  SLIPWAY_RETURN_IF_ERROR(w->OpenTemp());
  return w;
}

Result<Digest> ContentStore::Put(std::string_view data, const Digest* expected) {
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> w, NewWriter());
  SLIPWAY_RETURN_IF_ERROR(w->Write(data));
  return w->Commit(expected, -1);
}

Status ContentStore::Verify(const Digest& d) const {
  SLIPWAY_ASSIGN_OR_RETURN(Digest actual, HashFile(BlobPath(d)));
  if (actual != d) {
    return Internal("verify blob " + d.str() + ": content is corrupt, it hashes to " + actual.str());
  }
  return Status::Ok();
}

Status ContentStore::Delete(const Digest& d) {
  std::string path = BlobPath(d);
  if (::unlink(path.c_str()) != 0) return ErrnoStatus("unlink " + path);
  return Status::Ok();
}

std::vector<Digest> ContentStore::List() const {
  std::vector<Digest> out;
  for (const std::string& name : ListDir(blobs_dir_)) {
    auto d = Digest::Parse("sha256:" + name);
    if (d.ok()) out.push_back(*d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace slipway
