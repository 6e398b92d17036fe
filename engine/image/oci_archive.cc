#include "engine/image/oci_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "engine/image/layer_unpack.h"
#include "engine/oci/manifest.h"
#include "engine/oci/reference.h"

namespace slipway {

namespace {

using nlohmann::json;

constexpr int64_t kMaxIndexBytes = 4 << 20;
constexpr const char* kRefName = "org.opencontainers.image.ref.name";
constexpr const char* kContainerdName = "io.containerd.image.name";

struct Writer {
  archive* a = archive_write_new();
  ~Writer() { archive_write_free(a); }
};
struct Reader {
  archive* a = archive_read_new();
  ~Reader() { archive_read_free(a); }
};

Status ArchiveError(archive* a, const std::string& what) {
  const char* msg = archive_error_string(a);
  return Internal(what + ": " + (msg ? msg : "libarchive error"));
}

Status AddBytes(archive* a, const std::string& name, std::string_view data) {
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
  int rc = archive_write_header(a, e);
  archive_entry_free(e);
  if (rc != ARCHIVE_OK) return ArchiveError(a, "write " + name);
  if (!data.empty() &&
      archive_write_data(a, data.data(), data.size()) != static_cast<la_ssize_t>(data.size())) {
    return ArchiveError(a, "write " + name);
  }
  return Status::Ok();
}

Status AddBlobFile(archive* a, const ImageStore& store, const Digest& d) {
  SLIPWAY_ASSIGN_OR_RETURN(int64_t size, store.BlobSize(d));
  std::string name = "blobs/sha256/" + d.hex();
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, size);
  int rc = archive_write_header(a, e);
  archive_entry_free(e);
  if (rc != ARCHIVE_OK) return ArchiveError(a, "write " + name);
  UniqueFd fd(::open(store.BlobPath(d).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open blob " + d.str());
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) {
    if (archive_write_data(a, buf, static_cast<size_t>(n)) != n) return ArchiveError(a, "write " + name);
  }
  if (n < 0) return ErrnoStatus("read blob " + d.str());
  return Status::Ok();
}

}  // namespace

Status SaveOciArchive(ImageStore& store, const std::vector<std::string>& refs, const std::string& path) {
  json manifests = json::array();
  std::vector<Digest> blobs;
  std::set<Digest> seen;
  auto add_blob = [&](const Digest& d) {
    if (seen.insert(d).second) blobs.push_back(d);
  };
  for (const std::string& ref : refs) {
    SLIPWAY_ASSIGN_OR_RETURN(ImageRecord image, store.Resolve(ref));
    SLIPWAY_ASSIGN_OR_RETURN(std::string body, store.ManifestBody(image));
    json desc = {{"mediaType", image.manifest_media_type},
                 {"digest", image.manifest_digest.str()},
                 {"size", body.size()}};
    auto name = ImageStore::NormalizeName(ref);
    if (name.ok() && !ref.starts_with("sha256:")) {
      SLIPWAY_ASSIGN_OR_RETURN(Reference r, ParseReference(*name));
      desc["annotations"] = {{kRefName, r.tag.empty() ? "latest" : r.tag}, {kContainerdName, *name}};
    }
    manifests.push_back(desc);
    add_blob(image.manifest_digest);
    add_blob(image.id);
    for (const auto& l : image.layers) add_blob(l.blob);
  }
  json index = {{"schemaVersion", 2}, {"mediaType", media_type::kOciIndex}, {"manifests", manifests}};

  std::string tmp = path + ".tmp-" + RandomHex(4);
  Writer w;
  archive_write_set_format_pax_restricted(w.a);
  if (archive_write_open_filename(w.a, tmp.c_str()) != ARCHIVE_OK) return ArchiveError(w.a, "create " + tmp);
  Status st = AddBytes(w.a, "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  if (st.ok()) st = AddBytes(w.a, "index.json", index.dump());
  for (size_t i = 0; st.ok() && i < blobs.size(); ++i) st = AddBlobFile(w.a, store, blobs[i]);
  if (st.ok() && archive_write_close(w.a) != ARCHIVE_OK) st = ArchiveError(w.a, "close " + tmp);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) st = ErrnoStatus("rename " + tmp + " to " + path);
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
}

namespace {

// "blobs/sha256/<hex>" (with an optional "./") -> the digest; anything else
// under blobs/ is an error, so no entry name reaches the file system.
Result<std::optional<Digest>> BlobEntry(std::string name) {
  if (name.starts_with("./")) name = name.substr(2);
  if (!name.starts_with("blobs/")) return std::optional<Digest>();
  if (name == "blobs/" || name == "blobs/sha256/" || name == "blobs/sha256") return std::optional<Digest>();
  if (!name.starts_with("blobs/sha256/"))
    return InvalidArgument("unsupported blob entry " + name + ": only sha256");
  SLIPWAY_ASSIGN_OR_RETURN(Digest d, Digest::Parse("sha256:" + name.substr(13)));
  return std::optional<Digest>(d);
}

Status StoreBlob(archive* a, ImageStore& store, const Digest& d) {
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer, store.NewBlobWriter());
  char buf[1 << 16];
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n < 0) return ArchiveError(a, "read blob " + d.str());
    if (n == 0) break;
    SLIPWAY_RETURN_IF_ERROR(writer->Write(std::string_view(buf, static_cast<size_t>(n))));
  }
  return writer->Commit(&d, -1).status();
}

Result<std::string> ReadEntry(archive* a, const std::string& name) {
  std::string out;
  char buf[1 << 16];
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n < 0) return ArchiveError(a, "read " + name);
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
    if (static_cast<int64_t>(out.size()) > kMaxIndexBytes)
      return InvalidArgument(name + " is larger than 4 MiB");
  }
}

// The image name recorded for an index entry, or "" if there is none.
std::string NameOf(const json& desc) {
  if (!desc.contains("annotations")) return "";
  const json& ann = desc["annotations"];
  if (ann.contains(kContainerdName) && ann[kContainerdName].is_string()) return ann[kContainerdName];
  if (ann.contains(kRefName) && ann[kRefName].is_string()) {
    std::string ref = ann[kRefName];
    // A bare tag ("1.0") names no repository; a full reference does.
    if (ref.find('/') != std::string::npos || ref.find(':') != std::string::npos) return ref;
  }
  return "";
}

// The load proper; every blob it stores is added to `written`, for the
// caller to discard if it fails.
Result<std::vector<ImageRecord>> Load(ImageStore& store, const std::string& path,
                                      std::vector<Digest>* written) {
  Reader r;
  SupportLayerFilters(r.a);
  archive_read_support_format_tar(r.a);
  archive_read_support_format_gnutar(r.a);
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd file, OpenCallerArchive(r.a, path));
  std::string index_text;
  bool has_layout = false;
  archive_entry* e;
  int rc;
  while ((rc = archive_read_next_header(r.a, &e)) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    if (name.starts_with("./")) name = name.substr(2);
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    SLIPWAY_ASSIGN_OR_RETURN(std::optional<Digest> blob, BlobEntry(name));
    if (blob) {
      SLIPWAY_RETURN_IF_ERROR(StoreBlob(r.a, store, *blob).Wrap("load " + path));
      written->push_back(*blob);
    } else if (name == "index.json") {
      SLIPWAY_ASSIGN_OR_RETURN(index_text, ReadEntry(r.a, name));
    } else if (name == "oci-layout") {
      has_layout = true;
    }
  }
  // Not a tar (plain or compressed), or a truncated or corrupt one: the
  // caller's file is at fault, not slipwayd.
  if (rc != ARCHIVE_EOF) {
    const char* msg = archive_error_string(r.a);
    return InvalidArgument(path + " is not an OCI image layout archive (a tar, plain or compressed): " +
                           (msg ? msg : "unreadable"));
  }
  if (!has_layout || index_text.empty()) {
    return InvalidArgument(path + " is not an OCI image layout archive (no oci-layout or index.json)");
  }
  std::vector<ImageRecord> loaded;
  try {
    json index = json::parse(index_text);
    for (const json& desc : index.at("manifests")) {
      SLIPWAY_ASSIGN_OR_RETURN(Digest d, Digest::Parse(desc.at("digest").get<std::string>()));
      auto image = store.Commit(d, NameOf(desc));
      if (!image.ok()) return image.status().Wrap("load " + path + ": image " + d.str());
      loaded.push_back(*image);
    }
  } catch (const json::exception& ex) {
    return InvalidArgument(path + ": malformed index.json: " + ex.what());
  }
  return loaded;
}

}  // namespace

Result<std::vector<ImageRecord>> LoadOciArchive(ImageStore& store, const std::string& path) {
  SLIPWAY_ASSIGN_OR_RETURN(WriteLease lease, store.Lease());
  std::vector<Digest> written;
  auto loaded = Load(store, path, &written);
  // The blobs of a failed load go (as far as no concurrent write needs
  // them: Discard); images it recorded before failing stay, complete.
  if (!loaded.ok()) (void)store.Discard(std::move(lease), written, {});
  return loaded;
}

}  // namespace slipway
