#include "service/cli/run_command.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine/base/fd.h"
#include "engine/base/units.h"
#include "engine/distribution/distribution.h"
#include "engine/image/image_store.h"
#include "engine/runtime/sandbox.h"
#include "engine/runtime/user.h"
#include "service/cli/progress.h"

namespace slipway::cli {

namespace {

constexpr int kOwnError = 125;
constexpr int kTimeoutExit = 124;  // as timeout(1)

int Fail(const Status& st) {
  return cli::Fail(st.message());
}

// Docker's -e: "K=V" sets, a bare "K" copies the caller's value if it has one.
std::vector<std::string> ExpandEnv(const std::vector<std::string>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) {
    if (e.find('=') != std::string::npos) {
      out.push_back(e);
    } else if (const char* v = std::getenv(e.c_str())) {
      out.push_back(e + "=" + v);
    }
  }
  return out;
}

Status ApplyLimits(const RunOptions& o, SandboxSpec* spec) {
  if (!o.memory.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(spec->limits.memory_bytes, ParseBytes(o.memory));
  }
  if (o.memory_swap == "-1") {
    spec->limits.memory_swap_bytes = -1;
  } else if (!o.memory_swap.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(spec->limits.memory_swap_bytes, ParseBytes(o.memory_swap));
  }
  if (!o.cpus.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(spec->limits.cpu_millis, ParseCpus(o.cpus));
  }
  if (o.pids_limit < 0) return InvalidArgument("--pids-limit must be positive");
  spec->limits.pids_max = o.pids_limit;
  if (!o.storage_size.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(spec->storage_bytes, ParseBytes(o.storage_size));
  }
  if (!o.timeout.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(spec->timeout, ParseDuration(o.timeout));
  }
  return Status::Ok();
}

Status ApplyCapabilities(const RunOptions& o, SandboxSpec* spec) {
  for (const auto& name : o.cap_add) {
    SLIPWAY_ASSIGN_OR_RETURN(CapabilityMask bit, ParseCapability(name));
    spec->capabilities |= bit;
  }
  for (const auto& name : o.cap_drop) {
    SLIPWAY_ASSIGN_OR_RETURN(CapabilityMask bit, ParseCapability(name));
    spec->capabilities &= ~bit;
  }
  return Status::Ok();
}

// Image variables first; the caller's -e wins for the same name.
std::vector<std::string> MergeEnv(const std::vector<std::string>& image,
                                  const std::vector<std::string>& user) {
  std::vector<std::string> out;
  auto key = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  for (const auto& kv : image) {
    bool overridden = false;
    for (const auto& u : user) overridden |= key(u) == key(kv);
    if (!overridden) out.push_back(kv);
  }
  out.insert(out.end(), user.begin(), user.end());
  return out;
}

// The image named `ref`, pulled first if the store lacks it (as docker run).
Result<ImageRecord> FindOrPull(ImageStore& store, const GlobalOptions& g, const std::string& ref) {
  auto image = store.Resolve(ref);
  if (image.ok() || image.status().code() != Code::kNotFound) return image;
  std::fprintf(stderr, "slipway: unable to find image '%s' locally; pulling it\n", ref.c_str());
  RegistryClient client(RegistryOptionsFor(g));
  ProgressPrinter printer(STDERR_FILENO);
  TransferOptions options;
  options.progress = printer.Callback();
  return Pull(store, client, ref, options);
}

// Fills the root filesystem, command and image defaults: from --rootfs DIR
// (args is the command) or from an image (args is IMAGE [COMMAND...]).
Status ApplyRoot(const GlobalOptions& g, const RunOptions& o, SandboxSpec* spec, std::string* user) {
  const std::vector<std::string>& args = o.args;
  *user = o.user;
  if (!o.rootfs.empty()) {
    if (args.empty()) return InvalidArgument("\"slipway run\" requires a command to run");
    char resolved[PATH_MAX];
    if (!::realpath(o.rootfs.c_str(), resolved)) return Status::FromErrno(errno, "--rootfs " + o.rootfs);
    spec->lower_dirs = {resolved};
    spec->argv = args;
    return Status::Ok();
  }
  if (args.empty()) return InvalidArgument("\"slipway run\" requires an image or --rootfs DIR");
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<ImageStore> store, ImageStore::Open(g.data_dir));
  SLIPWAY_ASSIGN_OR_RETURN(ImageRecord image, FindOrPull(*store, g, args[0]));
  SLIPWAY_ASSIGN_OR_RETURN(spec->lower_dirs, store->LowerDirs(image));
  SLIPWAY_ASSIGN_OR_RETURN(ImageConfig config, store->Config(image));
  spec->argv = config.Command({args.begin() + 1, args.end()});
  if (spec->argv.empty())
    return InvalidArgument("image " + args[0] + " has no command: give one after the image");
  spec->env = MergeEnv(config.env, spec->env);
  if (o.workdir.empty() && !config.working_dir.empty()) spec->workdir = config.working_dir;
  if (user->empty()) *user = config.user;
  return Status::Ok();
}

Result<SandboxSpec> BuildSpec(const GlobalOptions& g, const RunOptions& o) {
  // prefix_command() hands an unknown option on as if it began the command
  // (`run --frobnicate --rootfs R ls` would exec "--frobnicate"): no image
  // or command starts with "-", so it is a mistyped flag.
  if (!o.args.empty() && o.args[0].size() > 1 && o.args[0][0] == '-')
    return InvalidArgument("unknown flag: " + o.args[0] + " (see \"slipway run --help\")");
  // Every flag is checked before anything is pulled or created.
  SandboxSpec spec;
  spec.name = o.name;
  spec.hostname = o.hostname;
  spec.interactive = o.interactive;
  spec.kill_on_parent_death = true;
  if (!o.workdir.empty()) spec.workdir = o.workdir;
  spec.env = ExpandEnv(o.env);
  SLIPWAY_RETURN_IF_ERROR(ApplyLimits(o, &spec));
  SLIPWAY_RETURN_IF_ERROR(ApplyCapabilities(o, &spec));
  if (o.network == "none") {
    spec.network = NetworkMode::kPrivate;
  } else if (o.network.starts_with("container:")) {
    spec.network = NetworkMode::kContainer;
    spec.network_peer = o.network.substr(10);
  } else {
    return InvalidArgument("unsupported --network \"" + o.network + "\": use none or container:NAME");
  }
  for (const auto& v : o.volumes) {
    SLIPWAY_ASSIGN_OR_RETURN(BindMount b, ParseBindMount(v));
    spec.binds.push_back(b);
  }
  if (!spec.name.empty() && !IsValidName(spec.name)) return ValidateSpec(spec);
  std::string user_spec;
  SLIPWAY_RETURN_IF_ERROR(ApplyRoot(g, o, &spec, &user_spec));
  SLIPWAY_ASSIGN_OR_RETURN(ResolvedUser user, ResolveUser(spec.lower_dirs, user_spec));
  spec.uid = user.uid;
  spec.gid = user.gid;
  spec.additional_gids = user.additional_gids;
  bool has_home = false;
  for (const auto& e : spec.env) has_home |= e.starts_with("HOME=");
  if (!has_home && !user.home.empty()) spec.env.push_back("HOME=" + user.home);
  SLIPWAY_RETURN_IF_ERROR(ValidateSpec(spec));
  return spec;
}

// SIGINT, SIGTERM and SIGHUP end the sandbox (and then this process) instead
// of leaving it behind.
UniqueFd BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  return UniqueFd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
}

// Which termination signal ended the run, read from the (still pending)
// signalfd; 0 if none.
int ReceivedSignal(int signal_fd) {
  signalfd_siginfo info;
  if (::read(signal_fd, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return 0;
  return static_cast<int>(info.ssi_signo);
}

int ReportEnd(const SandboxResult& r, const SandboxSpec& spec, int signal_fd) {
  if (r.cancelled) {
    int sig = ReceivedSignal(signal_fd);
    std::fprintf(stderr, "slipway: received %s; the sandbox was killed\n",
                 sig ? sigabbrev_np(sig) : "a signal");
    if (sig) return 128 + sig;  // as if slipway itself had been ended by it
  }
  if (r.timed_out) {
    std::fprintf(stderr, "slipway: sandbox timed out after %lld ms and was killed\n",
                 static_cast<long long>(spec.timeout.count()));
    return kTimeoutExit;
  }
  if (r.oom_killed) {
    std::fprintf(stderr, "slipway: sandbox ran out of memory (limit %lld bytes); the kernel killed it\n",
                 static_cast<long long>(spec.limits.memory_bytes));
  }
  return r.exit_code;
}

}  // namespace

CLI::App* AddRunCommand(CLI::App& app, RunOptions& o) {
  CLI::App* run = app.add_subcommand("run", "Run a command in a new sandbox");
  run->set_help_flag("--help", "Print this help");
  // Everything from the first positional argument on (the image, or with
  // --rootfs the command) belongs to the command: see remaining().
  run->prefix_command();
  run->add_flag("--rm", o.remove, "Remove the sandbox's state when it exits");
  run->add_flag("-i,--interactive", o.interactive, "Keep stdin attached");
  run->add_option("--name", o.name, "Name the sandbox");
  run->add_option("-m,--memory", o.memory, "Memory limit (e.g. 64m)");
  run->add_option("--memory-swap", o.memory_swap, "Memory plus swap (-1: unlimited swap); default: no swap");
  run->add_option("--cpus", o.cpus, "Number of CPUs (e.g. 0.5)");
  run->add_option("--pids-limit", o.pids_limit, "Maximum number of processes");
  run->add_option("--storage-size", o.storage_size, "Size of the writable layer (e.g. 100m)");
  run->add_option("--timeout", o.timeout, "Kill the sandbox after this long (e.g. 30s)");
  run->add_option("--network", o.network, "none (default) or container:NAME");
  run->add_option("-h,--hostname", o.hostname, "Hostname inside the sandbox");
  run->add_option("-e,--env", o.env, "Set an environment variable (K=V, or K to copy it)")
      ->allow_extra_args(false);
  run->add_option("-w,--workdir", o.workdir, "Working directory inside the sandbox");
  run->add_option("-u,--user", o.user, "USER[:GROUP], names or numeric ids");
  run->add_option("-v,--volume", o.volumes, "Bind mount HOST:CONTAINER[:ro]")->allow_extra_args(false);
  run->add_option("--cap-add", o.cap_add, "Add a capability")->allow_extra_args(false);
  run->add_option("--cap-drop", o.cap_drop, "Drop a capability")->allow_extra_args(false);
  run->add_option("--rootfs", o.rootfs, "Run on this root filesystem directory (never modified)");
  run->footer("Usage: slipway run [OPTIONS] (--rootfs DIR | IMAGE) COMMAND [ARG...]");
  return run;
}

int RunCommand(const GlobalOptions& global, const RunOptions& o) {
  auto spec = BuildSpec(global, o);
  if (!spec.ok()) return Fail(spec.status());
  auto runtime = Runtime::Open({global.state_dir, global.cgroup_parent});
  if (!runtime.ok()) return Fail(runtime.status());
  (void)(*runtime)->CollectGarbage();
  UniqueFd signals = BlockTerminationSignals();
  auto sandbox = (*runtime)->Start(*spec);
  if (!sandbox.ok()) return Fail(sandbox.status());
  FdSink sink(STDOUT_FILENO, STDERR_FILENO);
  auto result = (*sandbox)->Wait(&sink, signals.get());
  if (!result.ok()) return Fail(result.status());
  if (o.remove) {
    Status st = (*sandbox)->Remove();
    if (!st.ok()) return Fail(st);
  }
  return ReportEnd(*result, *spec, signals.get());
}

}  // namespace slipway::cli
