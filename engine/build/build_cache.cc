#include "engine/build/build_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <sstream>

#include "engine/base/fs.h"

namespace slipway {
namespace {

void AddPart(Sha256& hash, std::string_view part) {
  std::string length = std::to_string(part.size()) + ":";
  hash.Update(length);
  hash.Update(part);
}

Status HashEntry(const LayerTree& tree, const LayerTree::Entry& e, const CopySkip& skip, Sha256& hash) {
  const struct stat& st = e.st;
  AddPart(hash, e.path);
  AddPart(hash, std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + " " +
                    std::to_string(st.st_gid) + " " + std::to_string(st.st_size));
  if (S_ISREG(st.st_mode)) {
    Sha256 content;
    SLIPWAY_RETURN_IF_ERROR(LayerTree::ReadContent(e, [&](std::string_view chunk) {
      content.Update(chunk);
      return Status::Ok();
    }));
    AddPart(hash, content.Finish().str());
  } else if (S_ISLNK(st.st_mode)) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string target, LayerTree::ReadLinkTarget(e));
    AddPart(hash, target);
  } else if (S_ISDIR(st.st_mode)) {
    SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> names, tree.List(e.path));
    for (const std::string& name : names) {
      std::string child = e.path.empty() ? name : e.path + "/" + name;
      SLIPWAY_ASSIGN_OR_RETURN(std::optional<LayerTree::Entry> entry, tree.Find(child));
      if (!entry || (skip && skip(child, S_ISDIR(entry->st.st_mode)))) continue;
      SLIPWAY_RETURN_IF_ERROR(HashEntry(tree, *entry, skip, hash));
    }
  }
  return Status::Ok();
}

// <dir>.lock, locked with `operation` (LOCK_SH, LOCK_EX | LOCK_NB).
Result<UniqueFd> LockCache(const std::string& dir, int operation) {
  std::string path = dir + ".lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return ErrnoStatus("open " + path);
  if (::flock(fd.get(), operation) != 0) {
    if (errno == EWOULDBLOCK) return FailedPrecondition("the build cache is in use by a running build");
    return ErrnoStatus("flock " + path);
  }
  return fd;
}

}  // namespace

Result<UniqueFd> BuildCache::Use() const {
  return LockCache(dir_, LOCK_SH);
}

Status PruneBuildCache(const std::string& dir) {
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd lock, LockCache(dir, LOCK_EX | LOCK_NB));
  return RemoveTree(dir);
}

Digest ChainKey(const Digest& parent, const std::vector<std::string>& parts) {
  Sha256 hash;
  AddPart(hash, parent.str());
  for (const std::string& part : parts) AddPart(hash, part);
  return hash.Finish();
}

Result<Digest> HashSources(const LayerTree& tree, const std::vector<std::string>& sources,
                           const CopySkip& skip) {
  Sha256 hash;
  for (const std::string& source : sources) {
    SLIPWAY_ASSIGN_OR_RETURN(std::optional<LayerTree::Entry> entry, tree.Find(source));
    if (!entry) return NotFound(source + ": not found");
    SLIPWAY_RETURN_IF_ERROR(HashEntry(tree, *entry, skip, hash));
  }
  return hash.Finish();
}

// "<blob> <size> <diff id> <media type>", as RememberBlob writes it.
std::optional<LayerRecord> ReadBlobRecord(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return std::nullopt;
  std::istringstream in(*text);
  std::string blob, diff_id;
  LayerRecord record;
  if (!(in >> blob >> record.size >> diff_id >> record.media_type)) return std::nullopt;
  auto b = Digest::Parse(blob);
  auto d = Digest::Parse(diff_id);
  if (!b.ok() || !d.ok()) return std::nullopt;
  record.blob = *b;
  record.diff_id = *d;
  return record;
}

std::optional<BuildCache::Entry> BuildCache::Lookup(const Digest& key) const {
  std::string dir = dir_ + "/" + key.hex();
  if (PathExists(dir + "/empty")) return Entry{true, "", LayerSource::kPlainDir, std::nullopt};
  auto source = ReadFile(dir + "/source");
  if (!source.ok() || !PathExists(dir + "/layer")) return std::nullopt;
  return Entry{false, dir + "/layer",
               *source == "upper" ? LayerSource::kOverlayUpper : LayerSource::kPlainDir,
               ReadBlobRecord(dir + "/blob")};
}

void BuildCache::RememberBlob(const std::string& layer_dir, const LayerRecord& record) {
  std::string entry = layer_dir.substr(0, layer_dir.rfind('/'));
  std::string text = record.blob.str() + " " + std::to_string(record.size) + " " + record.diff_id.str() +
                     " " + record.media_type + "\n";
  (void)WriteFileAtomic(entry + "/blob", text, 0600, false);
}

Result<BuildCache::Entry> BuildCache::Store(const Digest& key, const std::string& layer_dir,
                                            LayerSource source) {
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(dir_, 0700));
  std::string temp = dir_ + "/tmp-" + RandomHex(8);
  if (::mkdir(temp.c_str(), 0700) != 0) return ErrnoStatus("mkdir " + temp);
  Status status = [&]() -> Status {
    if (layer_dir.empty()) return WriteFileAtomic(temp + "/empty", "", 0600, false);
    SLIPWAY_RETURN_IF_ERROR(WriteFileAtomic(
        temp + "/source", source == LayerSource::kOverlayUpper ? "upper" : "dir", 0600, false));
    if (::rename(layer_dir.c_str(), (temp + "/layer").c_str()) != 0)
      return ErrnoStatus("rename " + layer_dir);
    return Status::Ok();
  }();
  if (status.ok()) status = RenameNoReplace(temp, dir_ + "/" + key.hex());
  if (!status.ok() && status.code() != Code::kAlreadyExists) {
    (void)RemoveTree(temp);
    return status;
  }
  if (!status.ok()) (void)RemoveTree(temp);  // another build stored it first: use theirs
  auto entry = Lookup(key);
  if (!entry) return Internal("build cache entry " + key.hex() + " vanished");
  return *entry;
}

std::optional<Digest> BuildCache::LookupImage(const Digest& key) const {
  auto text = ReadFile(dir_ + "/image-" + key.hex());
  if (!text.ok()) return std::nullopt;
  auto manifest = Digest::Parse(*text);
  if (!manifest.ok()) return std::nullopt;
  return *manifest;
}

void BuildCache::RememberImage(const Digest& key, const Digest& manifest) {
  if (!MakeDirs(dir_, 0700).ok()) return;
  (void)WriteFileAtomic(dir_ + "/image-" + key.hex(), manifest.str(), 0600, false);
}

}  // namespace slipway
