#include "service/cli/image_commands.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>

#include "engine/base/time.h"
#include "service/cli/format.h"
#include "service/cli/progress.h"
#include "service/cli/stream.h"

namespace slipway::cli {

namespace {

// Reads a pull or push progress stream (NDJSON): blob events are drawn on
// stderr, and the last line, the outcome, is returned if it reports
// `done_status`.
Result<Json> Transfer(DaemonClient& client, const std::string& path, const Json& body,
                      const std::string& done_status) {
  ProgressPrinter printer(STDERR_FILENO);
  Json last;
  Status malformed;
  LineSplitter lines([&](std::string_view line) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
    Json event = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!event.is_object()) {
      malformed = Internal("slipwayd sent a malformed progress line: " + std::string(line.substr(0, 200)));
    } else if (event.contains("blob")) {
      printer.Update(StringField(event, "blob"), StringField(event, "phase"), IntField(event, "done"),
                     IntField(event, "total"));
    } else {
      last = std::move(event);
    }
  });
  SLIPWAY_RETURN_IF_ERROR(client.Stream("POST", path, body, [&](std::string_view data) {
    lines.Feed(data);
    return malformed.ok();
  }));
  lines.Finish();
  SLIPWAY_RETURN_IF_ERROR(malformed);
  if (last.contains("error")) {
    Status st = StatusFromApiError(last["error"]);
    return st.ok() ? Internal("the transfer failed, and slipwayd did not say why") : st;
  }
  if (StringField(last, "status") != done_status) {
    return Status(Code::kUnavailable, "the progress stream ended before the transfer did");
  }
  return last;
}

// "docker.io/library/busybox:latest" -> {"busybox", "latest"}, as Docker
// shows names; a digest reference has no tag.
std::pair<std::string, std::string> RepositoryAndTag(const std::string& name) {
  std::string repo = name, tag = "<none>";
  if (size_t at = name.find('@'); at != std::string::npos) {
    repo = name.substr(0, at);
  } else if (size_t colon = name.rfind(':');
             colon != std::string::npos && name.find('/', colon) == std::string::npos) {
    repo = name.substr(0, colon);
    tag = name.substr(colon + 1);
  }
  for (const char* prefix : {"docker.io/library/", "docker.io/"}) {
    if (repo.starts_with(prefix)) {
      repo = repo.substr(std::string_view(prefix).size());
      break;
    }
  }
  return {repo, tag};
}

std::string Ago(const Json& object, const char* key) {
  int64_t t = ParseTimestamp(StringField(object, key));
  return t ? HumanDuration(NowUnixMs() - t) + " ago" : "N/A";
}

int Images(DaemonClient& client, bool quiet) {
  auto answer = client.Get("/images");
  if (!answer.ok()) return Fail(answer.status());
  const Json& images = Field(*answer, "images");
  if (quiet) {
    std::set<std::string> seen;
    for (const Json& image : images) {
      std::string id = ShortId(StringField(image, "id"));
      if (seen.insert(id).second) std::printf("%s\n", id.c_str());
    }
    return 0;
  }
  Table table({"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"});
  for (const Json& image : images) {
    std::vector<std::string> tags = StringsField(image, "tags");
    if (tags.empty()) tags.push_back("");
    for (const std::string& t : tags) {
      auto [repo, tag] =
          t.empty() ? std::pair<std::string, std::string>{"<none>", "<none>"} : RepositoryAndTag(t);
      table.Add({repo, tag, ShortId(StringField(image, "id")), Ago(image, "created_at"),
                 HumanSize(IntField(image, "size"))});
    }
  }
  table.Print();
  return 0;
}

int Pull(DaemonClient& client, const std::string& ref) {
  auto pulled = PullWithProgress(client, ref);
  if (!pulled.ok()) return Fail(pulled.status());
  std::printf("%s: pulled %s\n", ref.c_str(), StringField(*pulled, "id").c_str());
  return 0;
}

int Push(DaemonClient& client, const std::string& ref, const std::string& target) {
  Json body = {{"ref", ref}};
  if (!target.empty()) body["target"] = target;
  auto pushed = Transfer(client, "/images/push", body, "pushed");
  if (!pushed.ok()) return Fail(pushed.status());
  std::printf("%s: pushed, digest: %s\n",
              StringField(*pushed, "target", target.empty() ? ref : target).c_str(),
              StringField(*pushed, "digest").c_str());
  return 0;
}

int Tag(DaemonClient& client, const std::string& source, const std::string& target) {
  auto tagged = client.Post("/images/tag", {{"source", source}, {"target", target}});
  return tagged.ok() ? 0 : Fail(tagged.status());
}

bool LooksLikeId(const std::string& name) {
  return name.starts_with("sha256:") || name.find_first_not_of("0123456789abcdef") == std::string::npos;
}

int Rmi(DaemonClient& client, const std::vector<std::string>& names, bool force) {
  return ForEachName(names, [&](const std::string& name) -> Status {
    auto removed = client.Delete("/images?ref=" + Escape(name) + "&force=" + (force ? "true" : "false"),
                                 DaemonClient::kNoTimeout);
    if (!removed.ok()) return removed.status();
    if (!LooksLikeId(name)) std::printf("Untagged: %s\n", name.c_str());
    for (const std::string& id : StringsField(*removed, "removed")) std::printf("Deleted: %s\n", id.c_str());
    return Status::Ok();
  });
}

int Prune(DaemonClient& client) {
  auto report = client.Post("/images/prune", nullptr, DaemonClient::kNoTimeout);
  if (!report.ok()) return Fail(report.status());
  auto count = [&](const char* key) {
    return Field(*report, key).is_array() ? Field(*report, key).size() : 0;
  };
  for (const std::string& id : StringsField(*report, "images")) std::printf("Deleted: %s\n", id.c_str());
  std::printf("Removed %zu images, %zu blobs, %zu layers\n", count("images"), count("blobs"),
              count("snapshots"));
  if (BoolField(*report, "build_cache")) std::printf("Emptied the build cache\n");
  return 0;
}

int Import(DaemonClient& client, const std::string& file, const std::string& name) {
  Json body = {{"path", AbsolutePath(file)}};
  if (!name.empty()) body["name"] = name;
  auto image = client.Post("/images/import", body, DaemonClient::kNoTimeout);
  if (!image.ok()) return Fail(image.status());
  std::printf("%s\n", StringField(*image, "id").c_str());
  return 0;
}

int Save(DaemonClient& client, const std::string& output, const std::vector<std::string>& refs) {
  auto saved =
      client.Post("/images/save", {{"refs", refs}, {"path", AbsolutePath(output)}}, DaemonClient::kNoTimeout);
  return saved.ok() ? 0 : Fail(saved.status());
}

int Load(DaemonClient& client, const std::string& input) {
  auto loaded = client.Post("/images/load", {{"path", AbsolutePath(input)}}, DaemonClient::kNoTimeout);
  if (!loaded.ok()) return Fail(loaded.status());
  for (const Json& image : Field(*loaded, "images")) {
    std::vector<std::string> tags = StringsField(image, "tags");
    if (tags.empty()) std::printf("Loaded image ID: %s\n", StringField(image, "id").c_str());
    for (const auto& tag : tags) std::printf("Loaded image: %s\n", tag.c_str());
  }
  return 0;
}

// Draws a build's NDJSON events as `docker build` does without BuildKit;
// returns the last line.
class BuildPrinter {
 public:
  void Line(const Json& event) {
    if (event.contains("instruction")) {
      Print(STDOUT_FILENO, "Step " + std::to_string(IntField(event, "step")) + "/" +
                               std::to_string(IntField(event, "total")) + " : " +
                               StringField(event, "instruction") + "\n");
    } else if (event.contains("stream")) {
      // RUN output as is; the step lines around it are written whole.
      WriteAll(StringField(event, "stream") == "stderr" ? STDERR_FILENO : STDOUT_FILENO,
               StringField(event, "data"));
    } else if (event.contains("cached")) {
      if (BoolField(event, "cached")) Print(STDOUT_FILENO, " ---> Using cache\n");
      char timing[64];
      std::snprintf(timing, sizeof timing, " ---> %.1fs\n", IntField(event, "ms") / 1000.0);
      Print(STDOUT_FILENO, timing);
    } else {
      last_ = event;
    }
  }
  const Json& last() const { return last_; }

 private:
  static void Print(int fd, std::string_view text) { WriteAll(fd, text); }
  Json last_;
};

struct BuildFlags {
  std::string context, dockerfile, tag, target;
  std::vector<std::string> build_args;  // K=V, or K: the caller's value
  std::vector<std::string> allow;       // entitlements: network.host
  bool no_cache = false;
};

Result<Json> BuildBody(const BuildFlags& flags) {
  Json args = Json::object();
  for (const std::string& arg : flags.build_args) {
    size_t eq = arg.find('=');
    if (eq == 0) return InvalidArgument("--build-arg " + arg + ": no name");
    if (eq != std::string::npos) {
      args[arg.substr(0, eq)] = arg.substr(eq + 1);
    } else if (const char* value = std::getenv(arg.c_str())) {  // as Docker: `--build-arg K`
      args[arg] = value;
    }
  }
  Json body = {{"context", AbsolutePath(flags.context)}, {"build_args", args}, {"no_cache", flags.no_cache}};
  if (!flags.dockerfile.empty())
    body["dockerfile"] = AbsolutePath(flags.dockerfile);  // from the cwd, as Docker
  if (!flags.tag.empty()) body["tag"] = flags.tag;
  if (!flags.target.empty()) body["target"] = flags.target;
  if (!flags.allow.empty()) body["allow"] = flags.allow;
  return body;
}

// Exit codes: 125 when slipwayd refuses the request (or cannot be reached),
// 1 when the build itself fails, as `docker build`.
int Build(DaemonClient& client, const BuildFlags& flags) {
  auto body = BuildBody(flags);
  if (!body.ok()) return Fail(body.status());
  BuildPrinter printer;
  Status malformed;
  LineSplitter lines([&](std::string_view line) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
    Json event = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!event.is_object()) {
      malformed = Internal("slipwayd sent a malformed build line: " + std::string(line.substr(0, 200)));
      return;
    }
    printer.Line(event);
  });
  Status sent = client.Stream("POST", "/images/build", *body, [&](std::string_view data) {
    lines.Feed(data);
    return malformed.ok();
  });
  if (!sent.ok()) return Fail(sent);
  lines.Finish();
  if (!malformed.ok()) return Fail(malformed);
  const Json& last = printer.last();
  if (last.contains("error")) {
    Status st = StatusFromApiError(last["error"]);
    Fail(st.ok() ? Internal("the build failed, and slipwayd did not say why") : st);
    return 1;
  }
  if (StringField(last, "status") != "built") {
    Fail("the build stream ended before the build did");
    return 1;
  }
  std::printf("Successfully built %s\n", ShortId(StringField(last, "id")).c_str());
  if (!flags.tag.empty()) std::printf("Successfully tagged %s\n", flags.tag.c_str());
  return 0;
}

void AddBuildCommand(CLI::App& app, Verbs& verbs) {
  auto flags = std::make_shared<BuildFlags>();
  CLI::App* build = app.add_subcommand("build", "Build an image from a Dockerfile");
  verbs.push_back({build, [flags](DaemonClient& c) { return Build(c, *flags); }});
  build->add_option("-t,--tag", flags->tag, "Name the image NAME:TAG");
  build->add_option("-f,--file", flags->dockerfile, "The Dockerfile (default: DIR/Dockerfile)");
  build
      ->add_option("--build-arg", flags->build_args,
                   "Set a build-time variable: K=V (K alone: from the environment)")
      ->allow_extra_args(false);
  build->add_option("--target", flags->target, "Build up to this stage");
  build->add_flag("--no-cache", flags->no_cache, "Run every step again instead of using the layer cache");
  build
      ->add_option("--allow", flags->allow,
                   "Grant an entitlement: network.host lets RUN --network=host use the host's network "
                   "(the daemon must allow it too)")
      ->allow_extra_args(false);
  build->add_option("DIR", flags->context, "The build context, a directory on slipwayd's host")->required();
}

struct ImageOptions {
  std::string ref, target;         // pull IMAGE, push IMAGE [TARGET], tag SOURCE TARGET, import FILE [NAME]
  std::vector<std::string> names;  // rmi IMAGE..., save IMAGE...
  std::string path;                // save -o FILE, load -i FILE
  bool force = false;              // rmi -f, image prune -f
  bool quiet = false;              // images -q
  bool all = false;                // image prune -a: accepted for Docker's sake (prune is always "all")
};

}  // namespace

Result<Json> PullWithProgress(DaemonClient& client, const std::string& ref) {
  return Transfer(client, "/images/pull", {{"ref", ref}}, "pulled");
}

void AddImageCommands(CLI::App& app, Verbs& verbs) {
  auto o = std::make_shared<ImageOptions>();
  auto add = [&](const char* name, const char* help, std::function<int(DaemonClient&)> run) {
    CLI::App* cmd = app.add_subcommand(name, help);
    verbs.push_back({cmd, std::move(run)});
    return cmd;
  };
  add("pull", "Pull an image from a registry", [o](DaemonClient& c) { return Pull(c, o->ref); })
      ->add_option("IMAGE", o->ref, "A reference: busybox, localhost:5000/team/app:1")
      ->required();
  CLI::App* push = add("push", "Push an image to its registry, or to TARGET",
                       [o](DaemonClient& c) { return Push(c, o->ref, o->target); });
  push->add_option("IMAGE", o->ref, "The image to push")->required();
  push->add_option("TARGET", o->target, "Where to push it (default: IMAGE)");
  CLI::App* tag =
      add("tag", "Give an image another name", [o](DaemonClient& c) { return Tag(c, o->ref, o->target); });
  tag->add_option("SOURCE", o->ref, "An image")->required();
  tag->add_option("TARGET", o->target, "Its new name")->required();
  add("images", "List images", [o](DaemonClient& c) {
    return Images(c, o->quiet);
  })->add_flag("-q,--quiet", o->quiet, "Only ids");
  CLI::App* rmi = add("rmi", "Remove images", [o](DaemonClient& c) { return Rmi(c, o->names, o->force); });
  rmi->add_flag("-f,--force", o->force, "Remove the image even if several names point at it");
  rmi->add_option("IMAGE", o->names, "Names or ids")->required();
  CLI::App* import = add("import", "Make a one-layer image of a root filesystem tar",
                         [o](DaemonClient& c) { return Import(c, o->ref, o->target); });
  import->add_option("FILE", o->ref, "The tar, on slipwayd's host")->required();
  import->add_option("NAME", o->target, "Name the image (e.g. busybox)");
  CLI::App* save = add("save", "Write images to an OCI image archive",
                       [o](DaemonClient& c) { return Save(c, o->path, o->names); });
  save->add_option("-o,--output", o->path, "The tar file to write, on slipwayd's host")->required();
  save->add_option("IMAGE", o->names, "Names or ids")->required();
  add("load", "Read images from an OCI image archive", [o](DaemonClient& c) { return Load(c, o->path); })
      ->add_option("-i,--input", o->path, "The tar file to read, on slipwayd's host")
      ->required();
  AddBuildCommand(app, verbs);

  CLI::App* image = app.add_subcommand("image", "Manage images (image prune)");
  image->require_subcommand(1);
  CLI::App* prune = image->add_subcommand("prune", "Remove untagged images and unused blobs and layers");
  prune->add_flag("-a,--all", o->all, "Accepted for Docker's sake: prune always removes everything unused");
  prune->add_flag("-f,--force", o->force, "Accepted for Docker's sake: prune never asks");
  verbs.push_back({prune, [](DaemonClient& c) { return Prune(c); }});
}

}  // namespace slipway::cli
