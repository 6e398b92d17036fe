#include "engine/runtime/monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "engine/base/fd.h"
#include "engine/base/fs.h"

extern char** environ;

namespace slipway {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// SandboxSpec <-> JSON

namespace {

// Thrown while decoding, caught in SpecFromJson: exceptions stay in this file.
struct SpecError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const char* NetworkName(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::kPrivate: return "private";
    case NetworkMode::kContainer: return "container";
    case NetworkMode::kHost: return "host";
  }
  // Only a value outside the enum gets here; it must not decode as anything.
  return "unknown";
}

NetworkMode NetworkFromName(const std::string& name) {
  if (name == "private") return NetworkMode::kPrivate;
  if (name == "container") return NetworkMode::kContainer;
  if (name == "host") return NetworkMode::kHost;
  throw SpecError("network: unknown mode \"" + name + "\"");
}

// Rejects keys this decoder does not know: a field renamed on one side only
// would otherwise fall back to its default without a word.
void CheckKeys(const json& object, std::initializer_list<const char*> known, const std::string& where) {
  if (!object.is_object()) throw SpecError(where + ": not an object");
  for (const auto& [key, value] : object.items()) {
    bool ok = std::any_of(known.begin(), known.end(), [&](const char* k) { return key == k; });
    if (!ok) throw SpecError(where + ": unknown key \"" + key + "\"");
  }
}

// An integer of type T, refusing floats and values T cannot hold (a uid of -1
// must not become 4294967295).
template <typename T>
T ToInt(const json& value, const std::string& key) {
  if (!value.is_number_integer()) throw SpecError(key + ": not an integer");
  if (value.is_number_unsigned()) {
    auto u = value.get<uint64_t>();
    if (!std::in_range<T>(u)) throw SpecError(key + ": out of range");
    return static_cast<T>(u);
  }
  auto s = value.get<int64_t>();
  if (!std::in_range<T>(s)) throw SpecError(key + ": out of range");
  return static_cast<T>(s);
}

// Sets *out from object[key] if present; a missing key keeps the default.
template <typename T>
void Read(const json& object, const char* key, T* out) {
  auto it = object.find(key);
  if (it == object.end()) return;
  if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) throw SpecError(std::string(key) + ": not a boolean");
    *out = it->template get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    *out = ToInt<T>(*it, key);
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) throw SpecError(std::string(key) + ": not a string");
    *out = it->template get<std::string>();
  } else {
    static_assert(std::is_same_v<T, std::vector<std::string>>);
    if (!it->is_array()) throw SpecError(std::string(key) + ": not an array");
    out->clear();
    for (const json& s : *it) {
      if (!s.is_string()) throw SpecError(std::string(key) + ": not an array of strings");
      out->push_back(s.get<std::string>());
    }
  }
}

json LimitsToJson(const CgroupLimits& l) {
  return {{"memory_bytes", l.memory_bytes}, {"memory_swap_bytes", l.memory_swap_bytes},
          {"cpu_millis", l.cpu_millis},     {"cpu_period_us", l.cpu_period_us},
          {"pids_max", l.pids_max},         {"restrict_devices", l.restrict_devices}};
}

CgroupLimits LimitsFromJson(const json& j) {
  CheckKeys(
      j, {"memory_bytes", "memory_swap_bytes", "cpu_millis", "cpu_period_us", "pids_max", "restrict_devices"},
      "limits");
  CgroupLimits l;
  Read(j, "memory_bytes", &l.memory_bytes);
  Read(j, "memory_swap_bytes", &l.memory_swap_bytes);
  Read(j, "cpu_millis", &l.cpu_millis);
  Read(j, "cpu_period_us", &l.cpu_period_us);
  Read(j, "pids_max", &l.pids_max);
  Read(j, "restrict_devices", &l.restrict_devices);
  return l;
}

json BindsToJson(const std::vector<BindMount>& binds) {
  json out = json::array();
  for (const BindMount& b : binds) {
    out.push_back({{"source", b.source}, {"target", b.target}, {"read_only", b.read_only}});
  }
  return out;
}

std::vector<BindMount> BindsFromJson(const json& j) {
  if (!j.is_array()) throw SpecError("binds: not an array");
  std::vector<BindMount> out;
  for (const json& item : j) {
    CheckKeys(item, {"source", "target", "read_only"}, "binds");
    BindMount b;
    Read(item, "source", &b.source);
    Read(item, "target", &b.target);
    Read(item, "read_only", &b.read_only);
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<gid_t> GidsFromJson(const json& j) {
  if (!j.is_array()) throw SpecError("additional_gids: not an array");
  std::vector<gid_t> out;
  for (const json& g : j) out.push_back(ToInt<gid_t>(g, "additional_gids"));
  return out;
}

}  // namespace

std::string SpecToJson(const SandboxSpec& spec) {
  json j = {
      {"name", spec.name},
      {"lower_dirs", spec.lower_dirs},
      {"argv", spec.argv},
      {"env", spec.env},
      {"workdir", spec.workdir},
      {"uid", spec.uid},
      {"gid", spec.gid},
      {"additional_gids", spec.additional_gids},
      {"hostname", spec.hostname},
      {"limits", LimitsToJson(spec.limits)},
      {"storage_bytes", spec.storage_bytes},
      {"upper_dir", spec.upper_dir},
      {"timeout_ms", spec.timeout.count()},
      {"network", NetworkName(spec.network)},
      {"network_peer", spec.network_peer},
      {"binds", BindsToJson(spec.binds)},
      {"capabilities", spec.capabilities},
      {"interactive", spec.interactive},
      {"kill_on_parent_death", spec.kill_on_parent_death},
  };
  return j.dump();
}

Result<SandboxSpec> SpecFromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    CheckKeys(j,
              {"name", "lower_dirs", "argv", "env", "workdir", "uid", "gid", "additional_gids", "hostname",
               "limits", "storage_bytes", "upper_dir", "timeout_ms", "network", "network_peer", "binds",
               "capabilities", "interactive", "kill_on_parent_death"},
              "spec");
    SandboxSpec spec;
    Read(j, "name", &spec.name);
    Read(j, "lower_dirs", &spec.lower_dirs);
    Read(j, "argv", &spec.argv);
    Read(j, "env", &spec.env);
    Read(j, "workdir", &spec.workdir);
    Read(j, "uid", &spec.uid);
    Read(j, "gid", &spec.gid);
    if (j.contains("additional_gids")) spec.additional_gids = GidsFromJson(j["additional_gids"]);
    Read(j, "hostname", &spec.hostname);
    if (j.contains("limits")) spec.limits = LimitsFromJson(j["limits"]);
    Read(j, "storage_bytes", &spec.storage_bytes);
    Read(j, "upper_dir", &spec.upper_dir);
    int64_t timeout_ms = spec.timeout.count();
    Read(j, "timeout_ms", &timeout_ms);
    spec.timeout = std::chrono::milliseconds(timeout_ms);
    std::string network = NetworkName(spec.network);
    Read(j, "network", &network);
    spec.network = NetworkFromName(network);
    Read(j, "network_peer", &spec.network_peer);
    if (j.contains("binds")) spec.binds = BindsFromJson(j["binds"]);
    Read(j, "capabilities", &spec.capabilities);
    Read(j, "interactive", &spec.interactive);
    Read(j, "kill_on_parent_death", &spec.kill_on_parent_death);
    return spec;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("malformed sandbox spec: ") + e.what());
  } catch (const SpecError& e) {
    return InvalidArgument(std::string("malformed sandbox spec: ") + e.what());
  }
}

// ---------------------------------------------------------------------------
// The ready line

namespace {

constexpr Code kAllCodes[] = {Code::kOk,
                              Code::kInvalidArgument,
                              Code::kNotFound,
                              Code::kAlreadyExists,
                              Code::kFailedPrecondition,
                              Code::kResourceExhausted,
                              Code::kDeadlineExceeded,
                              Code::kUnavailable,
                              Code::kPermissionDenied,
                              Code::kUnauthenticated,
                              Code::kInternal};

// "failed precondition" -> "failed_precondition": one word on the line.
std::string CodeToken(Code code) {
  std::string token = CodeName(code);
  std::replace(token.begin(), token.end(), ' ', '_');
  return token;
}

// Sandbox ids are lowercase hex (RandomHex); a starter builds paths from
// them, so nothing else is accepted.
bool IsSandboxId(const std::string& id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

}  // namespace

std::string ReadyLine(const ReadyReport& report) {
  return "ok " + report.id + " " + std::to_string(report.init_pid) + "\n";
}

std::string ReadyLine(const Status& error) {
  std::string message = error.message();
  std::replace(message.begin(), message.end(), '\n', ' ');  // one line, whatever the message holds
  return "error " + CodeToken(error.code()) + " " + message + "\n";
}

Result<ReadyReport> ParseReadyLine(const std::string& line) {
  auto malformed = [&] { return Internal("malformed ready line from slipway-monitor: \"" + line + "\""); };
  std::string text = line.ends_with('\n') ? line.substr(0, line.size() - 1) : line;
  size_t first = text.find(' ');
  if (first == std::string::npos) return malformed();
  std::string verb = text.substr(0, first);
  size_t second = text.find(' ', first + 1);
  std::string word =
      text.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
  std::string rest = second == std::string::npos ? "" : text.substr(second + 1);
  if (verb == "ok") {
    char* end = nullptr;
    long pid = std::strtol(rest.c_str(), &end, 10);
    if (!IsSandboxId(word) || rest.empty() || !std::isdigit(static_cast<unsigned char>(rest[0])) ||
        *end != '\0' || pid <= 0 || pid > std::numeric_limits<pid_t>::max())
      return malformed();
    return ReadyReport{word, static_cast<pid_t>(pid)};
  }
  if (verb == "error") {
    for (Code code : kAllCodes) {
      if (code != Code::kOk && CodeToken(code) == word) return Status(code, rest);
    }
  }
  return malformed();
}

// ---------------------------------------------------------------------------
// Starting a monitored sandbox

namespace {

// The fd number the ready pipe has in the monitor.
constexpr int kMonitorReadyFd = 3;
// A ready line longer than this is not one.
constexpr size_t kMaxReadyLine = 64 * 1024;

int PidfdOpen(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// A file removed when this object goes: the spec file, whichever way
// StartMonitored() ends (the monitor removes it too, once read).
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  TempFile(TempFile&& other) noexcept : path_(std::exchange(other.path_, "")) {}
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The spec may hold secrets in its environment: the file is 0600 (mkstemp)
// in the state directory, which is 0700.
Result<TempFile> WriteSpecFile(const std::string& state_dir, const SandboxSpec& spec) {
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(state_dir, 0700));
  std::string path = state_dir + "/.monitor-spec-XXXXXX";
  UniqueFd fd(::mkostemp(path.data(), O_CLOEXEC));
  if (!fd) return ErrnoStatus("mkstemp " + path);
  TempFile file(path);
  SLIPWAY_RETURN_IF_ERROR(WriteAll(fd.get(), SpecToJson(spec), path));
  return file;
}

// Our child, killed and reaped if it is dropped before Reap().
class ChildProcess {
 public:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);  // an unreaped child: its pid cannot have been reused
    (void)Reap();
  }

  // Waits for it to exit; its wait status.
  int Reap() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }
  void Kill() { ::kill(pid_, SIGKILL); }

 private:
  pid_t pid_;
};

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + ::strsignal(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

// posix_spawn (CLONE_VM | CLONE_VFORK in glibc) rather than fork: the
// starter is a threaded daemon. The launcher starts with every signal at its
// default and unblocked, stdio on /dev/null (so not even a usage message
// reaches the starter's terminal), and the ready pipe as fd 3: dup2 clears
// close-on-exec, also when the pipe already is fd 3 (glibc >= 2.29).
Result<pid_t> SpawnLauncher(const MonitorOptions& options, const std::string& spec_path, int ready_fd) {
  std::vector<std::string> args = {
      options.monitor_binary,         "--state-dir", options.state_dir, "--cgroup-parent",
      options.cgroup_parent,          "--spec",      spec_path,         "--ready-fd",
      std::to_string(kMonitorReadyFd)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attr);
  // The pipe first: in a starter whose stdio is closed it may itself be 0-2.
  ::posix_spawn_file_actions_adddup2(&actions, ready_fd, kMonitorReadyFd);
  ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  sigset_t none, all;
  ::sigemptyset(&none);
  ::sigfillset(&all);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &all);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, options.monitor_binary.c_str(), &actions, &attr, argv.data(), environ);
  ::posix_spawnattr_destroy(&attr);
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Status::FromErrno(rc, "posix_spawn " + options.monitor_binary);
  return pid;
}

// Reads up to the first '\n'. An empty string means the pipe reached EOF
// without a line (every copy of the write end closed: the monitor is gone).
Result<std::string> ReadReadyLine(int fd, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string line;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p = {fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return ErrnoStatus("poll ready pipe of slipway-monitor");
    if (ready == 0) {
      return Status(Code::kDeadlineExceeded,
                    "slipway-monitor did not report within " + std::to_string(timeout.count()) + " ms");
    }
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read ready pipe of slipway-monitor");
    if (n == 0) return line;  // EOF; a partial line is reported as malformed by the caller
    line.append(buf, static_cast<size_t>(n));
    size_t newline = line.find('\n');
    if (newline != std::string::npos) return line.substr(0, newline + 1);
    if (line.size() > kMaxReadyLine) return Internal("ready line from slipway-monitor is too long");
  }
}

std::string SandboxDirOf(const std::string& state_dir, const std::string& id) {
  return state_dir + "/sandboxes/" + id;
}

}  // namespace

Result<StartedSandbox> StartMonitored(const MonitorOptions& options, const SandboxSpec& spec) {
  SLIPWAY_ASSIGN_OR_RETURN(TempFile spec_file, WriteSpecFile(options.state_dir, spec));
  SLIPWAY_ASSIGN_OR_RETURN(Pipe ready, MakePipe());
  SLIPWAY_ASSIGN_OR_RETURN(pid_t launcher_pid, SpawnLauncher(options, spec_file.path(), ready.write.get()));
  ChildProcess launcher(launcher_pid);
  // Only the monitor holds the write end now: EOF means it is gone.
  ready.write.reset();

  Result<std::string> line = ReadReadyLine(ready.read.get(), options.ready_timeout);
  // On a timeout the launcher may be what hangs; the monitor, if it exists,
  // finds the pipe closed when it reports and removes its sandbox.
  if (!line.ok()) launcher.Kill();
  int launcher_status = launcher.Reap();
  if (!line.ok()) return line.status();
  if (line->empty()) {
    return Internal("slipway-monitor exited without reporting (launcher " +
                    DescribeWaitStatus(launcher_status) + ")");
  }
  SLIPWAY_ASSIGN_OR_RETURN(ReadyReport report, ParseReadyLine(*line));
  // The monitor is the owner Runtime::Start() recorded.
  SLIPWAY_ASSIGN_OR_RETURN(SandboxState state, ReadSandboxState(SandboxDirOf(options.state_dir, report.id)));
  return StartedSandbox{report.id, report.init_pid, state.owner.pid};
}

// ---------------------------------------------------------------------------
// Watching monitored sandboxes

const char* SandboxPhaseName(SandboxPhase phase) {
  switch (phase) {
    case SandboxPhase::kRunning: return "running";
    case SandboxPhase::kEnded: return "ended";
    case SandboxPhase::kLost: return "lost";
  }
  return "unknown";
}

Result<SandboxStatus> SurveyOne(const std::string& state_dir, const std::string& id) {
  std::string dir = SandboxDirOf(state_dir, id);
  SLIPWAY_ASSIGN_OR_RETURN(SandboxState state, ReadSandboxState(dir));
  // The owner first, the result second: the monitor writes result.json before
  // it exits, so an owner seen dead here has written whatever it ever will.
  // (The other order could see "no result yet", then "owner dead": lost.)
  bool owner_alive = state.owner.Alive();
  SandboxStatus status{id, state.name, SandboxPhase::kLost, std::nullopt, state.owner, state.created_unix_ms};
  if (PathExists(dir + "/result.json")) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string text, ReadFile(dir + "/result.json"));
    auto result = SandboxResult::FromJson(text);
    if (!result.ok()) return result.status().Wrap(dir);
    status.result = *result;
    status.phase = SandboxPhase::kEnded;
  } else if (owner_alive) {
    status.phase = SandboxPhase::kRunning;
  }
  return status;
}

Result<std::vector<SandboxStatus>> Survey(const std::string& state_dir) {
  std::vector<SandboxStatus> out;
  for (const std::string& id : ListDir(state_dir + "/sandboxes")) {
    auto status = SurveyOne(state_dir, id);
    // No state file: a Start() is creating it right now, or a Remove() is
    // deleting it; Runtime::CollectGarbage() deals with old debris.
    if (!status.ok() && status.status().code() == Code::kNotFound) continue;
    if (!status.ok()) return status.status();
    out.push_back(std::move(*status));
  }
  std::sort(out.begin(), out.end(), [](const SandboxStatus& a, const SandboxStatus& b) {
    return a.created_unix_ms > b.created_unix_ms;
  });
  return out;
}

namespace {

// A pidfd for `process` if it is still the process that was recorded. The
// check comes after the open: a process alive with the recorded start time
// after the open was also the one the open found.
Result<UniqueFd> OpenIfAlive(const ProcessRef& process) {
  UniqueFd pidfd(PidfdOpen(process.pid));
  if (!pidfd && errno != ESRCH) return ErrnoStatus("pidfd_open " + std::to_string(process.pid));
  if (!pidfd || !process.Alive()) return UniqueFd();
  return pidfd;
}

}  // namespace

Result<SandboxStatus> WaitForMonitor(const std::string& state_dir, const std::string& id,
                                     std::chrono::milliseconds timeout) {
  SLIPWAY_ASSIGN_OR_RETURN(SandboxState state, ReadSandboxState(SandboxDirOf(state_dir, id)));
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd pidfd, OpenIfAlive(state.owner));
  if (pidfd) {
    // A pidfd polls readable once its process has exited, child of ours or not.
    auto deadline = Clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd p = {pidfd.get(), POLLIN, 0};
      int ready = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
      if (ready > 0) break;
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return ErrnoStatus("poll monitor of sandbox " + id);
      return Status(Code::kDeadlineExceeded, "the monitor of sandbox " + id + " still runs after " +
                                                 std::to_string(timeout.count()) + " ms");
    }
  }
  return SurveyOne(state_dir, id);
}

Status StopMonitored(const std::string& state_dir, const std::string& id) {
  SLIPWAY_ASSIGN_OR_RETURN(SandboxState state, ReadSandboxState(SandboxDirOf(state_dir, id)));
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd pidfd, OpenIfAlive(state.owner));
  if (!pidfd) return FailedPrecondition("sandbox " + id + " has no running monitor");
  if (PidfdSendSignal(pidfd.get(), SIGTERM) != 0 && errno != ESRCH)
    return ErrnoStatus("signal the monitor of sandbox " + id);
  return Status::Ok();
}

Status SignalMonitoredInit(const std::string& state_dir, const std::string& id, int signal) {
  SLIPWAY_ASSIGN_OR_RETURN(SandboxState state, ReadSandboxState(SandboxDirOf(state_dir, id)));
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd pidfd, OpenIfAlive(state.init));
  if (!pidfd) return FailedPrecondition("sandbox " + id + " is not running");
  if (PidfdSendSignal(pidfd.get(), signal) != 0 && errno != ESRCH)
    return ErrnoStatus("signal the init of sandbox " + id);
  return Status::Ok();
}

Status CleanUpLost(Runtime& runtime, const std::string& id) {
  SLIPWAY_ASSIGN_OR_RETURN(SandboxStatus status, SurveyOne(runtime.options().state_dir, id));
  if (status.phase != SandboxPhase::kLost) {
    return FailedPrecondition("sandbox " + id + " is " + SandboxPhaseName(status.phase) + ", not lost");
  }
  // With its owner dead and no result, Remove(force) is exactly the clean-up:
  // SIGKILL the init through a pidfd if it is still the recorded process,
  // kill whatever else is in the cgroups and remove them, then the state
  // directory and the name.
  return runtime.Remove(id, /*force=*/true);
}

}  // namespace slipway
