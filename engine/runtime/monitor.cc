#include "engine/runtime/monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
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
  return std::string(report.staged ? "staged " : "ok ") + report.id + " " + std::to_string(report.init_pid) +
         "\n";
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
  if (verb == "ok" || verb == "staged") {
    char* end = nullptr;
    long pid = std::strtol(rest.c_str(), &end, 10);
    if (!IsSandboxId(word) || rest.empty() || !std::isdigit(static_cast<unsigned char>(rest[0])) ||
        *end != '\0' || pid <= 0 || pid > std::numeric_limits<pid_t>::max())
      return malformed();
    return ReadyReport{word, static_cast<pid_t>(pid), verb == "staged"};
  }
  if (verb == "error") {
    for (Code code : kAllCodes) {
      if (code != Code::kOk && CodeToken(code) == word) return Status(code, rest);
    }
  }
  return malformed();
}

// ---------------------------------------------------------------------------
// A pooled monitor's order

namespace {

constexpr size_t kMaxSpecBytes = 64u << 20;
constexpr size_t kMaxOrderHeader = 32;  // "stage 67108864\n" and some

}  // namespace

std::string EncodePoolOrder(const PoolOrder& order) {
  return std::string(order.stage ? "stage " : "run ") + std::to_string(order.spec_json.size()) + "\n" +
         order.spec_json;
}

Result<std::optional<PoolOrder>> ReadPoolOrder(int fd) {
  // The header a byte at a time: nothing after it may be consumed here.
  std::string header;
  for (;;) {
    char c;
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read pool order");
    if (n == 0) {
      if (header.empty()) return std::optional<PoolOrder>();
      return InvalidArgument("pool order cut short in its header");
    }
    if (c == '\n') break;
    header.push_back(c);
    if (header.size() > kMaxOrderHeader) return InvalidArgument("pool order header too long");
  }
  PoolOrder order;
  size_t space = header.find(' ');
  std::string verb = header.substr(0, space);
  std::string size = space == std::string::npos ? "" : header.substr(space + 1);
  if (verb != "run" && verb != "stage") return InvalidArgument("unknown pool order \"" + verb + "\"");
  order.stage = verb == "stage";
  char* end = nullptr;
  unsigned long long bytes = std::strtoull(size.c_str(), &end, 10);
  if (size.empty() || !std::isdigit(static_cast<unsigned char>(size[0])) || *end != '\0' ||
      bytes > kMaxSpecBytes)
    return InvalidArgument("bad spec size in pool order \"" + header + "\"");
  order.spec_json.resize(bytes);
  for (size_t done = 0; done < bytes;) {
    ssize_t n = ::read(fd, order.spec_json.data() + done, bytes - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read pool order");
    if (n == 0) return InvalidArgument("pool order cut short in its spec");
    done += static_cast<size_t>(n);
  }
  return std::optional<PoolOrder>(std::move(order));
}

// ---------------------------------------------------------------------------
// Starting a monitored sandbox

namespace {

// The fd numbers the ready pipe and the spec have in the launcher.
constexpr int kMonitorReadyFd = 3;
constexpr int kMonitorSpecFd = 4;
// Where the starter keeps both before spawning: above every target of the
// launcher's dup2s, so that no dup2 overwrites the other's source.
constexpr int kAboveTargets = 5;
// A ready line longer than this is not one.
constexpr size_t kMaxReadyLine = 64 * 1024;

// The spec may hold secrets (variables a pipeline step gets, values to
// mask), which must never reach a disk: it goes to the monitor in a sealed
// memfd, read from its start, and is gone once the last descriptor closes
// (ours when Start() returns, whichever way; the monitor's once read).
Result<UniqueFd> SpecMemfd(const SandboxSpec& spec) {
  UniqueFd fd(::memfd_create("slipway-spec", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return ErrnoStatus("memfd_create(slipway-spec)");
  SLIPWAY_RETURN_IF_ERROR(WriteAll(fd.get(), SpecToJson(spec), "slipway-spec memfd"));
  // What the monitor reads is what was written here, whatever holds the fd.
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    return ErrnoStatus("fcntl F_ADD_SEALS(slipway-spec memfd)");
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) return ErrnoStatus("lseek(slipway-spec memfd)");
  return fd;
}

// `fd` moved to a number >= kAboveTargets (close-on-exec, like the original).
Result<UniqueFd> MoveAboveTargets(UniqueFd fd, const char* what) {
  if (fd.get() >= kAboveTargets) return fd;
  UniqueFd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, kAboveTargets));
  if (!moved) return ErrnoStatus(std::string("fcntl F_DUPFD_CLOEXEC ") + what);
  return moved;
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
// reaches the starter's terminal), the ready pipe as fd 3 and the spec as
// fd 4: dup2 clears close-on-exec, also when the source already has that
// number (glibc >= 2.29).
// `fds`: (source, target) pairs, every source above every target.
Result<pid_t> SpawnLauncher(const std::string& binary, const RuntimeOptions& runtime,
                            std::vector<std::string> fd_flags, std::vector<std::pair<int, int>> fds) {
  std::vector<std::string> args = {binary, "--state-dir", runtime.state_dir, "--cgroup-parent",
                                   runtime.cgroup_parent};
  args.insert(args.end(), fd_flags.begin(), fd_flags.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attr);
  // The pipe and the spec (or the pool socket) first: in a starter whose
  // stdio is closed they could be 0-2 (the caller moved them above 3 and 4,
  // so no dup2 overwrites another's source).
  for (auto [source, target] : fds) ::posix_spawn_file_actions_adddup2(&actions, source, target);
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
  int rc = ::posix_spawn(&pid, binary.c_str(), &actions, &attr, argv.data(), environ);
  ::posix_spawnattr_destroy(&attr);
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Status::FromErrno(rc, "posix_spawn " + binary);
  return pid;
}

// Reads up to the first '\n'. An empty string means the pipe reached EOF
// without a line (every copy of the write end closed: the monitor is gone).
Result<std::string> ReadReadyLine(int fd, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string line;
  for (;;) {
    pollfd p = {fd, POLLIN, 0};
    int ready = PollUntil(&p, 1, deadline);
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

}  // namespace

MonitorClient::MonitorClient(Runtime& runtime, std::string monitor_binary,
                             std::chrono::milliseconds ready_timeout)
    : runtime_(runtime), binary_(std::move(monitor_binary)), ready_timeout_(ready_timeout) {}

MonitorClient::~MonitorClient() = default;

Result<StartedSandbox> MonitorClient::Start(const SandboxSpec& spec) const {
  if (pool_ && Runtime::CanUsePrepared(spec)) {
    if (std::optional<PooledMonitor> pooled = pool_->Take()) {
      Result<StartedSandbox> started = HandOver(std::move(*pooled), spec);
      // kUnavailable: the pooled monitor or its waiting init had gone before
      // the hand-over; nothing of the spec was used. Any other answer is
      // what an unpooled start would have said.
      if (started.ok() || started.status().code() != Code::kUnavailable) return started;
    }
  }
  return Spawn(spec);
}

Status MonitorClient::StartPool(int size) {
  if (size < 0) return InvalidArgument("sandbox pool size must not be negative");
  if (pool_ || size == 0) return Status::Ok();
  pool_ = std::make_unique<MonitorPool>(size, [this] { return LaunchPooled(); });
  return Status::Ok();
}

void MonitorClient::StopPool(std::chrono::milliseconds wait) {
  if (pool_) pool_->Close(wait);
}

Result<PooledMonitor> MonitorClient::LaunchPooled() const {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return ErrnoStatus("socketpair for a pooled slipway-monitor");
  UniqueFd ours(pair[0]), theirs(pair[1]);
  SLIPWAY_ASSIGN_OR_RETURN(theirs, MoveAboveTargets(std::move(theirs), "pool socket"));
  SLIPWAY_ASSIGN_OR_RETURN(pid_t launcher_pid, SpawnLauncher(binary_, runtime_.options(),
                                                             {"--pool-fd", std::to_string(kMonitorReadyFd)},
                                                             {{theirs.get(), kMonitorReadyFd}}));
  ChildProcess launcher(launcher_pid);
  theirs.reset();  // only the monitor holds its end now: EOF means it is gone
  Result<std::string> line = ReadReadyLine(ours.get(), ready_timeout_);
  if (!line.ok()) launcher.Kill();
  int launcher_status = launcher.Reap();
  if (!line.ok()) return line.status();
  if (line->empty()) {
    return Internal("pooled slipway-monitor exited without reporting (launcher " +
                    DescribeWaitStatus(launcher_status) + ")");
  }
  std::string text = line->substr(0, line->size() - 1);
  if (!text.starts_with("pooled ")) {
    // An error line: why it could not prepare a sandbox.
    auto parsed = ParseReadyLine(*line);
    return parsed.ok() ? Internal("unexpected line from a pooled slipway-monitor: " + text) : parsed.status();
  }
  PooledMonitor pooled;
  pooled.id = text.substr(7);
  if (!IsSandboxId(pooled.id)) return Internal("malformed line from a pooled slipway-monitor: " + text);
  SLIPWAY_ASSIGN_OR_RETURN(SandboxState state, runtime_.state_dir().ReadState(pooled.id));
  pooled.monitor = state.owner;
  pooled.channel = std::move(ours);
  return pooled;
}

// Every send here uses MSG_NOSIGNAL: a monitor that has gone must not
// SIGPIPE the daemon, which may not ignore it.
namespace {
bool SendAll(int fd, std::string_view data) {
  for (size_t done = 0; done < data.size();) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}
}  // namespace

Result<ReadyReport> MonitorClient::Order(const PooledMonitor& pooled, const PoolOrder& order) const {
  // Secrets in the spec go through the socket's kernel buffer only.
  if (!SendAll(pooled.channel.get(), EncodePoolOrder(order)))
    return Status(Code::kUnavailable, "pooled slipway-monitor " + pooled.id + " has gone");
  // On a timeout or an error the socket closes with `pooled`: the monitor,
  // finding nobody to report to, removes its sandbox.
  SLIPWAY_ASSIGN_OR_RETURN(std::string line, ReadReadyLine(pooled.channel.get(), ready_timeout_));
  if (line.empty()) {
    return Status(Code::kUnavailable, "pooled slipway-monitor " + pooled.id + " exited without reporting");
  }
  SLIPWAY_ASSIGN_OR_RETURN(ReadyReport report, ParseReadyLine(line));
  if (report.staged != order.stage) return Internal("slipway-monitor answered out of turn: " + line);
  return report;
}

Result<StartedSandbox> MonitorClient::Reported(const ReadyReport& report, UniqueFd end) const {
  SLIPWAY_ASSIGN_OR_RETURN(SandboxState state, runtime_.state_dir().ReadState(report.id));
  return StartedSandbox{report.id, report.init_pid, state.owner.pid, std::move(end)};
}

Result<StartedSandbox> MonitorClient::HandOver(PooledMonitor pooled, const SandboxSpec& spec) const {
  SLIPWAY_ASSIGN_OR_RETURN(ReadyReport report, Order(pooled, {false, SpecToJson(spec)}));
  return Reported(report, std::move(pooled.channel));
}

Result<StagedSandbox> MonitorClient::Stage(const SandboxSpec& spec) const {
  if (!Runtime::CanUsePrepared(spec))
    return FailedPrecondition("only a sandbox with a private network can be staged");
  std::optional<PooledMonitor> pooled;
  if (pool_) pooled = pool_->Take();
  for (int attempt = 0;; ++attempt) {
    if (!pooled) {
      SLIPWAY_ASSIGN_OR_RETURN(PooledMonitor launched, LaunchPooled());
      pooled = std::move(launched);
    }
    Result<ReadyReport> report = Order(*pooled, {true, SpecToJson(spec)});
    // kUnavailable: that monitor had gone before it had the spec; one
    // launched for this is tried once more.
    if (!report.ok() && report.status().code() == Code::kUnavailable && attempt == 0) {
      pooled.reset();
      continue;
    }
    if (!report.ok()) return report.status();
    SLIPWAY_ASSIGN_OR_RETURN(StartedSandbox sandbox, Reported(*report, UniqueFd()));
    return StagedSandbox{std::move(sandbox), std::move(pooled->channel)};
  }
}

Result<StartedSandbox> MonitorClient::Release(StagedSandbox staged) const {
  const std::string& id = staged.sandbox.id;
  if (!SendAll(staged.channel.get(), kGoWord))
    return Status(Code::kUnavailable, "the monitor of staged sandbox " + id + " has gone");
  SLIPWAY_ASSIGN_OR_RETURN(std::string line, ReadReadyLine(staged.channel.get(), ready_timeout_));
  if (line.empty())
    return Status(Code::kUnavailable, "the monitor of staged sandbox " + id + " exited without reporting");
  SLIPWAY_ASSIGN_OR_RETURN(ReadyReport report, ParseReadyLine(line));
  if (report.staged || report.id != id) return Internal("slipway-monitor answered out of turn: " + line);
  staged.sandbox.init_pid = report.init_pid;
  staged.sandbox.end = std::move(staged.channel);
  return std::move(staged.sandbox);
}

Result<StartedSandbox> MonitorClient::Spawn(const SandboxSpec& spec) const {
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd spec_fd, SpecMemfd(spec));
  SLIPWAY_ASSIGN_OR_RETURN(spec_fd, MoveAboveTargets(std::move(spec_fd), "slipway-spec memfd"));
  SLIPWAY_ASSIGN_OR_RETURN(Pipe ready, MakePipe());
  SLIPWAY_ASSIGN_OR_RETURN(ready.write, MoveAboveTargets(std::move(ready.write), "ready pipe"));
  SLIPWAY_ASSIGN_OR_RETURN(
      pid_t launcher_pid,
      SpawnLauncher(
          binary_, runtime_.options(),
          {"--spec-fd", std::to_string(kMonitorSpecFd), "--ready-fd", std::to_string(kMonitorReadyFd)},
          {{ready.write.get(), kMonitorReadyFd}, {spec_fd.get(), kMonitorSpecFd}}));
  ChildProcess launcher(launcher_pid);
  // Only the monitor holds the write end now: EOF means it is gone. Our
  // copy of the spec goes too: the launcher has its own.
  ready.write.reset();
  spec_fd.reset();

  Result<std::string> line = ReadReadyLine(ready.read.get(), ready_timeout_);
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
  if (report.staged) return Internal("slipway-monitor answered out of turn: " + *line);
  // The monitor is the owner Runtime::Start() recorded.
  return Reported(report, std::move(ready.read));
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

Result<SandboxStatus> MonitorClient::SurveyOne(const std::string& id) const {
  const StateDir& state_dir = runtime_.state_dir();
  SLIPWAY_ASSIGN_OR_RETURN(SandboxState state, state_dir.ReadState(id));
  // The owner first, the result second: the monitor writes result.json before
  // it exits, so an owner seen dead here has written whatever it ever will.
  // (The other order could see "no result yet", then "owner dead": lost.)
  bool owner_alive = state.owner.Alive();
  SandboxStatus status{
      id, state.name, SandboxPhase::kLost, std::nullopt, state.owner, state.created_unix_ms, state.pooled};
  if (state_dir.HasResult(id)) {
    SLIPWAY_ASSIGN_OR_RETURN(status.result, state_dir.ReadResult(id));
    status.phase = SandboxPhase::kEnded;
  } else if (owner_alive) {
    status.phase = SandboxPhase::kRunning;
  }
  return status;
}

Result<std::vector<SandboxStatus>> MonitorClient::Survey() const {
  std::vector<SandboxStatus> out;
  for (const std::string& id : runtime_.state_dir().SandboxIds()) {
    auto status = SurveyOne(id);
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

Result<SandboxStatus> MonitorClient::Wait(const std::string& id, std::chrono::milliseconds timeout,
                                          int end_fd) const {
  SLIPWAY_ASSIGN_OR_RETURN(SandboxState state, runtime_.state_dir().ReadState(id));
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd pidfd, state.owner.OpenIfAlive());
  if (pidfd) {
    // A pidfd polls readable once its process has exited, child of ours or
    // not; the end fd (StartedSandbox::end) at EOF, once the result is
    // recorded, before the monitor's tear-down and exit.
    auto deadline = Clock::now() + timeout;
    for (;;) {
      pollfd p[2] = {{pidfd.get(), POLLIN, 0}, {end_fd, POLLIN, 0}};
      int ready = PollUntil(p, end_fd >= 0 ? 2 : 1, deadline);
      if (ready < 0) return ErrnoStatus("poll monitor of sandbox " + id);
      if (ready == 0)
        return Status(Code::kDeadlineExceeded, "the monitor of sandbox " + id + " still runs after " +
                                                   std::to_string(timeout.count()) + " ms");
      if (p[0].revents) break;
      // EOF on the end fd: recorded, or the monitor is dying without (its
      // fds close before its exit): then its exit is what to wait for.
      SLIPWAY_ASSIGN_OR_RETURN(SandboxStatus status, SurveyOne(id));
      if (status.phase != SandboxPhase::kRunning) return status;
      end_fd = -1;
    }
  }
  return SurveyOne(id);
}

Status MonitorClient::Stop(const std::string& id) const {
  SLIPWAY_ASSIGN_OR_RETURN(SandboxState state, runtime_.state_dir().ReadState(id));
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd pidfd, state.owner.OpenIfAlive());
  if (!pidfd) return FailedPrecondition("sandbox " + id + " has no running monitor");
  if (PidfdSendSignal(pidfd.get(), SIGTERM) != 0 && errno != ESRCH)
    return ErrnoStatus("signal the monitor of sandbox " + id);
  return Status::Ok();
}

Status MonitorClient::Signal(const std::string& id, int signal) const {
  SLIPWAY_ASSIGN_OR_RETURN(SandboxState state, runtime_.state_dir().ReadState(id));
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd pidfd, state.init.OpenIfAlive());
  if (!pidfd) return FailedPrecondition("sandbox " + id + " is not running");
  if (PidfdSendSignal(pidfd.get(), signal) != 0 && errno != ESRCH)
    return ErrnoStatus("signal the init of sandbox " + id);
  return Status::Ok();
}

Status MonitorClient::CleanUpLost(const std::string& id) const {
  SLIPWAY_ASSIGN_OR_RETURN(SandboxStatus status, SurveyOne(id));
  if (status.phase != SandboxPhase::kLost) {
    return FailedPrecondition("sandbox " + id + " is " + SandboxPhaseName(status.phase) + ", not lost");
  }
  // With its owner dead and no result, Remove(force) is exactly the clean-up:
  // SIGKILL the init through a pidfd if it is still the recorded process,
  // kill whatever else is in the cgroups and remove them, then the state
  // directory and the name.
  return runtime_.Remove(id, /*force=*/true);
}

}  // namespace slipway
