// make_hello_image HELLO_BINARY OUT_TAR: the hello-world image as an OCI
// layout tar (what `slipway save` writes and slipwayd loads at start-up).
//
// Made with the engine's own code, not a second tar writer: the binary is
// staged alone as /hello (0755, root's, mtime 0), written as a layer by
// engine/build's layer_diff (the code image builds use), committed into a
// throwaway image store with Cmd ["/hello"], and saved by engine/image's
// SaveOciArchive. The same binary gives the same layer and config, so the
// same image id, build after build.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "engine/base/fs.h"
#include "engine/build/layer_diff.h"
#include "engine/image/image_store.h"
#include "engine/image/oci_archive.h"
#include "engine/oci/image_config.h"
#include "engine/oci/manifest.h"

namespace slipway {
namespace {

constexpr char kImageName[] = "hello-world";

Status StageBinary(const std::string& binary, const std::string& rootfs) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string bytes, ReadFile(binary));
  const std::string hello = rootfs + "/hello";
  SLIPWAY_RETURN_IF_ERROR(WriteFileAtomic(hello, bytes, 0755));
  // Fixed times and owner: the layer depends on the program alone.
  if (::chown(hello.c_str(), 0, 0) != 0) return ErrnoStatus("chown " + hello);
  const timespec epoch[2] = {{0, 0}, {0, 0}};
  if (::utimensat(AT_FDCWD, hello.c_str(), epoch, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoStatus("utimensat " + hello);
  return Status::Ok();
}

Status MakeImage(const std::string& binary, const std::string& out, const std::string& scratch) {
  const std::string rootfs = scratch + "/rootfs";
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(rootfs, 0755));
  SLIPWAY_RETURN_IF_ERROR(StageBinary(binary, rootfs));
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<ImageStore> store, ImageStore::Open(scratch + "/store"));
  SLIPWAY_ASSIGN_OR_RETURN(WriteLease lease, store->Lease());
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> blob, store->NewBlobWriter());
  LayerDiffOptions layer_options;
  layer_options.source_date_epoch = 0;
  layer_options.gzip_level = 9;
  SLIPWAY_ASSIGN_OR_RETURN(CommittedLayer layer, WriteLayerFromDir(std::move(blob), rootfs, layer_options));

  ImageConfig config;
  config.cmd = {"/hello"};
  config.diff_ids = {layer.diff_id};
  config.labels["org.opencontainers.image.title"] = "Slipway's hello-world";
  const std::string config_json = config.ToJson();
  SLIPWAY_RETURN_IF_ERROR(store->PutBlob(config_json).status());
  Manifest manifest;
  manifest.media_type = media_type::kOciManifest;
  manifest.config = DescribeContent(media_type::kOciConfig, config_json);
  Descriptor d;
  d.media_type = media_type::kOciLayerTarGzip;
  d.digest = layer.blob;
  d.size = layer.size;
  manifest.layers.push_back(d);
  SLIPWAY_ASSIGN_OR_RETURN(Digest manifest_digest, store->PutBlob(SerializeManifest(manifest)));
  SLIPWAY_RETURN_IF_ERROR(store->Commit(manifest_digest, kImageName).status());
  return SaveOciArchive(*store, {kImageName}, out);
}

}  // namespace
}  // namespace slipway

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s HELLO_BINARY OUT_TAR\n", argv[0]);
    return 2;
  }
  char scratch[] = "/tmp/slipway-hello-image-XXXXXX";
  if (::mkdtemp(scratch) == nullptr) {
    std::perror("mkdtemp /tmp/slipway-hello-image-XXXXXX");
    return 1;
  }
  slipway::Status st = slipway::MakeImage(argv[1], argv[2], scratch);
  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
  if (!st.ok()) {
    std::fprintf(stderr, "make_hello_image: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}
