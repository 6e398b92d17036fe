#include "service/cli/image_commands.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <set>

#include "engine/distribution/distribution.h"
#include "engine/image/image_store.h"
#include "engine/image/layer_writer.h"
#include "engine/image/oci_archive.h"
#include "engine/registry/reference.h"
#include "engine/runtime/sandbox.h"
#include "service/cli/progress.h"

namespace slipway::cli {

namespace {

std::string ShortId(const Digest& id) {
  return id.hex().substr(0, 12);
}

std::string HumanSize(int64_t n) {
  char buf[32];
  if (n >= (int64_t{1} << 30))
    std::snprintf(buf, sizeof buf, "%.2fGB", static_cast<double>(n) / (1 << 30));
  else if (n >= (1 << 20))
    std::snprintf(buf, sizeof buf, "%.1fMB", static_cast<double>(n) / (1 << 20));
  else
    std::snprintf(buf, sizeof buf, "%.1fkB", static_cast<double>(n) / 1024);
  return buf;
}

std::string Created(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return buf;
}

int Images(ImageStore& store, const ImageOptions& o) {
  auto images = store.metadata().ListImages();
  if (!images.ok()) return Fail(images.status().message());
  if (!o.quiet)
    std::printf("%-40s %-12s %-12s %-19s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
  for (const ImageRecord& image : *images) {
    if (o.quiet) {
      std::printf("%s\n", ShortId(image.id).c_str());
      continue;
    }
    std::vector<std::string> names = image.tags;
    if (names.empty()) names.push_back("");
    for (const std::string& name : names) {
      std::string repo = "<none>", tag = "<none>";
      if (auto r = ParseReference(name); r.ok()) {
        // As Docker shows it: "busybox", not "docker.io/library/busybox".
        Reference untagged = *r;
        untagged.tag.clear();
        untagged.digest.reset();
        repo = untagged.Familiar();
        if (!r->tag.empty()) tag = r->tag;
      }
      std::printf("%-40s %-12s %-12s %-19s %s\n", repo.c_str(), tag.c_str(), ShortId(image.id).c_str(),
                  Created(image.created_unix_ms).c_str(), HumanSize(image.Size()).c_str());
    }
  }
  return 0;
}

// Layer directories that running sandboxes stand on.
std::set<std::string> LayersInUse(const GlobalOptions& g) {
  std::set<std::string> out;
  auto runtime = Runtime::Open({g.state_dir, g.cgroup_parent});
  if (!runtime.ok()) return out;
  auto list = (*runtime)->List();
  if (!list.ok()) return out;
  for (const SandboxInfo& s : *list) {
    if (s.running) out.insert(s.lower_dirs.begin(), s.lower_dirs.end());
  }
  return out;
}

int Prune(ImageStore& store, const GlobalOptions& g, bool quiet) {
  auto report = store.Prune(LayersInUse(g));
  if (!report.ok()) return Fail(report.status().message());
  for (const Digest& d : report->images) std::printf("Deleted: %s\n", d.str().c_str());
  if (!quiet) {
    std::printf("Removed %zu images, %zu blobs, %zu layers\n", report->images.size(), report->blobs.size(),
                report->snapshots.size());
  }
  return 0;
}

// Docker refuses to remove an image a running container uses.
Status CheckNotInUse(ImageStore& store, const GlobalOptions& g, const std::string& name) {
  SLIPWAY_ASSIGN_OR_RETURN(ImageRecord image, store.Resolve(name));
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> dirs, store.LowerDirs(image));
  std::set<std::string> in_use = LayersInUse(g);
  for (const auto& d : dirs) {
    if (in_use.count(d) && image.tags.size() <= 1) {
      return FailedPrecondition("image " + name + " is used by a running sandbox; stop it first, or force");
    }
  }
  return Status::Ok();
}

int Rmi(ImageStore& store, const GlobalOptions& g, const ImageOptions& o) {
  int rc = 0;
  for (const std::string& name : o.names) {
    if (!o.force) {
      if (Status st = CheckNotInUse(store, g, name); !st.ok()) {
        rc = Fail(st.message());
        continue;
      }
    }
    auto removed = store.Remove(name, o.force);
    if (!removed.ok()) {
      rc = Fail(removed.status().message());
      continue;
    }
    std::printf("Untagged: %s\n", name.c_str());
    for (const Digest& d : *removed) std::printf("Deleted: %s\n", d.str().c_str());
  }
  // As Docker does, an image's layers go with it: collect what nothing uses.
  if (rc == 0) return Prune(store, g, /*quiet=*/true);
  return rc;
}

int PullOrPush(ImageStore& store, const GlobalOptions& g, const ImageOptions& o, bool pull) {
  if (o.names.size() != 1) return Fail(std::string(pull ? "pull" : "push") + " takes exactly one image name");
  RegistryClient client(RegistryOptionsFor(g));
  ProgressPrinter printer(STDERR_FILENO);
  TransferOptions options;
  options.progress = printer.Callback();
  auto bytes = printer.Callback();
  client.set_progress([bytes, pull](const Digest& d, int64_t done, int64_t total) {
    bytes(d, pull ? "downloading" : "uploading", done, total);
  });
  if (pull) {
    auto image = Pull(store, client, o.names[0], options);
    if (!image.ok()) return Fail(image.status().message());
    std::printf("%s: pulled %s\n", o.names[0].c_str(), image->id.str().c_str());
    return 0;
  }
  auto digest = Push(store, client, o.names[0], "", options);
  if (!digest.ok()) return Fail(digest.status().message());
  std::printf("%s: pushed, digest: %s\n", o.names[0].c_str(), digest->str().c_str());
  return 0;
}

int RunVerb(const std::string& verb, ImageStore& store, const GlobalOptions& g, const ImageOptions& o) {
  if (verb == "images") return Images(store, o);
  if (verb == "prune") return Prune(store, g, false);
  if (verb == "rmi") return Rmi(store, g, o);
  if (verb == "pull") return PullOrPush(store, g, o, true);
  if (verb == "push") return PullOrPush(store, g, o, false);
  if (verb == "tag") {
    if (o.names.size() != 2) return Fail("tag takes SOURCE and TARGET");
    Status st = store.Tag(o.names[0], o.names[1]);
    return st.ok() ? 0 : Fail(st.message());
  }
  if (verb == "import") {
    if (o.names.empty() || o.names.size() > 2) return Fail("import takes FILE [NAME]");
    auto image = ImportRootfsTar(store, o.names[0], o.names.size() == 2 ? o.names[1] : "");
    if (!image.ok()) return Fail(image.status().message());
    std::printf("%s\n", image->id.str().c_str());
    return 0;
  }
  if (verb == "save") {
    if (o.output.empty()) return Fail("save needs -o FILE");
    if (o.names.empty()) return Fail("save needs at least one image");
    Status st = SaveOciArchive(store, o.names, o.output);
    return st.ok() ? 0 : Fail(st.message());
  }
  if (verb == "load") {
    if (o.input.empty()) return Fail("load needs -i FILE");
    auto images = LoadOciArchive(store, o.input);
    if (!images.ok()) return Fail(images.status().message());
    for (const ImageRecord& image : *images) {
      if (image.tags.empty()) std::printf("Loaded image ID: %s\n", image.id.str().c_str());
      for (const auto& tag : image.tags) std::printf("Loaded image: %s\n", tag.c_str());
    }
    return 0;
  }
  return -1;
}

}  // namespace

void AddImageCommands(CLI::App& app, ImageOptions& o) {
  auto names = [&](CLI::App* cmd, const char* what) { cmd->add_option("names", o.names, what); };
  names(app.add_subcommand("pull", "Pull an image from a registry"), "IMAGE");
  names(app.add_subcommand("push", "Push an image to its registry"), "IMAGE");
  names(app.add_subcommand("tag", "Name an image"), "SOURCE TARGET");
  CLI::App* images = app.add_subcommand("images", "List images");
  images->add_flag("-q,--quiet", o.quiet, "Only ids");
  CLI::App* rmi = app.add_subcommand("rmi", "Remove images");
  rmi->add_flag("-f,--force", o.force, "Remove an image even if several names point at it");
  names(rmi, "IMAGE...");
  names(app.add_subcommand("import", "Make a one-layer image from a root filesystem tar"), "FILE [NAME]");
  CLI::App* save = app.add_subcommand("save", "Write images to an OCI layout tar");
  save->add_option("-o,--output", o.output, "The tar file to write")->required();
  names(save, "IMAGE...");
  CLI::App* load = app.add_subcommand("load", "Read images from an OCI layout tar");
  load->add_option("-i,--input", o.input, "The tar file to read")->required();
  CLI::App* image = app.add_subcommand("image", "Manage images");
  CLI::App* prune = image->add_subcommand("prune", "Remove untagged images and unused blobs and layers");
  prune->add_flag("-a,--all", o.all, "Accepted for Docker's sake: prune always removes everything unused");
  image->require_subcommand(1);
}

int RunImageCommand(CLI::App& app, const GlobalOptions& g, const ImageOptions& o) {
  std::string verb;
  for (const char* v : {"pull", "push", "tag", "images", "rmi", "import", "save", "load"}) {
    if (app.got_subcommand(v)) verb = v;
  }
  if (app.got_subcommand("image")) verb = "prune";
  if (verb.empty()) return -1;
  auto store = ImageStore::Open(g.data_dir);
  if (!store.ok()) return Fail(store.status().message());
  return RunVerb(verb, **store, g, o);
}

}  // namespace slipway::cli
