#include "engine/image/image_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>

#include "engine/base/ascii.h"
#include "engine/base/database.h"
#include "engine/base/fs.h"
#include "engine/base/time.h"
#include "engine/oci/manifest.h"
#include "engine/oci/reference.h"

namespace slipway {

namespace {

constexpr int64_t kMaxManifestBytes = 4 << 20;
constexpr int64_t kMaxConfigBytes = 16 << 20;

}  // namespace

Result<std::unique_ptr<ImageStore>> ImageStore::Open(const std::string& root, int64_t max_layer_bytes) {
  std::unique_ptr<ImageStore> s(new ImageStore());
  s->root_ = root;
  s->max_layer_bytes_ = max_layer_bytes;
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(root, 0700));
  SLIPWAY_ASSIGN_OR_RETURN(s->content_, ContentStore::Open(root + "/content"));
  SLIPWAY_ASSIGN_OR_RETURN(s->snapshots_, SnapshotStore::Open(root + "/snapshots", max_layer_bytes));
  SLIPWAY_ASSIGN_OR_RETURN(s->metadata_, Metadata::Open(root + "/" + kDatabaseFileName));
  s->empty_layer_dir_ = root + "/empty";
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(s->empty_layer_dir_, 0755));
  return s;
}

Result<WriteLease> ImageStore::Lease() {
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd fd, LockFile(root_ + "/gc.lock", LOCK_SH));
  return WriteLease(std::move(fd));
}

bool ImageStore::HasBlob(const Digest& blob) const {
  return content_->Has(blob);
}

Result<int64_t> ImageStore::BlobSize(const Digest& blob) const {
  return content_->Size(blob);
}

std::string ImageStore::BlobPath(const Digest& blob) const {
  return content_->BlobPath(blob);
}

Result<std::unique_ptr<BlobWriter>> ImageStore::NewBlobWriter() {
  return content_->NewWriter();
}

Result<Digest> ImageStore::PutBlob(std::string_view data, const Digest* expected) {
  return content_->Put(data, expected);
}

Result<std::string> ImageStore::ConfigJson(const Digest& config) const {
  return content_->Read(config, kMaxConfigBytes);
}

bool ImageStore::HasSnapshot(const Digest& chain_id) const {
  return snapshots_->Has(chain_id);
}

Status ImageStore::Unpack(const Digest& chain_id, const Digest& blob, const Digest& diff_id) {
  if (snapshots_->Has(chain_id)) return Status::Ok();
  auto unpacked = snapshots_->Create(chain_id, content_->BlobPath(blob), diff_id);
  if (!unpacked.ok()) return unpacked.status().Wrap("unpack layer " + blob.str());
  return Status::Ok();
}

Status ImageStore::UnpackStreaming(const Digest& chain_id, const Digest& blob, const Digest& diff_id,
                                   BlobFeed& feed) {
  if (snapshots_->Has(chain_id)) return Status::Ok();
  auto unpacked = snapshots_->Create(
      chain_id, [&feed]() -> Result<Decompressor::ReadFn> { return feed.Reader(); }, blob.str(), diff_id,
      [&feed] { return feed.Verdict(); });
  if (!unpacked.ok()) return unpacked.status().Wrap("unpack layer " + blob.str());
  return Status::Ok();
}

Result<std::string> ImageStore::NormalizeName(const std::string& name) {
  SLIPWAY_ASSIGN_OR_RETURN(Reference ref, ParseReference(name));
  return ref.str();
}

Result<std::string> ImageStore::NormalizeNewName(const std::string& name) {
  if (name.starts_with("sha256:")) {
    return InvalidArgument("image name " + name +
                           ": refusing a name that starts with the digest algorithm \"sha256:\"; it would be "
                           "read as an image id and could never name this image");
  }
  if (name.size() == 64 && IsLowerHex(name)) {
    return InvalidArgument("image name " + name +
                           ": refusing a 64-digit hex string as a name; it would be read as an image id");
  }
  return NormalizeName(name);
}

Result<ImageRecord> ImageStore::Commit(const Digest& manifest_digest, const std::string& name) {
  std::string normalized;
  if (!name.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(normalized, NormalizeNewName(name));
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::string body, content_->Read(manifest_digest, kMaxManifestBytes));
  SLIPWAY_ASSIGN_OR_RETURN(Manifest manifest, ParseManifest(body));
  SLIPWAY_ASSIGN_OR_RETURN(std::string config_json, ConfigJson(manifest.config.digest));
  SLIPWAY_ASSIGN_OR_RETURN(ImageConfig config, ImageConfig::Parse(config_json));
  if (config.diff_ids.size() != manifest.layers.size()) {
    return InvalidArgument("image " + manifest_digest.str() + ": the manifest has " +
                           std::to_string(manifest.layers.size()) + " layers but the config lists " +
                           std::to_string(config.diff_ids.size()) + " diff ids");
  }
  ImageRecord image;
  image.id = manifest.config.digest;
  image.manifest_digest = manifest_digest;
  image.manifest_media_type = manifest.media_type;
  image.created_unix_ms = NowUnixMs();
  std::vector<Digest> chains = ChainIds(config.diff_ids);
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    const Descriptor& layer = manifest.layers[i];
    if (!content_->Has(layer.digest))
      return NotFound("layer " + layer.digest.str() + " is not in the content store");
    SLIPWAY_RETURN_IF_ERROR(Unpack(chains[i], layer.digest, config.diff_ids[i]));
    image.layers.push_back({layer.digest, layer.media_type, layer.size, config.diff_ids[i], chains[i]});
  }
  SLIPWAY_RETURN_IF_ERROR(metadata_->PutImage(image));
  if (!normalized.empty()) SLIPWAY_RETURN_IF_ERROR(metadata_->Tag(normalized, image.id));
  return metadata_->GetImage(image.id);
}

Result<ImageRecord> ImageStore::Resolve(const std::string& ref) const {
  if (ref.starts_with("sha256:")) {
    SLIPWAY_ASSIGN_OR_RETURN(Digest id, Digest::Parse(ref));
    return metadata_->GetImage(id);
  }
  auto name = NormalizeName(ref);
  if (name.ok()) {
    SLIPWAY_ASSIGN_OR_RETURN(std::optional<Digest> id, metadata_->LookupTag(*name));
    if (id) return metadata_->GetImage(*id);
  }
  bool id_prefix =
      ref.size() >= 4 && ref.size() <= 64 && IsLowerHex(ref);
  if (id_prefix) {
    SLIPWAY_ASSIGN_OR_RETURN(std::vector<Digest> ids, metadata_->FindByIdPrefix(ref));
    if (ids.size() == 1) return metadata_->GetImage(ids[0]);
    if (ids.size() > 1) return InvalidArgument("image id prefix " + ref + " is ambiguous");
  }
  // A malformed reference names nothing that could ever exist: the caller's
  // mistake, not a missing image.
  if (!name.ok() && !id_prefix) return name.status().Wrap("image " + ref);
  return NotFound("no such image: " + ref);
}

Result<std::string> ImageStore::ManifestBody(const ImageRecord& image) const {
  return content_->Read(image.manifest_digest, kMaxManifestBytes);
}

Result<ImageConfig> ImageStore::Config(const ImageRecord& image) const {
  SLIPWAY_ASSIGN_OR_RETURN(std::string json, ConfigJson(image.id));
  return ImageConfig::Parse(json);
}

Result<std::vector<ImageRecord>> ImageStore::List() const {
  return metadata_->ListImages();
}

Result<std::vector<std::string>> ImageStore::LowerDirs(const ImageRecord& image) const {
  std::vector<std::string> dirs;
  for (auto it = image.layers.rbegin(); it != image.layers.rend(); ++it) {
    if (!snapshots_->Has(it->chain_id)) {
      return FailedPrecondition("layer " + it->chain_id.str() + " of image " + image.id.str() +
                                " is missing; pull the image again");
    }
    dirs.push_back(snapshots_->Path(it->chain_id));
  }
  if (dirs.empty()) dirs.push_back(empty_layer_dir_);
  return dirs;
}

Status ImageStore::Tag(const std::string& source, const std::string& target) {
  SLIPWAY_ASSIGN_OR_RETURN(ImageRecord image, Resolve(source));
  SLIPWAY_ASSIGN_OR_RETURN(std::string name, NormalizeNewName(target));
  return metadata_->Tag(name, image.id);
}

Result<std::vector<Digest>> ImageStore::Remove(const std::string& ref, bool force) {
  std::vector<Digest> removed;
  auto name = NormalizeName(ref);
  std::optional<Digest> tagged;
  if (name.ok() && !ref.starts_with("sha256:")) {
    SLIPWAY_ASSIGN_OR_RETURN(tagged, metadata_->LookupTag(*name));
  }
  if (tagged) {
    SLIPWAY_RETURN_IF_ERROR(metadata_->Untag(*name));
    SLIPWAY_ASSIGN_OR_RETURN(ImageRecord image, metadata_->GetImage(*tagged));
    if (image.tags.empty()) {
      SLIPWAY_RETURN_IF_ERROR(metadata_->DeleteImage(image.id));
      removed.push_back(image.id);
    }
    return removed;
  }
  SLIPWAY_ASSIGN_OR_RETURN(ImageRecord image, Resolve(ref));
  if (image.tags.size() > 1 && !force) {
    return FailedPrecondition("image " + image.id.str().substr(7, 12) + " is tagged " +
                              std::to_string(image.tags.size()) + " times; remove by name, or force");
  }
  SLIPWAY_RETURN_IF_ERROR(metadata_->DeleteImage(image.id));
  removed.push_back(image.id);
  return removed;
}

Status ImageStore::Discard(WriteLease lease, const std::vector<Digest>& blobs,
                           const std::vector<Digest>& snapshots) {
  { WriteLease given_up = std::move(lease); }
  std::string path = root_ + "/gc.lock";
  auto lock = LockFile(path, LOCK_EX | LOCK_NB);
  if (!lock.ok()) {
    return FailedPrecondition("another image write is under way (" + lock.status().message() +
                              "): what the failed one wrote stays for prune");
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::set<Digest> used_blobs, metadata_->ReferencedBlobs());
  for (const Digest& d : blobs) {
    if (!used_blobs.count(d) && content_->Has(d)) SLIPWAY_RETURN_IF_ERROR(content_->Delete(d));
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::set<Digest> used_snapshots, metadata_->ReferencedSnapshots());
  for (const Digest& d : snapshots) {
    if (!used_snapshots.count(d) && snapshots_->Has(d)) SLIPWAY_RETURN_IF_ERROR(snapshots_->Remove(d));
  }
  return Status::Ok();
}

Result<PruneReport> ImageStore::Prune(const std::set<std::string>& in_use) {
  // Exclusive: no pull, load or import is between writing a blob and
  // recording the image that refers to it.
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd lock, LockFile(root_ + "/gc.lock", LOCK_EX));
  PruneReport report;
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<ImageRecord> images, metadata_->ListImages());
  for (const auto& image : images) {
    if (!image.tags.empty()) continue;
    SLIPWAY_RETURN_IF_ERROR(metadata_->DeleteImage(image.id));
    report.images.push_back(image.id);
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::set<Digest> blobs, metadata_->ReferencedBlobs());
  for (const Digest& d : content_->List()) {
    if (blobs.count(d)) continue;
    SLIPWAY_RETURN_IF_ERROR(content_->Delete(d));
    report.blobs.push_back(d);
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::set<Digest> snaps, metadata_->ReferencedSnapshots());
  for (const Digest& d : snapshots_->List()) {
    if (snaps.count(d) || in_use.count(snapshots_->Path(d))) continue;
    SLIPWAY_RETURN_IF_ERROR(snapshots_->Remove(d));
    report.snapshots.push_back(d);
  }
  return report;
}

}  // namespace slipway
