#include "engine/containers/sandbox_spec.h"

#include <climits>
#include <cstdlib>

#include "engine/base/units.h"
#include "engine/runtime/user.h"

namespace slipway {

namespace {

constexpr size_t kMaxNameLength = 128;

// Image variables first; the request's win for the same name.
std::vector<std::string> MergeEnv(const std::vector<std::string>& image,
                                  const std::vector<std::string>& request) {
  auto key = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  std::vector<std::string> out;
  for (const auto& kv : image) {
    bool overridden = false;
    for (const auto& r : request) overridden |= key(r) == key(kv);
    if (!overridden) out.push_back(kv);
  }
  out.insert(out.end(), request.begin(), request.end());
  return out;
}

Status CheckEnv(const std::vector<std::string>& env) {
  for (const auto& kv : env) {
    size_t eq = kv.find('=');
    if (eq == 0 || eq == std::string::npos)
      return InvalidArgument("env entry \"" + kv + "\" is not KEY=VALUE");
  }
  return Status::Ok();
}

Status ApplyCapabilities(const CreateRequest& r, SandboxSpec* spec) {
  for (const auto& name : r.cap_add) {
    SLIPWAY_ASSIGN_OR_RETURN(CapabilityMask bit, ParseCapability(name));
    spec->capabilities |= bit;
  }
  for (const auto& name : r.cap_drop) {
    SLIPWAY_ASSIGN_OR_RETURN(CapabilityMask bit, ParseCapability(name));
    spec->capabilities &= ~bit;
  }
  return Status::Ok();
}

Status ApplyNetwork(const CreateRequest& r, SandboxSpec* spec) {
  if (r.network.empty() || r.network == "none") {
    spec->network = NetworkMode::kPrivate;
    return Status::Ok();
  }
  // No network isolation at all (see NetworkMode::kHost): only ever because
  // the request says so, word for word.
  if (r.network == "host") {
    spec->network = NetworkMode::kHost;
    return Status::Ok();
  }
  if (r.network.starts_with("container:") && r.network.size() > 10) {
    spec->network = NetworkMode::kContainer;
    spec->network_peer = r.network.substr(10);
    return Status::Ok();
  }
  return InvalidArgument("unsupported network \"" + r.network + "\": use none, host or container:NAME");
}

// Docker's rule: an entrypoint given by the request drops the image's Cmd too.
std::vector<std::string> CommandFor(const CreateRequest& r, const ImageConfig& config) {
  if (!r.entrypoint) return config.Command(r.command);
  std::vector<std::string> argv = *r.entrypoint;
  argv.insert(argv.end(), r.command.begin(), r.command.end());
  return argv;
}

Status ApplyRoot(const CreateRequest& r, const ImageStore& images, BuiltSpec* out, std::string* user) {
  SandboxSpec& spec = out->spec;
  *user = r.user;
  if (!r.image.empty() && !r.rootfs.empty()) return InvalidArgument("give either image or rootfs, not both");
  if (!r.rootfs.empty()) {
    if (r.rootfs[0] != '/') return InvalidArgument("rootfs must be an absolute path: " + r.rootfs);
    char resolved[PATH_MAX];
    if (!::realpath(r.rootfs.c_str(), resolved)) return Status::FromErrno(errno, "rootfs " + r.rootfs);
    spec.lower_dirs = {resolved};
    spec.argv = r.entrypoint.value_or(std::vector<std::string>{});
    spec.argv.insert(spec.argv.end(), r.command.begin(), r.command.end());
    if (spec.argv.empty()) return InvalidArgument("a rootfs container needs a command");
    return Status::Ok();
  }
  if (r.image.empty()) return InvalidArgument("give an image or a rootfs");
  auto image = images.Resolve(r.image);
  if (!image.ok() && image.status().code() == Code::kNotFound) return NotFound("no such image: " + r.image);
  if (!image.ok()) return image.status();
  out->image_id = image->id.str();
  SLIPWAY_ASSIGN_OR_RETURN(spec.lower_dirs, images.LowerDirs(*image));
  SLIPWAY_ASSIGN_OR_RETURN(ImageConfig config, images.Config(*image));
  spec.argv = CommandFor(r, config);
  if (spec.argv.empty()) return InvalidArgument("image " + r.image + " has no command: give one");
  spec.env = MergeEnv(config.env, spec.env);
  if (r.workdir.empty() && !config.working_dir.empty()) spec.workdir = config.working_dir;
  if (user->empty()) *user = config.user;
  if (out->stop_signal.empty()) out->stop_signal = config.stop_signal;
  return Status::Ok();
}

}  // namespace

Status ApplyUser(const std::string& user_spec, SandboxSpec* spec) {
  SLIPWAY_ASSIGN_OR_RETURN(ResolvedUser user, ResolveUser(spec->lower_dirs, user_spec));
  spec->uid = user.uid;
  spec->gid = user.gid;
  spec->additional_gids = user.additional_gids;
  bool has_home = false;
  for (const auto& e : spec->env) has_home |= e.starts_with("HOME=");
  if (!has_home && !user.home.empty()) spec->env.push_back("HOME=" + user.home);
  return Status::Ok();
}

Status CheckContainerName(const std::string& name) {
  if (name.size() > kMaxNameLength || !IsValidName(name)) {
    return InvalidArgument("invalid container name \"" + name +
                           "\": use [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 characters");
  }
  return Status::Ok();
}

Result<BuiltSpec> BuildSandboxSpec(const CreateRequest& r, const ImageStore& images) {
  if (!r.name.empty()) SLIPWAY_RETURN_IF_ERROR(CheckContainerName(r.name));
  BuiltSpec out;
  SandboxSpec& spec = out.spec;
  spec.hostname = r.hostname;
  if (!r.workdir.empty()) spec.workdir = r.workdir;
  SLIPWAY_RETURN_IF_ERROR(CheckEnv(r.env));
  spec.env = r.env;
  spec.limits.memory_bytes = r.limits.memory_bytes;
  spec.limits.memory_swap_bytes = r.limits.memory_swap_bytes;
  spec.limits.cpu_millis = r.limits.cpu_millis;
  spec.limits.pids_max = r.limits.pids_max;
  spec.storage_bytes = r.storage_bytes;
  spec.timeout = std::chrono::milliseconds(r.timeout_ms);
  SLIPWAY_RETURN_IF_ERROR(ApplyCapabilities(r, &spec));
  SLIPWAY_RETURN_IF_ERROR(ApplyNetwork(r, &spec));
  for (const auto& text : r.binds) {
    SLIPWAY_ASSIGN_OR_RETURN(BindMount b, ParseBindMount(text));
    spec.binds.push_back(b);
  }
  out.stop_signal = r.stop_signal;
  std::string user;
  SLIPWAY_RETURN_IF_ERROR(ApplyRoot(r, images, &out, &user));
  SLIPWAY_RETURN_IF_ERROR(ApplyUser(user, &spec));
  if (out.stop_signal.empty()) out.stop_signal = "SIGTERM";
  SLIPWAY_RETURN_IF_ERROR(ParseSignal(out.stop_signal).status().Wrap("stop signal"));
  return out;
}

}  // namespace slipway
