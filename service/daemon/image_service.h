// ImageService: what slipwayd does with images, for the REST API and anyone
// else in the daemon. It wraps the image store and the engine's pull, push,
// import, save, load and build, and adds what only the daemon knows:
//
// - registry options (insecure registries, the credentials file), fixed at
//   construction;
// - slipway_registry_bytes_pulled_total / _pushed_total, counted from what
//   the registry client actually moved (blobs and manifests, retries too);
// - containers: an image an active container uses is not removed, and the
//   layers active containers stand on survive garbage collection.
//
// It knows nothing of HTTP. Every method blocks for as long as its work
// takes (a pull or a prune may take minutes): callers that must not block
// call it from a thread of their own. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/base/event_log.h"
#include "engine/base/status.h"
#include "engine/build/builder.h"
#include "engine/containers/container_service.h"
#include "engine/distribution/distribution.h"
#include "engine/image/image_store.h"
#include "engine/oci/image_config.h"
#include "engine/registry/client.h"
#include "engine/registry/referrers.h"
#include "service/daemon/metrics.h"

namespace slipway::daemon {

struct ImageServiceOptions {
  // insecure_registries and credentials_file matter most; every pull and
  // push gets a client of its own made from these (so a credentials file
  // edited while slipwayd runs is read again on the next transfer).
  RegistryOptions registry;
  int parallelism = 3;  // blobs in flight at once per pull or push
  // Builds: scratch space and layer cache (<data_dir>/build, BuildDir()).
  // Their RUN steps run as containers of the ContainerService.
  std::string build_dir;
  int64_t build_cache_max_bytes = 0;      // the cache is trimmed to this after each build; 0: no limit
  bool build_allow_host_network = false;  // builds may be granted network.host
  CgroupLimits build_limits;              // of each RUN step
};

// What POST /api/v1/images/build asks for (docs/api.md).
struct BuildRequest {
  std::string context;     // absolute directory on this host
  std::string dockerfile;  // absolute path; empty: <context>/Dockerfile
  std::string tag;         // empty: untagged
  std::map<std::string, std::string> build_args;
  std::string target;
  bool no_cache = false;
  // Entitlements, as BuildKit's --allow: only "network.host" (RUN
  // --network=host), and only on a daemon that allows it.
  std::vector<std::string> allow;
};

class ImageService {
 public:
  ImageService(ImageStore& store, ContainerService& containers, Metrics& metrics, EventLog& log,
               ImageServiceOptions options);

  Result<std::vector<ImageRecord>> List() const;
  // By reference, id or unique id prefix (ImageStore::Resolve).
  Result<ImageRecord> Inspect(const std::string& ref) const;
  // The image's OCI config as stored (the blob whose digest is the image id).
  Result<nlohmann::ordered_json> ConfigJson(const ImageRecord& image) const;

  // kInvalidArgument unless `ref` parses as an image reference: lets a caller
  // refuse a bad reference before it starts reporting progress.
  static Status CheckReference(const std::string& ref);

  // `progress` is called from the transferring threads (several at once):
  // the distribution phases ("downloading", "unpacking", "exists", "done"),
  // and "downloading" with the bytes received so far as they arrive.
  Result<ImageRecord> Pull(const std::string& ref, const TransferProgress& progress = nullptr);
  // Pushes local image `ref` to `target` (empty: `ref`). Phases "uploading"
  // (also with bytes sent so far), "exists", "mounted", "done". Returns the
  // manifest digest the registry serves.
  Result<Digest> Push(const std::string& ref, const std::string& target,
                      const TransferProgress& progress = nullptr);

  // Promotion's push (engine/distribution PushByDigest): local image `ref`
  // into `repository` by digest, then each of `tags`; an immutable tag that
  // points elsewhere refuses before anything is pushed. Counted and logged
  // as pushes are.
  Result<PushReport> PushByDigest(const std::string& ref, const std::string& repository,
                                  const std::vector<std::string>& tags,
                                  const std::set<std::string>& immutable_tags,
                                  const TransferProgress& progress = nullptr);
  // An artifact referring to manifest `subject` of `repository`
  // (engine/registry/referrers.h AttachArtifact).
  Result<AttachReport> Attach(const std::string& repository, const Digest& subject,
                              const std::string& artifact_type, const std::string& media_type,
                              const std::string& content);
  // GET /v2/ on `registry` with these credentials only (a login being
  // checked before it is stored): kUnauthenticated if refused.
  Status CheckLogin(const std::string& registry, const Credentials& credentials);
  // Names `source`'s image `target` too; returns the image.
  Result<ImageRecord> Tag(const std::string& source, const std::string& target);
  // Docker's rmi: removes the tag `ref`, and the image once no tag names it
  // (or at once when `ref` is its id: refused if several tags name it unless
  // `force`). kFailedPrecondition if the image would go while an active
  // container uses it, force or not. As `slipway rmi` does, the blobs and
  // layers nothing uses any more go too (a prune), so the ids returned may
  // include other untagged images the prune collected.
  Result<std::vector<Digest>> Remove(const std::string& ref, bool force);
  // Removes untagged images and every blob and snapshot no image uses,
  // keeping the layers active containers stand on.
  Result<PruneReport> Prune();

  // A root filesystem tar on this host (absolute path) as a one-layer image,
  // tagged `name` if not empty.
  Result<ImageRecord> Import(const std::string& tar_path, const std::string& name);
  // An OCI image archive on this host (absolute path).
  Result<std::vector<ImageRecord>> Load(const std::string& path);
  // Writes the images named by `refs` to `path` (absolute) as an OCI archive.
  Status Save(const std::vector<std::string>& refs, const std::string& path);

  // What can be refused before a build starts reporting: the context is an
  // absolute directory, the Dockerfile an absolute path, the tag a name,
  // and the Dockerfile parses (when it is a regular file; Build() reports
  // the rest).
  static Status CheckBuild(const BuildRequest& request);
  // kPermissionDenied if the request asks for an entitlement this daemon
  // does not grant (build_allow_host_network).
  Status CheckEntitlements(const BuildRequest& request) const;
  // Builds the image (engine Build()); a FROM of an image not in the store
  // pulls it. Builds run one at a time: a second one waits for the first.
  // `cancel_fd`: see BuildOptions::cancel_fd.
  Result<ImageRecord> Build(const BuildRequest& request, BuildReporter& reporter, int cancel_fd = -1);
  // Empties the build cache. False (nothing done) while a build runs or
  // when there is no cache.
  Result<bool> PruneBuildCache();

 private:
  // Evicts least recently used build cache entries down to
  // build_cache_max_bytes (after each build, with build_mu_ held).
  void TrimBuildCache();
  // A pull's or push's options: this service's parallelism, `progress`.
  TransferOptions Transfer(const TransferProgress& progress) const;

  ImageStore& store_;
  ContainerService& containers_;
  Metrics& metrics_;
  EventLog& log_;
  const ImageServiceOptions options_;
  std::mutex build_mu_;  // held by the one build running
  // The build cache dir's mtime after the last trim (under build_mu_).
  std::optional<std::pair<int64_t, int64_t>> trimmed_mtime_;
};

// The API's image object (docs/api.md, "Images"): id, tags,
// manifest_digest, size, created_at.
nlohmann::ordered_json ImageJson(const ImageRecord& image);

}  // namespace slipway::daemon
