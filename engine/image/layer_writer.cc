#include "engine/image/layer_writer.h"

#include <archive.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "engine/image/image_store.h"
#include "engine/image/layer_unpack.h"
#include "engine/oci/manifest.h"

namespace slipway {

Result<std::unique_ptr<GzipLayerWriter>> GzipLayerWriter::Create(std::unique_ptr<BlobWriter> blob,
                                                                 int level) {
  std::unique_ptr<GzipLayerWriter> w(new GzipLayerWriter());
  w->blob_ = std::move(blob);
  // windowBits 15 + 16: a gzip header and trailer, as layers use.
  if (deflateInit2(&w->z_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Internal("deflateInit2 failed");
  }
  w->z_open_ = true;
  return w;
}

GzipLayerWriter::~GzipLayerWriter() {
  if (z_open_) deflateEnd(&z_);
}

Status GzipLayerWriter::Deflate(std::string_view data, int flush) {
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z_.avail_in = static_cast<uInt>(data.size());
  char out[65536];
  do {
    z_.next_out = reinterpret_cast<Bytef*>(out);
    z_.avail_out = sizeof out;
    int rc = deflate(&z_, flush);
    if (rc == Z_STREAM_ERROR) return Internal("deflate failed");
    SLIPWAY_RETURN_IF_ERROR(blob_->Write(std::string_view(out, sizeof out - z_.avail_out)));
  } while (z_.avail_out == 0);
  return Status::Ok();
}

Status GzipLayerWriter::Write(std::string_view data) {
  diff_.Update(data);
  uncompressed_ += static_cast<int64_t>(data.size());
  // Feed zlib in pieces that fit its 32-bit counters.
  while (!data.empty()) {
    std::string_view piece = data.substr(0, 1 << 30);
    SLIPWAY_RETURN_IF_ERROR(Deflate(piece, Z_NO_FLUSH));
    data.remove_prefix(piece.size());
  }
  return Status::Ok();
}

Result<CommittedLayer> GzipLayerWriter::Commit() {
  SLIPWAY_RETURN_IF_ERROR(Deflate({}, Z_FINISH));
  deflateEnd(&z_);
  z_open_ = false;
  CommittedLayer layer;
  layer.size = blob_->written();
  SLIPWAY_ASSIGN_OR_RETURN(layer.blob, blob_->Commit(nullptr, -1));
  layer.diff_id = diff_.Finish();
  layer.uncompressed_size = uncompressed_;
  return layer;
}

namespace {

struct ArchiveReader {
  archive* a = archive_read_new();
  ~ArchiveReader() { archive_read_free(a); }
};

std::string Rfc3339Now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Whether `block` (the first 512 bytes) is a tar header: its checksum field
// matches (as every tar format has it), or it is the all-zero end of an empty
// archive.
bool LooksLikeTar(std::string_view block) {
  if (block.size() < 512) return false;
  unsigned sum = 0;
  bool zero = true;
  for (size_t i = 0; i < 512; ++i) {
    unsigned char c = static_cast<unsigned char>(block[i]);
    zero &= c == 0;
    sum += (i >= 148 && i < 156) ? ' ' : c;
  }
  if (zero) return true;
  unsigned stored = 0;
  size_t i = 148;
  while (i < 156 && block[i] == ' ') ++i;
  size_t digits = 0;
  for (; i < 156 && block[i] >= '0' && block[i] <= '7'; ++i, ++digits) stored = stored * 8 + (block[i] - '0');
  return digits > 0 && stored == sum;
}

// Streams the decompressed bytes of `path` (any compression libarchive
// knows) into `writer`; fails before writing anything if they are no tar.
Status CopyDecompressed(const std::string& path, GzipLayerWriter& writer) {
  ArchiveReader r;
  SupportLayerFilters(r.a);
  archive_read_support_format_raw(r.a);
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd file, OpenCallerArchive(r.a, path));
  archive_entry* entry;
  if (archive_read_next_header(r.a, &entry) != ARCHIVE_OK) {
    return InvalidArgument("read " + path + ": " + archive_error_string(r.a));
  }
  char buf[1 << 16];
  std::string head;  // the first 512 bytes, checked before anything is written
  for (;;) {
    la_ssize_t n = archive_read_data(r.a, buf, sizeof buf);
    if (n < 0) return InvalidArgument("read " + path + ": " + archive_error_string(r.a));
    std::string_view data(buf, static_cast<size_t>(n));
    if (head.size() < 512) {
      size_t take = std::min(data.size(), 512 - head.size());
      head.append(data.substr(0, take));
      data.remove_prefix(take);
      if (head.size() < 512 && n > 0) continue;
      if (!LooksLikeTar(head)) return InvalidArgument(path + " is not a tar archive (plain or compressed)");
      SLIPWAY_RETURN_IF_ERROR(writer.Write(head));
    }
    if (n == 0) return Status::Ok();
    SLIPWAY_RETURN_IF_ERROR(writer.Write(data));
  }
}

// The import proper; every blob it stores is added to `written` and the
// snapshot it may create to `snapshots`, for the caller to discard if it
// fails.
Result<ImageRecord> Import(ImageStore& store, const std::string& tar_path, const std::string& name,
                           std::vector<Digest>* written, std::vector<Digest>* snapshots) {
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> blob, store.NewBlobWriter());
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<GzipLayerWriter> writer, GzipLayerWriter::Create(std::move(blob)));
  SLIPWAY_RETURN_IF_ERROR(CopyDecompressed(tar_path, *writer));
  SLIPWAY_ASSIGN_OR_RETURN(CommittedLayer layer, writer->Commit());
  written->push_back(layer.blob);
  snapshots->push_back(layer.diff_id);  // a single layer's chain id is its diff id

  ImageConfig config;
  config.created = Rfc3339Now();
  config.diff_ids = {layer.diff_id};
  config.history = {{config.created, "slipway import " + tar_path, "", false}};
  std::string config_json = config.ToJson();
  SLIPWAY_ASSIGN_OR_RETURN(Digest config_digest, store.PutBlob(config_json));
  written->push_back(config_digest);

  Manifest manifest;
  manifest.media_type = media_type::kOciManifest;
  manifest.config = {media_type::kOciConfig, config_digest, static_cast<int64_t>(config_json.size())};
  manifest.layers = {{media_type::kOciLayerTarGzip, layer.blob, layer.size}};
  std::string body = SerializeManifest(manifest);
  SLIPWAY_ASSIGN_OR_RETURN(Digest manifest_digest, store.PutBlob(body));
  written->push_back(manifest_digest);
  auto image = store.Commit(manifest_digest, name);
  if (!image.ok()) return image.status().Wrap("import " + tar_path);
  return image;
}

}  // namespace

Result<ImageRecord> ImportRootfsTar(ImageStore& store, const std::string& tar_path, const std::string& name) {
  SLIPWAY_ASSIGN_OR_RETURN(WriteLease lease, store.Lease());
  std::vector<Digest> written, snapshots;
  auto image = Import(store, tar_path, name, &written, &snapshots);
  // A failed import (a full disk, a bad name) leaves nothing behind, as far
  // as no concurrent write needs it (Discard); what it cannot remove now,
  // prune does.
  if (!image.ok()) (void)store.Discard(std::move(lease), written, snapshots);
  return image;
}

}  // namespace slipway
