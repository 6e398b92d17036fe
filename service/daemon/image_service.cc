#include "service/daemon/image_service.h"

#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <utility>

#include "engine/base/fs.h"
#include "engine/base/time_json.h"
#include "engine/build/build_cache.h"
#include "engine/build/dockerfile.h"
#include "engine/image/layer_writer.h"
#include "engine/image/oci_archive.h"
#include "engine/oci/reference.h"

namespace slipway::daemon {

namespace {

using ordered_json = nlohmann::ordered_json;

Status RequireAbsolute(const std::string& path, const char* what) {
  if (path.empty() || path[0] != '/') return InvalidArgument(std::string(what) + " must be an absolute path");
  return Status::Ok();
}

std::vector<std::string> DigestStrings(const std::vector<Digest>& digests) {
  std::vector<std::string> out;
  out.reserve(digests.size());
  for (const Digest& d : digests) out.push_back(d.str());
  return out;
}

// Adds what one registry client has moved to a metrics counter as it goes.
// The client's own byte count is the truth (it includes manifests and
// retries); `reported_` only ever grows, so progress callbacks racing on
// several transfer threads never count a byte twice.
class ByteMeter {
 public:
  ByteMeter(Counter& counter, const RegistryClient& client, bool pulled)
      : counter_(counter), client_(client), pulled_(pulled) {}
  ~ByteMeter() { Sync(); }

  void Sync() {
    int64_t now = pulled_ ? client_.bytes_pulled() : client_.bytes_pushed();
    int64_t prev = reported_.load(std::memory_order_relaxed);
    while (now > prev) {
      if (reported_.compare_exchange_weak(prev, now, std::memory_order_relaxed)) {
        counter_.Inc(static_cast<uint64_t>(now - prev));
        return;
      }
    }
  }

 private:
  Counter& counter_;
  const RegistryClient& client_;
  const bool pulled_;
  std::atomic<int64_t> reported_{0};
};

// Byte-level progress comes from the client, phases from the distribution
// code; both go to the caller's one callback.
void WireProgress(RegistryClient& client, ByteMeter& meter, const TransferProgress& progress,
                  const char* phase) {
  client.set_progress([&meter, progress, phase](const Digest& blob, int64_t done, int64_t total) {
    meter.Sync();
    if (progress) progress(blob, phase, done, total);
  });
}

// Parses the Dockerfile if it is a plain file, so that a syntax error is a
// 400 rather than the last line of a stream. Symlinks and other oddities
// are left to Build(), which refuses them with its own message.
Status PreParseDockerfile(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (4 << 20)) return Status::Ok();
  auto text = ReadFile(path);
  if (!text.ok()) return Status::Ok();
  return ParseDockerfile(*text, "Dockerfile").status();
}

std::string BuildCacheDir(const ImageServiceOptions& options) {
  return options.build_dir + "/cache";  // where Build() keeps it (builder.h)
}

}  // namespace

ordered_json ImageJson(const ImageRecord& image) {
  ordered_json j;
  j["id"] = image.id.str();
  j["tags"] = image.tags;
  j["manifest_digest"] = image.manifest_digest.str();
  j["size"] = image.Size();
  j["created_at"] = Rfc3339Millis(image.created_unix_ms);
  return j;
}

ImageService::ImageService(ImageStore& store, ContainerService& containers, Metrics& metrics, EventLog& log,
                           ImageServiceOptions options)
    : store_(store), containers_(containers), metrics_(metrics), log_(log), options_(std::move(options)) {}

Result<std::vector<ImageRecord>> ImageService::List() const {
  return store_.List();
}

Result<ImageRecord> ImageService::Inspect(const std::string& ref) const {
  if (ref.empty()) return InvalidArgument("no image named: ref is empty");
  return store_.Resolve(ref);
}

Result<ordered_json> ImageService::ConfigJson(const ImageRecord& image) const {
  SLIPWAY_ASSIGN_OR_RETURN(std::string text, store_.ConfigJson(image.id));
  ordered_json config = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) return Internal("config blob " + image.id.str() + " is not valid JSON");
  return config;
}

Status ImageService::CheckReference(const std::string& ref) {
  if (ref.empty()) return InvalidArgument("image reference is empty");
  auto parsed = ParseReference(ref);
  if (!parsed.ok()) return parsed.status();
  return Status::Ok();
}

TransferOptions ImageService::Transfer(const TransferProgress& progress) const {
  TransferOptions transfer;
  transfer.parallelism = options_.parallelism;
  transfer.progress = progress;
  return transfer;
}

Result<ImageRecord> ImageService::Pull(const std::string& ref, const TransferProgress& progress) {
  SLIPWAY_RETURN_IF_ERROR(CheckReference(ref));
  RegistryClient client(options_.registry);
  ByteMeter meter(metrics_.registry_bytes_pulled, client, /*pulled=*/true);
  WireProgress(client, meter, progress, "downloading");
  log_.Info("image.pull", {{"ref", ref}});
  auto image = slipway::Pull(store_, client, ref, Transfer(progress));
  meter.Sync();
  if (!image.ok()) {
    log_.Warn("image.pull_failed", {{"ref", ref}, {"error", image.status().ToString()}});
    return image.status();
  }
  log_.Info("image.pulled", {{"ref", ref}, {"id", image->id.str()}, {"bytes", client.bytes_pulled()}});
  return image;
}

Result<Digest> ImageService::Push(const std::string& ref, const std::string& target,
                                  const TransferProgress& progress) {
  const std::string& destination = target.empty() ? ref : target;
  SLIPWAY_RETURN_IF_ERROR(CheckReference(destination));
  SLIPWAY_RETURN_IF_ERROR(store_.Resolve(ref).status());
  RegistryClient client(options_.registry);
  ByteMeter meter(metrics_.registry_bytes_pushed, client, /*pulled=*/false);
  WireProgress(client, meter, progress, "uploading");
  log_.Info("image.push", {{"ref", ref}, {"target", destination}});
  auto digest = slipway::Push(store_, client, ref, destination, Transfer(progress));
  meter.Sync();
  if (!digest.ok()) {
    log_.Warn("image.push_failed",
              {{"ref", ref}, {"target", destination}, {"error", digest.status().ToString()}});
    return digest.status();
  }
  log_.Info("image.pushed",
            {{"target", destination}, {"digest", digest->str()}, {"bytes", client.bytes_pushed()}});
  return digest;
}

Result<PushReport> ImageService::PushByDigest(const std::string& ref, const std::string& repository,
                                              const std::vector<std::string>& tags,
                                              const std::set<std::string>& immutable_tags,
                                              const TransferProgress& progress) {
  RegistryClient client(options_.registry);
  ByteMeter meter(metrics_.registry_bytes_pushed, client, /*pulled=*/false);
  WireProgress(client, meter, progress, "uploading");
  log_.Info("image.push", {{"ref", ref}, {"target", repository}, {"tags", tags}});
  auto report =
      slipway::PushByDigest(store_, client, ref, repository, tags, immutable_tags, Transfer(progress));
  meter.Sync();
  if (!report.ok()) {
    log_.Warn("image.push_failed",
              {{"ref", ref}, {"target", repository}, {"error", report.status().ToString()}});
    return report.status();
  }
  log_.Info("image.pushed", {{"target", repository},
                             {"digest", report->manifest_digest.str()},
                             {"changed", report->changed()},
                             {"tags_set", report->tags_set},
                             {"bytes", client.bytes_pushed()}});
  return report;
}

Result<AttachReport> ImageService::Attach(const std::string& repository, const Digest& subject,
                                          const std::string& artifact_type, const std::string& media_type,
                                          const std::string& content) {
  SLIPWAY_ASSIGN_OR_RETURN(Reference repo, ParseReference(repository));
  RegistryClient client(options_.registry);
  ByteMeter meter(metrics_.registry_bytes_pushed, client, /*pulled=*/false);
  auto report = AttachArtifact(client, repo, subject, artifact_type, media_type, content);
  meter.Sync();
  if (!report.ok()) {
    log_.Warn("image.attach_failed",
              {{"target", repository}, {"subject", subject.str()}, {"error", report.status().ToString()}});
    return report.status();
  }
  log_.Info("image.attached", {{"target", repository},
                               {"subject", subject.str()},
                               {"artifact", report->digest.str()},
                               {"artifact_type", artifact_type},
                               {"changed", report->changed},
                               {"tag_scheme", report->tag_scheme}});
  return report;
}

Status ImageService::CheckLogin(const std::string& registry, const Credentials& credentials) {
  RegistryOptions options = options_.registry;
  options.credentials_file.clear();
  options.credentials = [credentials](const std::string&) { return std::optional<Credentials>(credentials); };
  options.retries = 1;
  RegistryClient client(options);
  return client.Ping(registry);
}

Result<ImageRecord> ImageService::Tag(const std::string& source, const std::string& target) {
  if (source.empty() || target.empty()) return InvalidArgument("tag needs a source and a target");
  SLIPWAY_RETURN_IF_ERROR(store_.Tag(source, target));
  SLIPWAY_ASSIGN_OR_RETURN(ImageRecord image, store_.Resolve(target));
  log_.Info("image.tagged", {{"source", source}, {"target", target}, {"id", image.id.str()}});
  return image;
}

Result<std::vector<Digest>> ImageService::Remove(const std::string& ref, bool force) {
  if (ref.empty()) return InvalidArgument("no image named: ref is empty");
  SLIPWAY_ASSIGN_OR_RETURN(ImageRecord image, store_.Resolve(ref));
  // Untagging one of several names leaves the image in place; anything else
  // takes the image away from under the containers made from it.
  auto name = ImageStore::NormalizeName(ref);
  bool names_a_tag = name.ok() && std::find(image.tags.begin(), image.tags.end(), *name) != image.tags.end();
  bool image_goes = !names_a_tag || image.tags.size() <= 1;
  if (image_goes && containers_.ImageInUse(image.id.str())) {
    return FailedPrecondition("image " + ref + " (" + image.id.str() +
                              ") is used by a container that has not ended; remove the container first");
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<Digest> removed, store_.Remove(ref, force));
  log_.Info("image.removed", {{"ref", ref}, {"images", DigestStrings(removed)}});
  if (removed.empty()) return removed;
  // As `slipway rmi` and Docker do, the image's blobs and layers go with it.
  auto report = Prune();
  if (!report.ok()) {
    log_.Warn("image.prune_failed", {{"error", report.status().ToString()}});
    return removed;
  }
  for (const Digest& d : report->images) {
    if (std::find(removed.begin(), removed.end(), d) == removed.end()) removed.push_back(d);
  }
  return removed;
}

Result<PruneReport> ImageService::Prune() {
  SLIPWAY_ASSIGN_OR_RETURN(PruneReport report, store_.Prune(containers_.LowerDirsInUse()));
  log_.Info("image.pruned", {{"images", report.images.size()},
                             {"blobs", report.blobs.size()},
                             {"snapshots", report.snapshots.size()}});
  return report;
}

Result<ImageRecord> ImageService::Import(const std::string& tar_path, const std::string& name) {
  SLIPWAY_RETURN_IF_ERROR(RequireAbsolute(tar_path, "path"));
  if (!name.empty()) SLIPWAY_RETURN_IF_ERROR(ImageStore::NormalizeNewName(name).status());
  SLIPWAY_ASSIGN_OR_RETURN(ImageRecord image, ImportRootfsTar(store_, tar_path, name));
  log_.Info("image.imported", {{"path", tar_path}, {"name", name}, {"id", image.id.str()}});
  return image;
}

Result<std::vector<ImageRecord>> ImageService::Load(const std::string& path) {
  SLIPWAY_RETURN_IF_ERROR(RequireAbsolute(path, "path"));
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<ImageRecord> images, LoadOciArchive(store_, path));
  std::vector<std::string> ids;
  for (const ImageRecord& image : images) ids.push_back(image.id.str());
  log_.Info("image.loaded", {{"path", path}, {"images", ids}});
  return images;
}

Status ImageService::Save(const std::vector<std::string>& refs, const std::string& path) {
  SLIPWAY_RETURN_IF_ERROR(RequireAbsolute(path, "path"));
  if (refs.empty()) return InvalidArgument("save needs at least one image");
  SLIPWAY_RETURN_IF_ERROR(SaveOciArchive(store_, refs, path));
  log_.Info("image.saved", {{"path", path}, {"refs", refs}});
  return Status::Ok();
}

Status ImageService::CheckBuild(const BuildRequest& request) {
  SLIPWAY_RETURN_IF_ERROR(RequireAbsolute(request.context, "context"));
  struct stat st;
  if (::stat(request.context.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return InvalidArgument("context " + request.context + " is not a directory");
  if (!request.dockerfile.empty()) SLIPWAY_RETURN_IF_ERROR(RequireAbsolute(request.dockerfile, "dockerfile"));
  if (!request.tag.empty()) SLIPWAY_RETURN_IF_ERROR(ImageStore::NormalizeNewName(request.tag).status());
  for (const auto& [key, value] : request.build_args) {
    if (key.empty()) return InvalidArgument("build arg with an empty name");
  }
  for (const std::string& entitlement : request.allow) {
    if (entitlement != "network.host")
      return InvalidArgument("unknown entitlement \"" + entitlement + "\": the only one is network.host");
  }
  return PreParseDockerfile(request.dockerfile.empty() ? request.context + "/Dockerfile"
                                                       : request.dockerfile);
}

Status ImageService::CheckEntitlements(const BuildRequest& request) const {
  bool host = std::find(request.allow.begin(), request.allow.end(), "network.host") != request.allow.end();
  if (host && !options_.build_allow_host_network)
    return Status(Code::kPermissionDenied,
                  "this daemon does not grant network.host (start it with build_allow_host_network: true)");
  return Status::Ok();
}

Result<ImageRecord> ImageService::Build(const BuildRequest& request, BuildReporter& reporter, int cancel_fd) {
  SLIPWAY_RETURN_IF_ERROR(CheckBuild(request));
  SLIPWAY_RETURN_IF_ERROR(CheckEntitlements(request));
  BuildOptions options;
  options.context_dir = request.context;
  options.dockerfile = request.dockerfile;
  options.tag = request.tag;
  options.build_args = request.build_args;
  options.target = request.target;
  options.work_dir = options_.build_dir;
  options.containers = &containers_;
  options.limits = options_.build_limits;
  options.no_cache = request.no_cache;
  options.allow_host_network = !request.allow.empty();  // CheckBuild: only network.host exists
  options.cancel_fd = cancel_fd;
  options.pull = [this](const std::string& ref) { return Pull(ref); };
  // One at a time: each RUN holds a sandbox outside max_running, and steps
  // of two builds would only compete for the same disk.
  std::lock_guard lock(build_mu_);
  log_.Info("image.build", {{"context", request.context}, {"tag", request.tag}});
  auto image = slipway::Build(store_, options, reporter);
  TrimBuildCache();
  if (!image.ok()) {
    log_.Warn("image.build_failed", {{"context", request.context}, {"error", image.status().ToString()}});
    return image.status();
  }
  log_.Info("image.built", {{"tag", request.tag}, {"id", image->id.str()}});
  return image;
}

// The cache directory's mtime: it changes when a build stores an entry (a
// rename into it) and not when a build only uses entries.
std::optional<std::pair<int64_t, int64_t>> DirMtime(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return std::nullopt;
  return std::make_pair(static_cast<int64_t>(st.st_mtim.tv_sec), static_cast<int64_t>(st.st_mtim.tv_nsec));
}

void ImageService::TrimBuildCache() {
  const std::string dir = BuildCacheDir(options_);
  if (options_.build_cache_max_bytes <= 0) return;
  // A fully cached build added nothing: skip the walk over every entry
  // (about 16 us each; bench/build/build_cache_bench).
  auto before = DirMtime(dir);
  if (!before || before == trimmed_mtime_) return;
  auto evicted = EvictBuildCache(dir, options_.build_cache_max_bytes);
  // In use by another process's build: the next build trims it.
  if (!evicted.ok()) {
    if (evicted.status().code() != Code::kFailedPrecondition)
      log_.Warn("image.build_cache_trim_failed", {{"error", evicted.status().ToString()}});
    return;
  }
  trimmed_mtime_ = DirMtime(dir);
  if (evicted->entries_removed > 0)
    log_.Info("image.build_cache_trimmed", {{"entries", evicted->entries_removed},
                                            {"bytes_removed", evicted->bytes_removed},
                                            {"bytes_kept", evicted->bytes_kept}});
}

Result<bool> ImageService::PruneBuildCache() {
  std::unique_lock lock(build_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  const std::string dir = BuildCacheDir(options_);
  if (!PathExists(dir)) return false;
  Status st = slipway::PruneBuildCache(dir);
  // Another process building on the same cache: skipped, as while ours run.
  if (st.code() == Code::kFailedPrecondition) return false;
  SLIPWAY_RETURN_IF_ERROR(st);
  log_.Info("image.build_cache_pruned", {{"dir", dir}});
  return true;
}

}  // namespace slipway::daemon
