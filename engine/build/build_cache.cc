#include "engine/build/build_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

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

bool IsKeyHex(std::string_view name) {
  return name.size() == 64 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A name only a build in progress or a crash leaves: Store's and the
// removals' tmp-* dirs, WriteFileAtomic's *.tmp-* files.
bool IsLeftover(std::string_view name) {
  return name.starts_with("tmp-") || name.find(".tmp-") != std::string_view::npos;
}

int64_t Nanos(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

// Sets the mtime of `path` (an entry dir or an image-* file) to now. Best
// effort: a use that is not recorded only makes eviction pick worse.
void MarkUsed(const std::string& path) {
  const struct timespec times[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  (void)::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

// Blocks in use below one directory tree.
struct DiskUsage {
  dev_t dev = 0;                            // what is mounted below is not the layer's
  std::set<std::pair<dev_t, ino_t>> links;  // inodes with several names, counted once
  int64_t bytes = 0;

  // False for what must not be counted (again).
  bool Add(const struct stat& st) {
    if (st.st_dev != dev) return false;
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && !links.insert({st.st_dev, st.st_ino}).second) return false;
    bytes += static_cast<int64_t>(st.st_blocks) * 512;
    return true;
  }
};

Status AddUsageBelow(int fd, const std::string& path, DiskUsage& usage) {
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirAt(fd, path));
  for (const std::string& name : names) {
    std::string child = path + "/" + name;
    struct stat st;
    if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return ErrnoStatus("fstatat " + child);
    if (!usage.Add(st) || !S_ISDIR(st.st_mode)) continue;
    UniqueFd sub(::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) return ErrnoStatus("openat " + child);
    SLIPWAY_RETURN_IF_ERROR(AddUsageBelow(sub.get(), child, usage));
  }
  return Status::Ok();
}

// What the layer dir `layer` takes on disk (see the header); 0 if absent.
Result<int64_t> LayerBytes(const std::string& layer) {
  UniqueFd fd(::open(layer.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd && errno == ENOENT) return int64_t{0};
  if (!fd) return ErrnoStatus("open " + layer);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("fstat " + layer);
  DiskUsage usage;
  usage.dev = st.st_dev;
  usage.Add(st);
  SLIPWAY_RETURN_IF_ERROR(AddUsageBelow(fd.get(), layer, usage));
  return usage.bytes;
}

std::optional<int64_t> ReadSize(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return std::nullopt;
  int64_t bytes = -1;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, bytes);
  if (ec != std::errc() || bytes < 0 || (ptr != end && std::string_view(ptr, end - ptr) != "\n"))
    return std::nullopt;
  return bytes;
}

Status WriteSize(const std::string& entry, int64_t bytes) {
  return WriteFileAtomic(entry + "/size", std::to_string(bytes) + "\n", 0600, false);
}

// The entry in the dir `dir`, if whole. A crash while an older version
// pruned could leave one without `layer/`, which must not pass for a hit.
std::optional<BuildCache::Entry> ReadEntry(const std::string& dir) {
  struct stat st;
  if (::lstat((dir + "/empty").c_str(), &st) == 0 && S_ISREG(st.st_mode))
    return BuildCache::Entry{true, "", LayerSource::kPlainDir, std::nullopt};
  if (::lstat((dir + "/layer").c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  auto source = ReadFile(dir + "/source");
  if (!source.ok() || (*source != "upper" && *source != "dir")) return std::nullopt;
  return BuildCache::Entry{false, dir + "/layer",
                           *source == "upper" ? LayerSource::kOverlayUpper : LayerSource::kPlainDir,
                           ReadBlobRecord(dir + "/blob")};
}

// What EvictBuildCache sees in the cache dir.
struct Listed {
  std::string name;
  struct timespec used;  // the mtime
  int64_t bytes = 0;     // entries only
};
struct Listing {
  std::vector<Listed> entries, images;
  std::vector<std::string> leftovers;
};

Result<Listing> ListCache(int fd, const std::string& dir) {
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirAt(fd, dir));
  Listing listing;
  for (std::string& name : names) {
    struct stat st;
    if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return ErrnoStatus("fstatat " + dir + "/" + name);
    if (IsLeftover(name)) {
      listing.leftovers.push_back(std::move(name));
    } else if (IsKeyHex(name) && S_ISDIR(st.st_mode)) {
      // One that is no entry, only a crash's remains, is a leftover too.
      if (!ReadEntry(dir + "/" + name))
        listing.leftovers.push_back(std::move(name));
      else
        listing.entries.push_back({std::move(name), st.st_mtim});
    } else if (name.starts_with("image-") && IsKeyHex(std::string_view(name).substr(6)) &&
               S_ISREG(st.st_mode)) {
      listing.images.push_back({std::move(name), st.st_mtim});
    }
  }
  return listing;
}

// The entry's `size`, or, for one made before sizes were recorded, its
// measure, recorded for the next time.
Result<int64_t> EntrySize(int fd, const std::string& dir, const Listed& entry) {
  std::string path = dir + "/" + entry.name;
  if (std::optional<int64_t> bytes = ReadSize(path + "/size")) return *bytes;
  SLIPWAY_ASSIGN_OR_RETURN(int64_t bytes, LayerBytes(path + "/layer"));
  // Best effort, both: writing `size` moves the entry's mtime, its last use.
  if (WriteSize(path, bytes).ok()) {
    const struct timespec times[2] = {{0, UTIME_OMIT}, entry.used};
    (void)::utimensat(fd, entry.name.c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
  return bytes;
}

// Fills in the sizes of `entries` and returns their sum; sorts them least
// recently used first.
Result<int64_t> SizeAndSort(int fd, const std::string& dir, std::vector<Listed>& entries) {
  int64_t total = 0;
  for (Listed& entry : entries) {
    SLIPWAY_ASSIGN_OR_RETURN(entry.bytes, EntrySize(fd, dir, entry));
    total += entry.bytes;
  }
  std::sort(entries.begin(), entries.end(), [](const Listed& a, const Listed& b) {
    if (Nanos(a.used) != Nanos(b.used)) return Nanos(a.used) < Nanos(b.used);
    return a.name < b.name;
  });
  return total;
}

// Renames the entries `names` of the cache dir `fd` (at `dir`) to tmp-*
// names, returned, and makes that durable before any of their files goes:
// a crash while removing them then leaves leftovers, never a half entry.
Result<std::vector<std::string>> Hide(int fd, const std::string& dir, const std::vector<std::string>& names) {
  std::vector<std::string> hidden;
  for (const std::string& name : names) {
    std::string temp = "tmp-" + RandomHex(8);
    if (::renameat(fd, name.c_str(), fd, temp.c_str()) != 0)
      return ErrnoStatus("rename " + dir + "/" + name + " to " + temp);
    hidden.push_back(std::move(temp));
  }
  if (!hidden.empty() && ::fsync(fd) != 0) return ErrnoStatus("fsync " + dir);
  return hidden;
}

// The cache dir, or an invalid fd if there is none (yet).
Result<UniqueFd> OpenCacheDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd && errno != ENOENT) return ErrnoStatus("open " + dir);
  return fd;
}

// Removes image-* files used before the oldest entry kept, or, if none is
// kept, no later than the last one removed (`entries` oldest first, the
// first `removed` of them gone).
Status DropOldImages(int fd, const std::string& dir, const Listing& listing, size_t removed) {
  bool kept_any = removed < listing.entries.size();
  int64_t cut =
      kept_any ? Nanos(listing.entries[removed].used) : Nanos(listing.entries[removed - 1].used) + 1;
  for (const Listed& image : listing.images) {
    if (Nanos(image.used) >= cut) continue;
    if (::unlinkat(fd, image.name.c_str(), 0) != 0 && errno != ENOENT)
      return ErrnoStatus("unlink " + dir + "/" + image.name);
  }
  return Status::Ok();
}

}  // namespace

Result<UniqueFd> BuildCache::Use() const {
  return LockCache(dir_, LOCK_SH);
}

Status PruneBuildCache(const std::string& dir) {
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd lock, LockCache(dir, LOCK_EX | LOCK_NB));
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd fd, OpenCacheDir(dir));
  if (!fd) return Status::Ok();
  SLIPWAY_ASSIGN_OR_RETURN(Listing listing, ListCache(fd.get(), dir));
  std::vector<std::string> entries;
  for (const Listed& entry : listing.entries) entries.push_back(entry.name);
  SLIPWAY_RETURN_IF_ERROR(Hide(fd.get(), dir, entries).status());
  return RemoveTree(dir);
}

Result<EvictStats> EvictBuildCache(const std::string& dir, int64_t max_bytes) {
  EvictStats stats;
  if (max_bytes <= 0) return stats;
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd lock, LockCache(dir, LOCK_EX | LOCK_NB));
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd fd, OpenCacheDir(dir));
  if (!fd) return stats;
  SLIPWAY_ASSIGN_OR_RETURN(Listing listing, ListCache(fd.get(), dir));
  // No build holds the lock, so these are no build's work in progress.
  for (const std::string& name : listing.leftovers) SLIPWAY_RETURN_IF_ERROR(RemoveTree(dir + "/" + name));

  std::vector<Listed>& entries = listing.entries;
  SLIPWAY_ASSIGN_OR_RETURN(stats.bytes_kept, SizeAndSort(fd.get(), dir, entries));
  std::vector<std::string> victims;
  for (size_t i = 0; i < entries.size() && stats.bytes_kept > max_bytes; ++i) {
    victims.push_back(entries[i].name);
    stats.bytes_kept -= entries[i].bytes;
    stats.bytes_removed += entries[i].bytes;
  }
  if (victims.empty()) return stats;

  SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> hidden, Hide(fd.get(), dir, victims));
  for (const std::string& name : hidden) SLIPWAY_RETURN_IF_ERROR(RemoveTree(dir + "/" + name));
  stats.entries_removed = static_cast<int>(victims.size());
  SLIPWAY_RETURN_IF_ERROR(DropOldImages(fd.get(), dir, listing, victims.size()));
  return stats;
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

std::optional<BuildCache::Entry> BuildCache::Lookup(const Digest& key) const {
  std::string dir = dir_ + "/" + key.hex();
  std::optional<Entry> entry = ReadEntry(dir);
  if (entry) MarkUsed(dir);
  return entry;
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
    if (layer_dir.empty()) {
      (void)WriteSize(temp, 0);
      return WriteFileAtomic(temp + "/empty", "", 0600, false);
    }
    SLIPWAY_RETURN_IF_ERROR(WriteFileAtomic(
        temp + "/source", source == LayerSource::kOverlayUpper ? "upper" : "dir", 0600, false));
    if (::rename(layer_dir.c_str(), (temp + "/layer").c_str()) != 0)
      return ErrnoStatus("rename " + layer_dir);
    // Best effort: eviction measures an entry without `size` itself.
    if (Result<int64_t> bytes = LayerBytes(temp + "/layer"); bytes.ok()) (void)WriteSize(temp, *bytes);
    return Status::Ok();
  }();
  if (status.ok()) status = RenameNoReplace(temp, dir_ + "/" + key.hex());
  if (status.ok()) {
    std::optional<Entry> entry = Lookup(key);
    if (!entry) return Internal("build cache entry " + key.hex() + " vanished");
    return *entry;
  }
  if (status.code() == Code::kAlreadyExists) {
    if (std::optional<Entry> theirs = Lookup(key)) {  // another build stored it first
      (void)RemoveTree(temp);
      return *theirs;
    }
    // What is there is a crash's remains (see ReadEntry), which only
    // eviction or pruning may remove: use ours where it is, uncached.
    if (std::optional<Entry> ours = ReadEntry(temp)) return *ours;
  }
  (void)RemoveTree(temp);
  return status;
}

std::optional<Digest> BuildCache::LookupImage(const Digest& key) const {
  std::string path = dir_ + "/image-" + key.hex();
  auto text = ReadFile(path);
  if (!text.ok()) return std::nullopt;
  auto manifest = Digest::Parse(*text);
  if (!manifest.ok()) return std::nullopt;
  MarkUsed(path);
  return *manifest;
}

void BuildCache::RememberImage(const Digest& key, const Digest& manifest) {
  if (!MakeDirs(dir_, 0700).ok()) return;
  (void)WriteFileAtomic(dir_ + "/image-" + key.hex(), manifest.str(), 0600, false);
}

}  // namespace slipway
