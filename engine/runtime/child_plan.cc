#include "engine/runtime/child_plan.h"

#include <sys/stat.h>

#include <string>
#include <vector>

namespace slipway {

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Only kPrivate gets a network namespace of its own: kContainer joins its
// peer's (setns in the child), kHost stays in ours.
bool NeedsNewNetns(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::kPrivate: return true;
    case NetworkMode::kContainer: return false;
    case NetworkMode::kHost: return false;
  }
  return true;  // not a mode at all: the isolated choice
}

bool HasEnv(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& kv : env) {
    if (kv.compare(0, key.size() + 1, key + "=") == 0) return true;
  }
  return false;
}


std::string OverlayEscape(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == ':' || c == ',' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// xino=on: the upper (a tmpfs, or a build's directory) and the lower layers
// are on different filesystems, and without xino overlayfs gives readdir's
// d_ino from the layer but stat's st_ino from its own numbering, so they
// disagree on every merged directory entry (programs that compare them,
// CPython's DirEntry.inode() among them, see two files). With xino the
// layer's number goes into the low bits and the layer's index into the high
// ones, the same for both.
std::string OverlayOptions(const std::string& lower, const std::string& upper, const std::string& work,
                           const char* extra) {
  return "lowerdir=" + lower + ",upperdir=" + OverlayEscape(upper) + ",workdir=" + OverlayEscape(work) +
         ",xino=on" + extra;
}

// An upper directory that outlives the sandbox becomes an image layer, and a
// layer can only say "this entry is new or changed", "deleted" (whiteout) and
// "replaced" (opaque directory). So the features that record anything else
// are off explicitly, whatever this kernel's defaults (module parameters and
// build options): redirect_dir=off (renaming a lower directory fails with
// EXDEV and mv falls back to copying, instead of a redirect xattr),
// metacopy=off (chown or chmod copy a file up whole, instead of a
// metadata-only inode whose data stays in the lower layer), index=off (no
// index tying the upper to these exact lower inodes).
constexpr const char* kPersistentUpperOptions = ",index=off,redirect_dir=off,metacopy=off";

// The writable layer: the tmpfs's subdirectories and the overlay options.
Status PlanLayers(const SandboxSpec& spec, PlanStorage* s) {
  std::string lower;
  for (const auto& l : spec.lower_dirs) lower += (lower.empty() ? "" : ":") + OverlayEscape(l);
  s->staging = s->rw_dir + "/files";
  if (spec.upper_dir.empty()) {
    s->upper = s->rw_dir + "/upper";
    s->work = s->rw_dir + "/work";
    s->rw_subdirs = {s->upper.c_str(), s->work.c_str(), s->staging.c_str(), nullptr};
    s->overlay_options = OverlayOptions(lower, s->upper, s->work, ",index=off");
  } else {
    // Made by Runtime::Start() before the clone.
    s->upper = spec.upper_dir + "/upper";
    s->work = spec.upper_dir + "/work";
    s->stubs = s->rw_dir + "/stubs";
    s->stubs_work = s->rw_dir + "/stubs-work";
    s->rw_subdirs = {s->staging.c_str(), s->stubs.c_str(), s->stubs_work.c_str(), nullptr};
    s->stub_overlay_options = OverlayOptions(lower, s->stubs, s->stubs_work, kPersistentUpperOptions);
    s->overlay_options =
        OverlayOptions(OverlayEscape(s->stubs) + ":" + lower, s->upper, s->work, kPersistentUpperOptions);
  }
  if (s->overlay_options.size() >= 4000) {
    return InvalidArgument("too many layers: overlay options exceed one page (" +
                           std::to_string(s->overlay_options.size()) + " bytes)");
  }
  return Status::Ok();
}

}  // namespace

Status BuildPlan(const SandboxSpec& spec, const StateDir& state_dir, const std::string& id,
                 const std::string& hostname, NetworkFiles network_files, PlanStorage* s) {
  s->hostname = hostname;
  s->rw_dir = state_dir.RwDir(id);
  s->tmpfs_options = "mode=0755";
  if (spec.storage_bytes > 0) s->tmpfs_options += ",size=" + std::to_string(spec.storage_bytes);
  s->rootfs = state_dir.RootfsDir(id);
  SLIPWAY_RETURN_IF_ERROR(PlanLayers(spec, s));
  s->hostname_file = hostname + "\n";
  s->hosts = std::move(network_files.hosts);
  s->resolv = std::move(network_files.resolv);
  s->files = {{"/etc/hostname", "hostname", s->hostname_file.c_str()},
              {"/etc/hosts", "hosts", s->hosts.c_str()},
              {"/etc/resolv.conf", "resolv.conf", s->resolv.c_str()}};
  for (const BindMount& b : spec.binds) {
    struct stat st;
    if (::stat(b.source.c_str(), &st) != 0) return Status::FromErrno(errno, "volume source " + b.source);
    s->bind_sources.push_back(b.source);
    s->bind_targets.push_back(b.target);
    s->binds.push_back({nullptr, nullptr, b.read_only, !S_ISDIR(st.st_mode)});
  }
  for (size_t i = 0; i < s->binds.size(); ++i) {
    s->binds[i].source = s->bind_sources[i].c_str();
    s->binds[i].target = s->bind_targets[i].c_str();
  }
  s->workdir = spec.workdir;
  s->argv_s = spec.argv;
  s->env_s = spec.env;
  if (!HasEnv(s->env_s, "PATH")) s->env_s.push_back(std::string("PATH=") + kDefaultPath);
  if (!HasEnv(s->env_s, "HOSTNAME")) s->env_s.push_back("HOSTNAME=" + hostname);
  if (!HasEnv(s->env_s, "HOME")) s->env_s.push_back(spec.uid == 0 ? "HOME=/root" : "HOME=/");
  s->path_env = kDefaultPath;
  for (const auto& kv : s->env_s) {
    if (kv.starts_with("PATH=")) s->path_env = kv.substr(5);
  }
  for (auto& a : s->argv_s) s->argv.push_back(a.data());
  s->argv.push_back(nullptr);
  for (auto& e : s->env_s) s->envp.push_back(e.data());
  s->envp.push_back(nullptr);

  ChildPlan& p = s->plan;
  p.hostname = s->hostname.c_str();
  p.new_netns = NeedsNewNetns(spec.network);
  p.rw_dir = s->rw_dir.c_str();
  p.tmpfs_options = s->tmpfs_options.c_str();
  p.rw_subdirs = s->rw_subdirs.data();
  p.upper_dir = s->upper.c_str();
  p.staging_dir = s->staging.c_str();
  p.rootfs_dir = s->rootfs.c_str();
  p.overlay_options = s->overlay_options.c_str();
  p.stub_overlay_options = spec.upper_dir.empty() ? nullptr : s->stub_overlay_options.c_str();
  p.files = s->files.data();
  p.file_count = static_cast<int>(s->files.size());
  p.binds = s->binds.data();
  p.bind_count = static_cast<int>(s->binds.size());
  p.workdir = s->workdir.c_str();
  p.uid = spec.uid;
  p.gid = spec.gid;
  p.groups = spec.additional_gids.data();
  p.group_count = static_cast<int>(spec.additional_gids.size());
  p.capabilities = spec.capabilities;
  p.argv = s->argv.data();
  p.envp = s->envp.data();
  p.path_env = s->path_env.c_str();
  p.kill_on_parent_death = spec.kill_on_parent_death;
  return Status::Ok();
}

}  // namespace slipway
