#include "engine/distribution/distribution.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "engine/image/blob_feed.h"
#include "engine/oci/manifest.h"
#include "engine/oci/reference.h"

namespace slipway {

namespace {

// Lets the registry client stream into a content-store writer, which hashes
// the blob and checks its digest on Commit: the blob is hashed once.
// cpp-httplib hands the body over 4 KiB at a time; the sink gathers it into
// larger writes (one write(2) per MiB rather than per 4 KiB). With a `feed`,
// each write is published to the layer's unpack, which reads along.
class WriterSink : public BlobSink {
 public:
  WriterSink(BlobWriter& writer, BlobFeed* feed) : writer_(writer), feed_(feed) { buffer_.reserve(kBuffer); }
  Status Write(std::string_view data) override {
    if (buffer_.size() + data.size() > kBuffer) SLIPWAY_RETURN_IF_ERROR(Flush());
    if (data.size() >= kBuffer) return WriteThrough(data);
    buffer_.append(data);
    return Status::Ok();
  }
  Status Reset() override {
    buffer_.clear();
    // The feed first: its readers must stop trusting the file before the
    // writer truncates it.
    if (feed_) feed_->Restarted();
    return writer_.Reset();
  }
  bool ChecksDigest() const override { return true; }
  // Before Commit: what is still buffered goes to the writer.
  Status Flush() {
    Status st = buffer_.empty() ? Status::Ok() : WriteThrough(buffer_);
    buffer_.clear();
    return st;
  }

 private:
  Status WriteThrough(std::string_view data) {
    SLIPWAY_RETURN_IF_ERROR(writer_.Write(data));
    if (feed_) feed_->Published(writer_.written());
    return Status::Ok();
  }

  static constexpr size_t kBuffer = 1 << 20;
  BlobWriter& writer_;
  BlobFeed* feed_;
  std::string buffer_;
};

void Report(const TransferOptions& o, const Digest& d, const std::string& phase, int64_t done,
            int64_t total) {
  if (o.progress) o.progress(d, phase, done, total);
}

// Runs `work(i)` for i in [0, n) on up to `parallelism` threads; returns the
// first error (the others still finish what they started).
Status ForEachParallel(size_t n, int parallelism, const std::function<Status(size_t)>& work) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first;
  auto worker = [&] {
    for (size_t i; (i = next++) < n;) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!first.ok()) return;
      }
      Status st = work(i);
      std::lock_guard<std::mutex> lock(mu);
      if (!st.ok() && first.ok()) first = st;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < parallelism && static_cast<size_t>(t) < n; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  return first;
}

// Downloads `d` through `writer` into the content store; Commit checks its
// size and digest (the client leaves the digest to the writer). `feed`, if
// given, is told how far the data goes.
Status Download(RegistryClient& client, const Reference& repo, const Descriptor& d, BlobWriter& writer,
                BlobFeed* feed, const TransferOptions& o) {
  WriterSink sink(writer, feed);
  Report(o, d.digest, "downloading", 0, d.size);
  SLIPWAY_RETURN_IF_ERROR(client.FetchBlob(repo, d, sink));
  SLIPWAY_RETURN_IF_ERROR(sink.Flush());
  return writer.Commit(&d.digest, d.size).status();
}

// A blob that is not a layer (the config), unless the store has it.
Status FetchInto(ImageStore& store, RegistryClient& client, const Reference& repo, const Descriptor& d,
                 const TransferOptions& o) {
  if (store.HasBlob(d.digest)) {
    Report(o, d.digest, "exists", d.size, d.size);
    return Status::Ok();
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer, store.NewBlobWriter());
  SLIPWAY_RETURN_IF_ERROR(Download(client, repo, d, *writer, nullptr, o));
  Report(o, d.digest, "done", d.size, d.size);
  return Status::Ok();
}

// A layer's download. Unless its snapshot exists already, the layer is
// unpacked while it arrives: its feed is set and the layer queued for
// unpacking (`start_unpack`) as soon as the first byte can be read.
Status DownloadLayer(ImageStore& store, RegistryClient& client, const Reference& repo, const Descriptor& layer,
                     bool stream, std::unique_ptr<BlobFeed>& feed, const std::function<void()>& start_unpack,
                     const TransferOptions& o) {
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer, store.NewBlobWriter());
  if (stream) {
    SLIPWAY_ASSIGN_OR_RETURN(UniqueFd reader, writer->OpenReader());
    feed = std::make_unique<BlobFeed>(std::move(reader), layer.size);
    start_unpack();
  }
  Status st = Download(client, repo, layer, *writer, feed.get(), o);
  // Downloaded: what is left is the unpack's (running, or waiting for a
  // core). Reported before the feed lets the unpack end, so "done" follows.
  // Without a feed the snapshot exists: the blob was all that was missing.
  if (st.ok()) Report(o, layer.digest, stream ? "unpacking" : "done", layer.size, layer.size);
  if (feed) feed->Finish(st);  // on every path: the unpack waits for it
  return st;
}

// Unpacks a layer: as it downloads when it has a feed, else from its blob.
Status UnpackOne(ImageStore& store, const Descriptor& layer, const Digest& diff_id, const Digest& chain_id,
                 BlobFeed* feed, const TransferOptions& o) {
  if (!feed) {
    if (!store.HasSnapshot(chain_id)) {
      Report(o, layer.digest, "unpacking", layer.size, layer.size);
      SLIPWAY_RETURN_IF_ERROR(store.Unpack(chain_id, layer.digest, diff_id));
    }
  } else if (Status st = store.UnpackStreaming(chain_id, layer.digest, diff_id, *feed); !st.ok()) {
    if (!feed->restarted()) return st;
    // The download started over after the unpack had read from it (a
    // retry): what was read is void. Unpack the blob once it is committed.
    SLIPWAY_RETURN_IF_ERROR(feed->WaitFinished());
    SLIPWAY_RETURN_IF_ERROR(store.Unpack(chain_id, layer.digest, diff_id));
  }
  Report(o, layer.digest, "done", layer.size, layer.size);
  return Status::Ok();
}

// Unpacks layers on one thread per core while downloads go on. A layer is
// queued as its download starts, and unpacks as its bytes arrive; the
// largest layer waiting goes first, so the longest unpack starts soonest.
// One thread per core, not one per download: inflating and extracting are
// CPU work, and a download's thread mostly waits for the network. A worker
// that has caught up with its download waits (asleep) for more bytes.
class UnpackPool {
 public:
  UnpackPool(int workers, std::function<Status(size_t)> unpack) : unpack_(std::move(unpack)) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~UnpackPool() { (void)Finish(); }

  void Add(size_t layer, int64_t size) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push({size, layer});
    cv_.notify_one();
  }

  // No more layers: waits for the queued ones; the first error, if any.
  // When `downloads` failed, layers still queued are dropped unstarted: the
  // pull fails anyway.
  Status Finish(const Status& downloads = Status::Ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      if (!downloads.ok() && first_.ok()) first_ = downloads;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    return first_;
  }

 private:
  void Work() {
    for (;;) {
      size_t layer;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) return;
        layer = queue_.top().second;
        queue_.pop();
        if (!first_.ok()) continue;  // after a failure, drain without work
      }
      Status st = unpack_(layer);
      std::lock_guard<std::mutex> lock(mu_);
      if (!st.ok() && first_.ok()) first_ = st;
    }
  }

  std::function<Status(size_t)> unpack_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<std::pair<int64_t, size_t>> queue_;
  bool closed_ = false;
  Status first_;
  std::vector<std::thread> threads_;
};

}  // namespace

Result<ImageRecord> Pull(ImageStore& store, RegistryClient& client, const std::string& text,
                         const TransferOptions& o) {
  SLIPWAY_ASSIGN_OR_RETURN(Reference ref, ParseReference(text));
  SLIPWAY_ASSIGN_OR_RETURN(WriteLease lease, store.Lease());
  auto fetched = client.GetManifest(ref);
  if (!fetched.ok()) return fetched.status().Wrap("pull " + ref.Familiar());
  SLIPWAY_ASSIGN_OR_RETURN(Manifest manifest, ParseManifest(fetched->body, fetched->media_type));
  SLIPWAY_RETURN_IF_ERROR(store.PutBlob(fetched->body, &fetched->digest).status());
  SLIPWAY_RETURN_IF_ERROR(FetchInto(store, client, ref, manifest.config, o).Wrap("config"));
  SLIPWAY_ASSIGN_OR_RETURN(std::string config_json, store.ConfigJson(manifest.config.digest));
  SLIPWAY_ASSIGN_OR_RETURN(ImageConfig config, ImageConfig::Parse(config_json));
  // A plain manifest (no index to choose from) may be for another platform:
  // refuse it as Docker does, before any layer is fetched.
  const RegistryOptions& want = client.options();
  if ((!config.os.empty() && config.os != want.os) ||
      (!config.architecture.empty() && config.architecture != want.architecture)) {
    return NotFound("pull " + ref.Familiar() + ": the image is for platform " + config.os + "/" +
                    config.architecture + ", not " + want.os + "/" + want.architecture);
  }
  if (config.diff_ids.size() != manifest.layers.size()) {
    return InvalidArgument("pull " + ref.Familiar() + ": the manifest has " +
                           std::to_string(manifest.layers.size()) + " layers but the config lists " +
                           std::to_string(config.diff_ids.size()));
  }
  std::vector<Digest> chains = ChainIds(config.diff_ids);
  const std::vector<Descriptor>& layers = manifest.layers;
  // Each layer being downloaded and unpacked at once has a feed; they
  // outlive the pool's threads, which read them.
  std::vector<std::unique_ptr<BlobFeed>> feeds(layers.size());
  UnpackPool unpack(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())), [&](size_t i) {
    return UnpackOne(store, layers[i], config.diff_ids[i], chains[i], feeds[i].get(), o);
  });
  // Largest layers are fetched first, as they are unpacked first: the
  // longest unpacks start soonest rather than behind small downloads that
  // happen to come first in the manifest.
  std::vector<size_t> order(layers.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return layers[a].size > layers[b].size; });
  Status st = ForEachParallel(layers.size(), o.parallelism, [&](size_t k) {
    const size_t i = order[k];
    const Descriptor& layer = layers[i];
    if (!IsLayerMediaType(layer.media_type)) {
      return InvalidArgument("layer " + layer.digest.str() + " has unsupported media type \"" +
                             layer.media_type + "\"");
    }
    const bool unpacked = store.HasSnapshot(chains[i]);
    if (store.HasBlob(layer.digest)) {
      Report(o, layer.digest, "exists", layer.size, layer.size);
      if (!unpacked) unpack.Add(i, layer.size);
      return Status::Ok();
    }
    return DownloadLayer(store, client, ref, layer, /*stream=*/!unpacked, feeds[i],
                         [&] { unpack.Add(i, layer.size); }, o)
        .Wrap("layer " + layer.digest.str());
  });
  Status unpacked = unpack.Finish(st);
  if (st.ok()) st = unpacked;
  if (!st.ok()) return st.Wrap("pull " + ref.Familiar());
  return store.Commit(fetched->digest, ref.str());
}

namespace {

// Other repositories of the same registry that this image was tagged in:
// candidates for a cross-repository mount.
std::vector<std::string> MountSources(const ImageRecord& image, const Reference& target) {
  std::vector<std::string> out;
  for (const std::string& tag : image.tags) {
    auto r = ParseReference(tag);
    if (r.ok() && r->registry == target.registry && r->repository != target.repository) {
      out.push_back(r->repository);
    }
  }
  return out;
}

// What happened to one blob of a push.
enum class BlobOutcome { kPresent, kMounted, kPushed };

Result<BlobOutcome> PushOne(ImageStore& store, RegistryClient& client, const Reference& target,
                            const Descriptor& d, const std::vector<std::string>& sources,
                            const TransferOptions& o) {
  SLIPWAY_ASSIGN_OR_RETURN(bool present, client.HasBlob(target, d.digest));
  if (present) {
    Report(o, d.digest, "exists", d.size, d.size);
    return BlobOutcome::kPresent;
  }
  for (const std::string& from : sources) {
    auto mounted = client.MountBlob(target, d.digest, from);
    if (mounted.ok() && *mounted) {
      Report(o, d.digest, "mounted", d.size, d.size);
      return BlobOutcome::kMounted;
    }
  }
  Report(o, d.digest, "uploading", 0, d.size);
  SLIPWAY_RETURN_IF_ERROR(client.PushBlob(target, d, store.BlobPath(d.digest)));
  Report(o, d.digest, "done", d.size, d.size);
  return BlobOutcome::kPushed;
}

// The config and layers of `image`, and its manifest body.
Result<std::pair<std::vector<Descriptor>, std::string>> BlobsOf(ImageStore& store, const ImageRecord& image) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string body, store.ManifestBody(image));
  SLIPWAY_ASSIGN_OR_RETURN(Manifest manifest, ParseManifest(body, image.manifest_media_type));
  std::vector<Descriptor> blobs = manifest.layers;
  blobs.push_back(manifest.config);
  return std::make_pair(std::move(blobs), std::move(body));
}

}  // namespace

Result<Digest> Push(ImageStore& store, RegistryClient& client, const std::string& local_ref,
                    const std::string& target_text, const TransferOptions& o) {
  SLIPWAY_ASSIGN_OR_RETURN(ImageRecord image, store.Resolve(local_ref));
  SLIPWAY_ASSIGN_OR_RETURN(Reference target, ParseReference(target_text.empty() ? local_ref : target_text));
  if (target.tag.empty()) return InvalidArgument("push " + target.Familiar() + ": a tag is needed");
  SLIPWAY_ASSIGN_OR_RETURN(auto blobs_and_body, BlobsOf(store, image));
  auto& [blobs, body] = blobs_and_body;
  std::vector<std::string> sources = MountSources(image, target);
  Status st = ForEachParallel(blobs.size(), o.parallelism, [&](size_t i) {
    return PushOne(store, client, target, blobs[i], sources, o).status();
  });
  if (!st.ok()) return st.Wrap("push " + target.Familiar());
  // Last: only now may the tag point at the image.
  SLIPWAY_RETURN_IF_ERROR(client.PutManifest(target, target.tag, image.manifest_media_type, body)
                              .Wrap("push " + target.Familiar()));
  return image.manifest_digest;
}

Result<PushReport> PushByDigest(ImageStore& store, RegistryClient& client, const std::string& local_ref,
                                const std::string& repository, const std::vector<std::string>& tags,
                                const std::set<std::string>& immutable_tags, const TransferOptions& o,
                                const std::vector<std::string>& mount_from) {
  const std::string context = "push " + local_ref + " to " + repository;
  SLIPWAY_ASSIGN_OR_RETURN(ImageRecord image, store.Resolve(local_ref));
  // A repository only: ParseReference would take a tag or digest written
  // into it (and supply "latest" itself), and it would be silently ignored.
  const size_t slash = repository.rfind('/');
  if (repository.find_first_of(":@", slash == std::string::npos ? 0 : slash) != std::string::npos) {
    return InvalidArgument(context + ": the target is a repository, without a tag or digest");
  }
  SLIPWAY_ASSIGN_OR_RETURN(Reference target, ParseReference(repository));
  for (const std::string& tag : tags) {
    if (!IsValidTag(tag)) return InvalidArgument(context + ": invalid tag \"" + tag.substr(0, 130) + "\"");
  }
  const Digest& digest = image.manifest_digest;

  // Before anything moves: where each tag points now. An immutable tag that
  // points elsewhere stops the push while the registry is still untouched.
  std::vector<std::optional<Digest>> current;
  for (const std::string& tag : tags) {
    auto at = client.ManifestDigest(target, tag);
    if (!at.ok()) return at.status().Wrap(context);
    if (at->has_value() && **at != digest && immutable_tags.count(tag)) {
      return FailedPrecondition(context + ": tag " + tag + " is immutable and points at " + (*at)->str() +
                                ", not at " + digest.str());
    }
    current.push_back(*at);
  }

  PushReport report;
  report.manifest_digest = digest;
  auto present = client.ManifestDigest(target, digest.str());
  if (!present.ok()) return present.status().Wrap(context);
  SLIPWAY_ASSIGN_OR_RETURN(auto blobs_and_body, BlobsOf(store, image));
  auto& [blobs, body] = blobs_and_body;
  if (present->has_value()) {
    // A registry accepts a manifest only once it has every blob under it.
    report.blobs_present = static_cast<int>(blobs.size());
  } else {
    std::vector<std::string> sources = MountSources(image, target);
    for (const std::string& from : mount_from) {
      if (from != target.repository && std::find(sources.begin(), sources.end(), from) == sources.end()) {
        sources.push_back(from);
      }
    }
    std::atomic<int> pushed{0}, mounted{0}, existed{0};
    Status st = ForEachParallel(blobs.size(), o.parallelism, [&](size_t i) -> Status {
      SLIPWAY_ASSIGN_OR_RETURN(BlobOutcome outcome, PushOne(store, client, target, blobs[i], sources, o));
      (outcome == BlobOutcome::kPushed ? pushed : outcome == BlobOutcome::kMounted ? mounted : existed)++;
      return Status::Ok();
    });
    if (!st.ok()) return st.Wrap(context);
    report.blobs_pushed = pushed;
    report.blobs_mounted = mounted;
    report.blobs_present = existed;
    // By digest: the image is complete in the registry before any tag
    // names it.
    SLIPWAY_RETURN_IF_ERROR(
        client.PutManifest(target, digest.str(), image.manifest_media_type, body).Wrap(context));
    report.manifest_pushed = true;
  }
  for (size_t i = 0; i < tags.size(); ++i) {
    if (current[i] == digest) continue;
    SLIPWAY_RETURN_IF_ERROR(client.PutManifest(target, tags[i], image.manifest_media_type, body)
                                .Wrap(context + ": tag " + tags[i]));
    report.tags_set.push_back(tags[i]);
    if (current[i].has_value()) report.tags_moved.push_back(tags[i]);
  }
  return report;
}

}  // namespace slipway
