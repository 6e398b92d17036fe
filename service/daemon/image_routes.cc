// /api/v1/images: docs/api.md, "Images". Image references hold "/", so
// they travel in bodies and the `ref` query parameter, never in the path.
#include <chrono>
#include <map>
#include <mutex>
#include <utility>

#include "service/daemon/api_routes.h"
#include "service/daemon/image_service.h"

namespace slipway::daemon::api {

namespace {

// Byte counts of one blob go out at most this often; phase changes always.
constexpr auto kProgressInterval = std::chrono::milliseconds(200);

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

 private:
  void Spawn(const ReplyPtr& reply, std::function<void()> work) {
    Status st = c_.workers.Run(std::move(work));
    if (!st.ok()) reply->Error(st);
  }
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
    json body;
    body["images"] = DigestList(report->images);
    body["blobs"] = DigestList(report->blobs);
    body["snapshots"] = DigestList(report->snapshots);
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
}

}  // namespace slipway::daemon::api
