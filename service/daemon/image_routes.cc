// /api/v1/images: docs/api.md, "Images". Image references hold "/", so
// they travel in bodies and the `ref` query parameter, never in the path.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "engine/base/fd.h"
#include "service/daemon/api_routes.h"
#include "service/daemon/image_service.h"

namespace slipway::daemon::api {

namespace {

// Byte counts of one blob go out at most this often; phase changes always.
constexpr auto kProgressInterval = std::chrono::milliseconds(200);
// How often a build checks whether its client is still there.
constexpr auto kGonePollInterval = std::chrono::milliseconds(200);

json ImageList(const std::vector<ImageRecord>& images) {
  json list = json::array();
  for (const ImageRecord& image : images) list.push_back(ImageJson(image));
  return list;
}

json DigestList(const std::vector<Digest>& digests) {
  json list = json::array();
  for (const Digest& d : digests) list.push_back(d.str());
  return list;
}

// Progress of a pull or push as JSON lines, from the transfer threads.
class ProgressLines {
 public:
  explicit ProgressLines(ReplyPtr reply) : reply_(std::move(reply)) {}

  void Report(const Digest& blob, const std::string& phase, int64_t done, int64_t total) {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    const bool partial = done > 0 && done < total;
    auto& last = last_[blob.str()];
    if (partial && phase == last.phase && now - last.at < kProgressInterval) return;
    last = {phase, now};
    json line;
    line["blob"] = blob.str();
    line["phase"] = phase;
    line["done"] = done;
    line["total"] = total;
    reply_->Write(Dump(line) + "\n");
  }

 private:
  struct Last {
    std::string phase;
    std::chrono::steady_clock::time_point at;
  };
  const ReplyPtr reply_;
  std::mutex mu_;
  std::map<std::string, Last> last_;
};

TransferProgress ProgressTo(const ReplyPtr& reply) {
  auto lines = std::make_shared<ProgressLines>(reply);
  return [lines](const Digest& blob, const std::string& phase, int64_t done, int64_t total) {
    lines->Report(blob, phase, done, total);
  };
}

// A build's progress as JSON lines (docs/api.md, "build").
class BuildLines : public BuildReporter {
 public:
  explicit BuildLines(ReplyPtr reply) : reply_(std::move(reply)) {}

  void Step(int n, int total, const Instruction& instruction) override {
    std::lock_guard lock(mu_);
    step_ = n;
    Emit({{"step", n}, {"total", total}, {"instruction", instruction.original}});
  }
  void Output(Stream stream, std::string_view data) override {
    std::lock_guard lock(mu_);
    Emit({{"stream", stream == Stream::kStderr ? "stderr" : "stdout"}, {"data", std::string(data)}});
  }
  void StepDone(bool cached, std::chrono::milliseconds elapsed) override {
    std::lock_guard lock(mu_);
    Emit({{"step", step_}, {"cached", cached}, {"ms", elapsed.count()}});
  }

 private:
  void Emit(const json& line) { reply_->Write(Dump(line) + "\n"); }

  const ReplyPtr reply_;
  std::mutex mu_;  // RUN output may come from another thread than the steps
  int step_ = 0;
};

// BuildOptions::cancel_fd for a build streamed to a client: readable once
// the client has gone away or slipwayd stops, so that a RUN nobody waits
// for is killed. Pistache has no disconnect callback we could use here:
// Reply::Gone() is polled.
class CancelWhenGone {
 public:
  CancelWhenGone(ReplyPtr reply, const std::atomic<bool>& stopping)
      : reply_(std::move(reply)), stopping_(stopping) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;  // no cancelling then: the build still works
    read_ = UniqueFd(fds[0]);
    write_ = UniqueFd(fds[1]);
    thread_ = std::thread([this] { Watch(); });
  }
  ~CancelWhenGone() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  int fd() const { return read_ ? read_.get() : -1; }

 private:
  void Watch() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, kGonePollInterval, [this] { return done_; })) {
      if (reply_->Gone() || stopping_.load()) {
        (void)!::write(write_.get(), "x", 1);
        return;
      }
    }
  }

  const ReplyPtr reply_;
  const std::atomic<bool>& stopping_;
  UniqueFd read_, write_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

class ImageRoutes {
 public:
  explicit ImageRoutes(Context& c) : c_(c) {}

  void List(const Request& r, ReplyPtr reply);
  void Inspect(const Request& r, ReplyPtr reply);
  void Pull(const Request& r, ReplyPtr reply);
  void Push(const Request& r, ReplyPtr reply);
  void Tag(const Request& r, ReplyPtr reply);
  void Remove(const Request& r, ReplyPtr reply);
  void Prune(const Request& r, ReplyPtr reply);
  void Import(const Request& r, ReplyPtr reply);
  void Load(const Request& r, ReplyPtr reply);
  void Save(const Request& r, ReplyPtr reply);
  void Build(const Request& r, ReplyPtr reply);

 private:
  void Spawn(const ReplyPtr& reply, std::function<void()> work) { api::Spawn(c_, reply, std::move(work)); }
  // Ends a progress stream with its last line.
  static void Finish(const ReplyPtr& reply, const json& last) {
    reply->Write(Dump(last) + "\n");
    reply->End();
  }

  Context& c_;
};

void ImageRoutes::List(const Request&, ReplyPtr reply) {
  auto images = c_.images.List();
  if (!images.ok()) return reply->Error(images.status());
  json body;
  body["images"] = ImageList(*images);
  reply->Json(200, body);
}

void ImageRoutes::Inspect(const Request& r, ReplyPtr reply) {
  std::string ref = r.Query("ref");
  if (ref.empty()) return reply->Error(InvalidArgument("query parameter ref is required"));
  auto image = c_.images.Inspect(ref);
  if (!image.ok()) return reply->Error(image.status());
  auto config = c_.images.ConfigJson(*image);
  if (!config.ok()) return reply->Error(config.status());
  json body = ImageJson(*image);
  body["config"] = std::move(*config);
  reply->Json(200, body);
}

void ImageRoutes::Pull(const Request& r, ReplyPtr reply) {
  Fields f(r.object);
  std::string ref;
  for (Status st : {f.String("ref", &ref, true), f.Finish()}) {
    if (!st.ok()) return reply->Error(st);
  }
  if (Status st = ImageService::CheckReference(ref); !st.ok()) return reply->Error(st);
  Spawn(reply, [this, ref, reply] {
    if (!reply->Begin(200, kNdjson)) return;
    auto image = c_.images.Pull(ref, ProgressTo(reply));
    if (!image.ok()) return Finish(reply, ErrorJson(image.status()));
    json last;
    last["status"] = "pulled";
    last["ref"] = ref;
    last["id"] = image->id.str();
    Finish(reply, last);
  });
}

void ImageRoutes::Push(const Request& r, ReplyPtr reply) {
  Fields f(r.object);
  std::string ref, target;
  for (Status st : {f.String("ref", &ref, true), f.String("target", &target, false), f.Finish()}) {
    if (!st.ok()) return reply->Error(st);
  }
  if (Status st = ImageService::CheckReference(target.empty() ? ref : target); !st.ok()) {
    return reply->Error(st);
  }
  if (auto image = c_.images.Inspect(ref); !image.ok()) return reply->Error(image.status());
  Spawn(reply, [this, ref, target, reply] {
    if (!reply->Begin(200, kNdjson)) return;
    auto digest = c_.images.Push(ref, target, ProgressTo(reply));
    if (!digest.ok()) return Finish(reply, ErrorJson(digest.status()));
    json last;
    last["status"] = "pushed";
    last["target"] = target.empty() ? ref : target;
    last["digest"] = digest->str();
    Finish(reply, last);
  });
}

void ImageRoutes::Tag(const Request& r, ReplyPtr reply) {
  Fields f(r.object);
  std::string source, target;
  for (Status st : {f.String("source", &source, true), f.String("target", &target, true), f.Finish()}) {
    if (!st.ok()) return reply->Error(st);
  }
  auto image = c_.images.Tag(source, target);
  if (!image.ok()) return reply->Error(image.status());
  reply->Json(201, ImageJson(*image));
}

void ImageRoutes::Remove(const Request& r, ReplyPtr reply) {
  std::string ref = r.Query("ref");
  if (ref.empty()) return reply->Error(InvalidArgument("query parameter ref is required"));
  auto force = QueryBool(r, "force", false);
  if (!force.ok()) return reply->Error(force.status());
  // Removing an image collects its blobs and layers: file system work.
  Spawn(reply, [this, ref, force = *force, reply] {
    auto removed = c_.images.Remove(ref, force);
    if (!removed.ok()) return reply->Error(removed.status());
    json body;
    body["removed"] = DigestList(*removed);
    reply->Json(200, body);
  });
}

void ImageRoutes::Prune(const Request&, ReplyPtr reply) {
  Spawn(reply, [this, reply] {
    auto report = c_.images.Prune();
    if (!report.ok()) return reply->Error(report.status());
    // The images are gone already: a build cache that cannot be removed
    // is reported as not pruned rather than failing the whole request.
    auto cache = c_.images.PruneBuildCache();
    if (!cache.ok()) c_.log.Warn("image.build_cache_prune_failed", {{"error", cache.status().ToString()}});
    json body;
    body["images"] = DigestList(report->images);
    body["blobs"] = DigestList(report->blobs);
    body["snapshots"] = DigestList(report->snapshots);
    body["build_cache"] = cache.ok() && *cache;
    reply->Json(200, body);
  });
}

void ImageRoutes::Import(const Request& r, ReplyPtr reply) {
  Fields f(r.object);
  std::string path, name;
  for (Status st : {f.String("path", &path, true), f.String("name", &name, false), f.Finish()}) {
    if (!st.ok()) return reply->Error(st);
  }
  Spawn(reply, [this, path, name, reply] {
    auto image = c_.images.Import(path, name);
    if (!image.ok()) return reply->Error(image.status());
    reply->Json(201, ImageJson(*image));
  });
}

void ImageRoutes::Load(const Request& r, ReplyPtr reply) {
  Fields f(r.object);
  std::string path;
  for (Status st : {f.String("path", &path, true), f.Finish()}) {
    if (!st.ok()) return reply->Error(st);
  }
  Spawn(reply, [this, path, reply] {
    auto images = c_.images.Load(path);
    if (!images.ok()) return reply->Error(images.status());
    json body;
    body["images"] = ImageList(*images);
    reply->Json(200, body);
  });
}

void ImageRoutes::Save(const Request& r, ReplyPtr reply) {
  Fields f(r.object);
  std::string path;
  std::vector<std::string> refs;
  for (Status st : {f.Strings("refs", &refs, true), f.String("path", &path, true), f.Finish()}) {
    if (!st.ok()) return reply->Error(st);
  }
  if (refs.empty()) return reply->Error(InvalidArgument("field \"refs\" must name at least one image"));
  Spawn(reply, [this, refs, path, reply] {
    Status st = c_.images.Save(refs, path);
    if (!st.ok()) return reply->Error(st);
    reply->NoContent();
  });
}

void ImageRoutes::Build(const Request& r, ReplyPtr reply) {
  Fields f(r.object);
  BuildRequest request;
  for (Status st :
       {f.String("context", &request.context, true), f.String("dockerfile", &request.dockerfile, false),
        f.String("tag", &request.tag, false), f.StringMap("build_args", &request.build_args),
        f.String("target", &request.target, false), f.Bool("no_cache", &request.no_cache),
        f.Strings("allow", &request.allow, false), f.Finish()}) {
    if (!st.ok()) return reply->Error(st);
  }
  // Reads and parses the Dockerfile: small, so done here, and a syntax
  // error is a 400 rather than a stream.
  if (Status st = ImageService::CheckBuild(request); !st.ok()) return reply->Error(st);
  if (Status st = c_.images.CheckEntitlements(request); !st.ok()) return reply->Error(st);
  Spawn(reply, [this, request, reply] {
    if (!reply->Begin(200, kNdjson)) return;
    CancelWhenGone cancel(reply, c_.stopping);
    BuildLines lines(reply);
    auto image = c_.images.Build(request, lines, cancel.fd());
    if (!image.ok()) return Finish(reply, ErrorJson(image.status()));
    json last;
    last["status"] = "built";
    last["id"] = image->id.str();
    last["tags"] = image->tags;
    Finish(reply, last);
  });
}

}  // namespace

void AddImageRoutes(Router& router, Context& context) {
  auto routes = std::make_shared<ImageRoutes>(context);
  auto bind = [routes](void (ImageRoutes::*method)(const Request&, ReplyPtr)) -> Handler {
    return [routes, method](const Request& r, ReplyPtr reply) { ((*routes).*method)(r, std::move(reply)); };
  };
  const std::string base = "/api/v1/images";
  router.Add("GET", base, kReadOnly, {}, bind(&ImageRoutes::List));
  router.Add("DELETE", base, kMutating, {"ref", "force"}, bind(&ImageRoutes::Remove));
  router.Add("GET", base + "/inspect", kReadOnly, {"ref"}, bind(&ImageRoutes::Inspect));
  router.Add("POST", base + "/pull", kMutating | kJsonBody, {}, bind(&ImageRoutes::Pull));
  router.Add("POST", base + "/push", kMutating | kJsonBody, {}, bind(&ImageRoutes::Push));
  router.Add("POST", base + "/tag", kMutating | kJsonBody, {}, bind(&ImageRoutes::Tag));
  router.Add("POST", base + "/prune", kMutating, {}, bind(&ImageRoutes::Prune));
  router.Add("POST", base + "/import", kMutating | kJsonBody, {}, bind(&ImageRoutes::Import));
  router.Add("POST", base + "/load", kMutating | kJsonBody, {}, bind(&ImageRoutes::Load));
  router.Add("POST", base + "/save", kMutating | kJsonBody, {}, bind(&ImageRoutes::Save));
  router.Add("POST", base + "/build", kMutating | kJsonBody, {}, bind(&ImageRoutes::Build));
}

}  // namespace slipway::daemon::api
