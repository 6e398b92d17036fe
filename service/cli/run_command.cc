#include "service/cli/run_command.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "engine/base/units.h"
#include "engine/runtime/capabilities.h"
#include "engine/runtime/frame.h"
#include "service/cli/image_commands.h"
#include "service/cli/interrupt.h"
#include "service/cli/stream.h"

namespace slipway::cli {

namespace {

constexpr int kOwnError = 125;
constexpr int kTimeoutExit = 124;  // as timeout(1)

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

Status AddLimits(const RunOptions& o, CreateRequest& r) {
  if (!o.memory.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(r.limits.memory_bytes, ParseBytes(o.memory));
  }
  if (o.memory_swap == "-1") {
    r.limits.memory_swap_bytes = -1;
  } else if (!o.memory_swap.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(r.limits.memory_swap_bytes, ParseBytes(o.memory_swap));
  }
  if (!o.cpus.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(r.limits.cpu_millis, ParseCpus(o.cpus));
  }
  if (o.pids_limit < 0) return InvalidArgument("--pids-limit must be positive");
  r.limits.pids_max = o.pids_limit;
  if (!o.storage_size.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(r.storage_bytes, ParseBytes(o.storage_size));
  }
  if (!o.timeout.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(std::chrono::milliseconds timeout, ParseDuration(o.timeout));
    r.timeout_ms = timeout.count();
  }
  return Status::Ok();
}

// Names are checked here so that a typo fails before an image is pulled;
// the daemon gets them as written.
Status AddCapabilities(const RunOptions& o, CreateRequest& r) {
  for (const auto* list : {&o.cap_add, &o.cap_drop}) {
    for (const auto& name : *list) SLIPWAY_RETURN_IF_ERROR(ParseCapability(name).status());
  }
  r.cap_add = o.cap_add;
  r.cap_drop = o.cap_drop;
  return Status::Ok();
}

// "HOST:CTR[:ro]" with HOST made absolute: the daemon does not share our
// working directory.
std::vector<std::string> AbsoluteBinds(const std::vector<std::string>& volumes) {
  std::vector<std::string> out;
  for (const auto& v : volumes) {
    size_t colon = v.find(':');
    if (colon == std::string::npos || colon == 0) {
      out.push_back(v);  // malformed: the daemon explains what it wants
    } else {
      out.push_back(AbsolutePath(v.substr(0, colon)) + v.substr(colon));
    }
  }
  return out;
}

// The root filesystem and the command: --rootfs DIR (args are the command)
// or an image (args are IMAGE [COMMAND...]).
Status AddRootAndCommand(const RunOptions& o, CreateRequest& r) {
  std::vector<std::string> command = o.args;
  if (!o.rootfs.empty()) {
    if (command.empty())
      return InvalidArgument("\"slipway " + o.verb + " --rootfs DIR\" requires a command to run");
    r.rootfs = AbsolutePath(o.rootfs);
  } else {
    if (command.empty())
      return InvalidArgument("\"slipway " + o.verb + "\" requires an image or --rootfs DIR");
    r.image = command.front();
    command.erase(command.begin());
  }
  if (o.entrypoint) {  // Docker's: one string; "" clears the image's
    r.entrypoint = o.entrypoint->empty() ? std::vector<std::string>{} : std::vector{*o.entrypoint};
  }
  r.command = command;
  return Status::Ok();
}

void AddContainerFlags(CLI::App* cmd, RunOptions& o) {
  // Everything from the first positional argument on (the image, or with
  // --rootfs the command) belongs to the command: see remaining().
  cmd->prefix_command();
  cmd->set_help_flag("--help", "Print this help");  // -h is --hostname, as in Docker
  cmd->add_flag("--rm", o.remove, "Remove the container once it has ended");
  cmd->add_flag("-i,--interactive", o.interactive, "Not supported: sandboxes run with stdin on /dev/null");
  cmd->add_flag("-t,--tty", o.tty, "Not supported: sandboxes have no terminal");
  cmd->add_option("--name", o.name, "Name the container");
  cmd->add_option("-m,--memory", o.memory, "Memory limit (e.g. 64m)");
  cmd->add_option("--memory-swap", o.memory_swap, "Memory plus swap (-1: unlimited swap); default: no swap");
  cmd->add_option("--cpus", o.cpus, "Number of CPUs (e.g. 0.5)");
  cmd->add_option("--pids-limit", o.pids_limit, "Maximum number of processes");
  cmd->add_option("--storage-size", o.storage_size, "Size of the writable layer (e.g. 100m)");
  cmd->add_option("--timeout", o.timeout, "Kill the sandbox after this long (e.g. 30s)");
  cmd->add_option(
      "--network", o.network,
      "none (default: loopback only), host (the host's network, not isolated), or container:NAME");
  cmd->add_option("-h,--hostname", o.hostname, "Hostname inside the sandbox");
  cmd->add_option("--stop-signal", o.stop_signal,
                  "Signal `stop` sends first (default: the image's, else TERM)");
  cmd->add_option("-e,--env", o.env, "Set an environment variable (K=V, or K to copy it)")
      ->allow_extra_args(false);
  cmd->add_option("-w,--workdir", o.workdir, "Working directory inside the sandbox");
  cmd->add_option("-u,--user", o.user, "USER[:GROUP], names or numeric ids");
  cmd->add_option("-v,--volume", o.volumes, "Bind mount HOST:CONTAINER[:ro]")->allow_extra_args(false);
  cmd->add_option("--cap-add", o.cap_add, "Add a capability")->allow_extra_args(false);
  cmd->add_option("--cap-drop", o.cap_drop, "Drop a capability")->allow_extra_args(false);
  cmd->add_option_function<std::string>(
         "--entrypoint", [&o](const std::string& v) { o.entrypoint = v; },
         "Run this instead of the image's Entrypoint (\"\": none)")
      ->type_name("CMD");
  cmd->add_option("--rootfs", o.rootfs, "Run on this root filesystem directory (never modified)");
}

// Docker pulls a missing image on run and create. A 404 from create may
// also name something else (a network peer), so the image is checked.
bool ImageIsMissing(DaemonClient& client, const CreateRequest& request, const Status& create_error) {
  if (create_error.code() != Code::kNotFound || request.image.empty()) return false;
  auto image = client.Get("/images/inspect?ref=" + Escape(request.image));
  return !image.ok() && image.status().code() == Code::kNotFound;
}

// POST /containers, pulling the image first if the daemon lacks it. With a
// guard, a signal during the pull aborts it.
Result<std::string> Create(DaemonClient& client, const CreateRequest& request, SandboxGuard* guard) {
  const Json body = request.ToJsonValue();
  auto created = client.Post("/containers", body);
  if (!created.ok() && ImageIsMissing(client, request, created.status())) {
    const std::string& image = request.image;
    std::fprintf(stderr, "slipway: unable to find image '%s' locally; pulling it\n", image.c_str());
    std::unique_ptr<DaemonClient> puller = client.Clone();  // an aborted client stays aborted
    if (guard && guard->AbortOnSignal(puller.get())) return Status(Code::kDeadlineExceeded, "interrupted");
    auto pulled = PullWithProgress(*puller, image);
    if (guard) guard->AbortOnSignal(nullptr);
    if (!pulled.ok()) return pulled.status();
    created = client.Post("/containers", body);
  }
  if (!created.ok()) return created.status();
  return StringField(*created, "id");
}

// The frames of an attach stream: output to our stdout and stderr as it
// comes, the final container object kept.
struct AttachSink {
  Json final;
  FrameDecoder decoder{{.output_in_pieces = true, .allow_end = true},
                       [this](Stream stream, std::string_view data) {
                         if (stream == Stream::kStdout) WriteAll(STDOUT_FILENO, data);
                         if (stream == Stream::kStderr) WriteAll(STDERR_FILENO, data);
                         if (stream == Stream::kEnd)
                           final = Json::parse(data, nullptr, /*allow_exceptions=*/false);
                       }};
};

int Attach(DaemonClient& client, SandboxGuard& guard, const std::string& id) {
  AttachSink sink;
  Status framing;
  Status st =
      client.Stream("POST", "/containers/" + Escape(id) + "/attach", nullptr, [&](std::string_view data) {
        framing = sink.decoder.Feed(data);
        return framing.ok();
      });
  if (int sig = guard.signal()) return ReportSignal(sig, "the sandbox was killed");
  if (!framing.ok()) return Fail("the output stream of " + id + " is not framed: " + framing.message());
  if (!st.ok()) return Fail(st);
  if (!sink.final.is_object()) {
    // The stream ended without its last frame (slipwayd restarted?): ask.
    auto c = client.Post("/containers/" + Escape(id) + "/wait", nullptr, DaemonClient::kNoTimeout);
    if (!c.ok()) return Fail("the output stream ended early, and then: " + c.status().message());
    sink.final = std::move(*c);
  }
  std::string message;
  int code = ExitCodeOf(sink.final, &message);
  if (!message.empty()) std::fprintf(stderr, "slipway: %s\n", message.c_str());
  return code;
}

int Run(DaemonClient& client, const RunOptions& o) {
  auto request = BuildCreateRequest(o);
  if (!request.ok()) return Fail(request.status());
  SandboxGuard guard(client);
  auto id = Create(client, *request, &guard);
  if (int sig = guard.signal(); sig && !id.ok()) return ReportSignal(sig, "nothing was started");
  if (!id.ok()) return Fail(id.status());
  if (int sig = guard.Watch(*id)) {
    (void)client.Delete("/containers/" + Escape(*id) + "?force=true");
    return ReportSignal(sig, "the sandbox was removed");
  }
  if (!o.detach) return Attach(client, guard, *id);
  auto started = client.Post("/containers/" + Escape(*id) + "/start");
  if (int sig = guard.signal()) return ReportSignal(sig, "the sandbox was stopped");
  if (!started.ok()) return Fail(started.status());
  std::printf("%s\n", id->c_str());
  return 0;
}

int CreateOnly(DaemonClient& client, const RunOptions& o) {
  auto request = BuildCreateRequest(o);
  if (!request.ok()) return Fail(request.status());
  auto id = Create(client, *request, nullptr);
  if (!id.ok()) return Fail(id.status());
  std::printf("%s\n", id->c_str());
  return 0;
}

}  // namespace

Result<CreateRequest> BuildCreateRequest(const RunOptions& o) {
  // prefix_command() hands an unknown option on as if it began the command
  // (`run --frobnicate --rootfs R ls` would run "--frobnicate"): no image
  // or command starts with "-", so it is a mistyped flag.
  if (!o.args.empty() && o.args[0].size() > 1 && o.args[0][0] == '-')
    return InvalidArgument("unknown flag: " + o.args[0] + " (see \"slipway " + o.verb + " --help\")");
  if (o.interactive || o.tty) {
    return InvalidArgument(std::string(o.interactive ? "-i/--interactive" : "-t/--tty") +
                           " is not supported: sandboxes run under slipwayd, with stdin on /dev/null "
                           "and no terminal");
  }
  CreateRequest r;
  SLIPWAY_RETURN_IF_ERROR(AddRootAndCommand(o, r));
  r.name = o.name;
  r.env = ExpandEnv(o.env);
  r.workdir = o.workdir;
  r.user = o.user;
  r.hostname = o.hostname;
  SLIPWAY_RETURN_IF_ERROR(AddLimits(o, r));
  if (o.network != "none" && o.network != "host" && !o.network.starts_with("container:"))
    return InvalidArgument("unsupported --network \"" + o.network + "\": use none, host or container:NAME");
  r.network = o.network;
  r.binds = AbsoluteBinds(o.volumes);
  SLIPWAY_RETURN_IF_ERROR(AddCapabilities(o, r));
  r.auto_remove = o.remove;
  r.stop_signal = o.stop_signal;
  return r;
}

int ExitCodeOf(const Json& c, std::string* message) {
  const std::string state = StringField(c, "state");
  const std::string error = StringField(c, "error");
  if (state == "failed") {
    *message = "the sandbox could not be started: " + (error.empty() ? "no reason given" : error);
    return kOwnError;
  }
  if (state == "lost") {
    *message = "slipwayd lost track of the sandbox" + (error.empty() ? "" : ": " + error);
    return kOwnError;
  }
  const Json& r = Field(c, "result");
  if (state != "exited" || !r.is_object()) {
    *message = "the sandbox has not ended (state \"" + state + "\")";
    return kOwnError;
  }
  const Json& request = Field(c, "request");
  if (BoolField(r, "timed_out")) {
    *message =
        "sandbox timed out after " + std::to_string(IntField(request, "timeout_ms")) + " ms and was killed";
    return kTimeoutExit;
  }
  if (BoolField(r, "oom_killed")) {
    *message = "sandbox ran out of memory (limit " + std::to_string(IntField(request, "memory_bytes")) +
               " bytes); the kernel killed it";
  }
  return static_cast<int>(IntField(r, "exit_code", kOwnError));
}

int AttachAndWait(DaemonClient& client, const std::string& id) {
  SandboxGuard guard(client);
  if (int sig = guard.Watch(id)) {  // in the instant since the guard started
    KillContainer(client, id);
    return ReportSignal(sig, "the sandbox was killed");
  }
  return Attach(client, guard, id);
}

void AddRunCommands(CLI::App& app, Verbs& verbs, const std::vector<std::string>& tail) {
  auto run_options = std::make_shared<RunOptions>();
  CLI::App* run = app.add_subcommand("run", "Run a command in a new sandbox");
  AddContainerFlags(run, *run_options);
  run->add_flag("-d,--detach", run_options->detach, "Start it in the background and print its id");
  run->footer("Usage: slipway run [OPTIONS] (IMAGE | --rootfs DIR) [COMMAND [ARG...]]");
  verbs.push_back({run, [run, run_options, &tail](DaemonClient& client) {
                     run_options->args = run->remaining();
                     run_options->args.insert(run_options->args.end(), tail.begin(), tail.end());
                     return Run(client, *run_options);
                   }});

  auto create_options = std::make_shared<RunOptions>();
  create_options->verb = "create";
  CLI::App* create = app.add_subcommand("create", "Create a sandbox without starting it; print its id");
  AddContainerFlags(create, *create_options);
  create->footer("Usage: slipway create [OPTIONS] (IMAGE | --rootfs DIR) [COMMAND [ARG...]]");
  verbs.push_back({create, [create, create_options, &tail](DaemonClient& client) {
                     create_options->args = create->remaining();
                     create_options->args.insert(create_options->args.end(), tail.begin(), tail.end());
                     return CreateOnly(client, *create_options);
                   }});
}

}  // namespace slipway::cli
