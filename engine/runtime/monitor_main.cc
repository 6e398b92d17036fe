// slipway-monitor: owns one sandbox for its whole life (see monitor.h).
//
//   slipway-monitor --state-dir DIR --cgroup-parent NAME --spec-fd S --ready-fd N
//   slipway-monitor --state-dir DIR --cgroup-parent NAME --pool-fd C
//
// Reads a SandboxSpec (JSON) from fd S to its end and closes it (the spec
// may carry secrets, so it comes in a memfd, never a file), leaves its
// starter behind (fork, setsid), starts the sandbox, writes one line to fd N
// ("ok <id> <init pid>", or "error <code> <message>" and closes it), then
// waits for the sandbox: output (masked, SandboxSpec::masked_values) to
// output.log, the result to result.json; then closes fd N (the starter's
// sign of the end, before the tear-down) and removes the sandbox's mounts
// and cgroups. SIGTERM or SIGINT kills the sandbox (recorded as
// cancelled). Exits 0 once the sandbox is recorded and torn down, 1 on an
// error, 2 on bad arguments.
//
// With --pool-fd (a pooled monitor, monitor_pool.h) it starts before its
// spec is known: it leaves its starter, prepares a sandbox
// (Runtime::Prepare: cgroups made and joined, namespaces made) and writes
// "pooled <id>\n" (or an error line) to socket C. Then it waits for its
// order on C (monitor.h, PoolOrder: the spec, to run or to stage) and goes
// on as above with C as the ready fd; a staged sandbox is reported
// "staged <id> <pid>" first and waits for "go". EOF before an order or
// before "go" (the pool was closed, the container removed, or slipwayd
// died), SIGTERM, SIGINT or the death of the waiting init: it removes
// everything the sandbox had and exits 0.
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "engine/base/status.h"
#include "engine/runtime/monitor.h"
#include "engine/runtime/sandbox.h"

namespace slipway {
namespace {

struct Flags {
  std::string state_dir, cgroup_parent;
  int spec_fd = -1, ready_fd = -1;
  int pool_fd = -1;
};

Result<int> ParseFd(const std::string& flag, const std::string& value) {
  char* end = nullptr;
  long fd = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || fd < 0 || fd > 65535)
    return InvalidArgument("bad " + flag + " " + value);
  return static_cast<int>(fd);
}

Result<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return InvalidArgument(flag + " needs a value");
    std::string value = argv[i + 1];
    if (flag == "--state-dir") {
      flags.state_dir = value;
    } else if (flag == "--cgroup-parent") {
      flags.cgroup_parent = value;
    } else if (flag == "--spec-fd") {
      SLIPWAY_ASSIGN_OR_RETURN(flags.spec_fd, ParseFd(flag, value));
    } else if (flag == "--ready-fd") {
      SLIPWAY_ASSIGN_OR_RETURN(flags.ready_fd, ParseFd(flag, value));
    } else if (flag == "--pool-fd") {
      SLIPWAY_ASSIGN_OR_RETURN(flags.pool_fd, ParseFd(flag, value));
    } else {
      return InvalidArgument("unknown flag " + flag);
    }
  }
  if (flags.state_dir.empty() || flags.cgroup_parent.empty())
    return InvalidArgument("--state-dir and --cgroup-parent are required");
  if (flags.pool_fd >= 0) {
    if (flags.spec_fd >= 0 || flags.ready_fd >= 0)
      return InvalidArgument("--pool-fd replaces --spec-fd and --ready-fd");
    return flags;
  }
  if (flags.spec_fd < 0 || flags.ready_fd < 0)
    return InvalidArgument("--spec-fd and --ready-fd are required (or --pool-fd)");
  if (flags.spec_fd == flags.ready_fd) return InvalidArgument("--spec-fd and --ready-fd must differ");
  return flags;
}

// Takes the ready fd above stdio (a caller may pass 1 to see the line) and
// closes every other fd inherited from the starter: a long-lived monitor must
// not keep the starter's sockets or pipes open.
Result<UniqueFd> TakeReadyFd(int fd) {
  UniqueFd ready(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (!ready) return ErrnoStatus("fcntl F_DUPFD_CLOEXEC ready fd " + std::to_string(fd));
  unsigned keep = static_cast<unsigned>(ready.get());
  if (keep > 3 && ::syscall(SYS_close_range, 3U, keep - 1, 0U) != 0) return ErrnoStatus("close_range");
  if (::syscall(SYS_close_range, keep + 1, ~0U, 0U) != 0) return ErrnoStatus("close_range");
  return ready;
}

// SIGHUP (a terminal hanging up) and SIGPIPE (a starter that stopped
// reading) must not end a monitor. SIGTERM and SIGINT are blocked here and
// read from a signalfd later, so one arriving at any point after this line
// is kept pending rather than lost. The sandbox's child resets both the
// dispositions and the mask before it execs.
void PrepareSignals() {
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t stop;
  ::sigemptyset(&stop);
  ::sigaddset(&stop, SIGTERM);
  ::sigaddset(&stop, SIGINT);
  ::sigprocmask(SIG_BLOCK, &stop, nullptr);
}

// Leaves the starter behind: the process the starter spawned exits at once
// (the starter reaps it), and the monitor, orphaned, is reparented to the
// nearest subreaper or init. It leads a new session of its own: no
// controlling terminal, and the starter's process-group signals miss it.
Status Daemonize() {
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus("fork monitor");
  if (pid > 0) ::_exit(0);
  if (::setsid() < 0) return ErrnoStatus("setsid");
  return Status::Ok();
}

// Everything of the starter's that the monitor could pin: its terminal and
// its working directory.
Status DetachFromStarter(Flags* flags) {
  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) return ErrnoStatus("open /dev/null");
  for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
    if (::dup2(devnull.get(), fd) < 0) return ErrnoStatus("dup2 /dev/null");
  }
  std::error_code ec;
  flags->state_dir = std::filesystem::absolute(flags->state_dir, ec).string();
  if (ec) return Internal("resolve paths: " + ec.message());
  if (::chdir("/") != 0) return ErrnoStatus("chdir /");
  return Status::Ok();
}

Result<UniqueFd> StopSignalFd() {
  sigset_t stop;
  ::sigemptyset(&stop);
  ::sigaddset(&stop, SIGTERM);
  ::sigaddset(&stop, SIGINT);
  UniqueFd fd(::signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd) return ErrnoStatus("signalfd");
  return fd;
}

// The spec's text, read from the fd the starter handed over, which is closed
// at once: nothing of it stays open in the monitor, nor in its sandbox.
Result<std::string> ReadSpecFd(int fd) {
  UniqueFd spec(fd);
  return ReadAll(spec.get(), "spec fd " + std::to_string(fd));
}

Result<SandboxSpec> ParseSpec(const std::string& text) {
  SLIPWAY_ASSIGN_OR_RETURN(SandboxSpec spec, SpecFromJson(text));
  if (spec.interactive)
    return InvalidArgument("an interactive sandbox cannot run under a monitor: its stdin is /dev/null");
  // The sandbox cannot outlive its monitor usefully: nobody would read its
  // output or record its exit. (A monitor is single-threaded, so the thread
  // that starts the sandbox is the monitor's whole life.)
  spec.kill_on_parent_death = true;
  return spec;
}

// What the monitor holds while its sandbox runs. Members are destroyed in
// reverse order: the sandbox before the runtime.
struct Monitor {
  // The ready fd, kept once the ready line is written: closing it is the
  // starter's sign that the result is recorded (EOF comes before the
  // tear-down and this process's exit, which a starter may wait for too).
  UniqueFd starter;
  UniqueFd stop;  // signalfd: SIGTERM or SIGINT
  std::unique_ptr<Runtime> runtime;
  std::unique_ptr<Sandbox> sandbox;
};

// Leaving the starter, and what every monitor needs before its sandbox.
Status Settle(Flags flags, Monitor* m) {
  SLIPWAY_RETURN_IF_ERROR(Daemonize());
  SLIPWAY_RETURN_IF_ERROR(DetachFromStarter(&flags));
  SLIPWAY_ASSIGN_OR_RETURN(m->stop, StopSignalFd());
  SLIPWAY_ASSIGN_OR_RETURN(m->runtime, Runtime::Open({flags.state_dir, flags.cgroup_parent}));
  return Status::Ok();
}

// Everything from leaving the starter to a running sandbox. An error here is
// what the starter gets on the ready line.
Status Launch(const Flags& flags, const Result<std::string>& spec_text, Monitor* m) {
  SLIPWAY_RETURN_IF_ERROR(Settle(flags, m));
  if (!spec_text.ok()) return spec_text.status();
  SLIPWAY_ASSIGN_OR_RETURN(SandboxSpec spec, ParseSpec(*spec_text));
  SLIPWAY_ASSIGN_OR_RETURN(m->sandbox, m->runtime->Start(spec));
  return Status::Ok();
}

// The report of an error to the starter; the ready fd is closed with it.
Status Report(UniqueFd& ready, const std::string& line) {
  Status st = WriteAll(ready.get(), line, "ready fd");
  ready.reset();
  return st;
}

// The ready line of a running sandbox; the ready fd is kept (Monitor::
// starter) until its result is recorded. A failed write means the starter
// has closed its end: it died or gave up before learning the sandbox's id.
Status Announce(UniqueFd ready, Monitor& m) {
  SLIPWAY_RETURN_IF_ERROR(
      WriteAll(ready.get(), ReadyLine(ReadyReport{m.sandbox->id(), m.sandbox->pid()}), "ready fd"));
  m.starter = std::move(ready);
  return Status::Ok();
}

// What a pooled monitor waits for.
enum class PoolEvent { kWord, kGone };

// Blocks until the starter sends something (or closes the socket: kWord
// too, the read finds EOF), or until a stop signal or the death of the
// waiting init ends the wait.
PoolEvent AwaitStarter(int channel, int stop, int init_pidfd) {
  for (;;) {
    pollfd fds[3] = {{channel, POLLIN, 0}, {stop, POLLIN, 0}, {init_pidfd, POLLIN, 0}};
    int ready = ::poll(fds, 3, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || fds[1].revents || fds[2].revents) return PoolEvent::kGone;
    if (fds[0].revents) return PoolEvent::kWord;
  }
}

// Whether the next bytes on `channel` are exactly "go\n" (EOF or anything
// else: the starter let the staged sandbox go).
bool ReadGo(int channel) {
  char word[kGoWord.size()];
  size_t got = 0;
  while (got < sizeof word) {
    ssize_t n = ::read(channel, word + got, sizeof word - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return std::string_view(word, sizeof word) == kGoWord;
}

// Waits for the sandbox, recording its output and result; tells the starter
// (closing the ready fd), then tears the sandbox down.
int Supervise(Monitor& m) {
  Result<SandboxResult> result = m.sandbox->Collect(nullptr, m.stop.get());
  m.starter.reset();
  Status torn = m.sandbox->TearDown();
  return result.ok() && torn.ok() ? 0 : 1;
}

int RunPooled(const Flags& flags) {
  Result<UniqueFd> channel = TakeReadyFd(flags.pool_fd);
  if (!channel.ok()) {
    std::fprintf(stderr, "slipway-monitor: %s\n", channel.status().message().c_str());
    return 2;
  }
  PrepareSignals();
  Monitor m;
  std::unique_ptr<Sandbox> prepared;
  Status st = Settle(flags, &m);
  if (st.ok()) {
    auto made = m.runtime->Prepare();
    if (made.ok()) prepared = std::move(*made);
    st = made.status();
  }
  if (!st.ok()) {
    (void)Report(*channel, ReadyLine(st));
    return 1;
  }
  // Not Report(): the channel stays open for the spec.
  if (!WriteAll(channel->get(), "pooled " + prepared->id() + "\n", "pool fd").ok()) return 1;
  if (AwaitStarter(channel->get(), m.stop.get(), prepared->pidfd()) == PoolEvent::kGone) return 0;
  // The spec may carry secrets: it only ever lives in this process's memory
  // and the socket's buffer.
  Result<std::optional<PoolOrder>> order = ReadPoolOrder(channel->get());
  if (order.ok() && !order->has_value()) return 0;  // closed without an order: the pool let it go
  Result<SandboxSpec> spec = order.ok() ? ParseSpec((*order)->spec_json) : Result<SandboxSpec>(order.status());
  if (!spec.ok()) {
    (void)Report(*channel, ReadyLine(spec.status()));
    return 1;
  }
  const bool stage = (*order)->stage;
  auto started = stage ? m.runtime->Stage(*spec, std::move(prepared)) : m.runtime->Start(*spec, std::move(prepared));
  if (!started.ok()) {
    (void)Report(*channel, ReadyLine(started.status()));
    return 1;
  }
  m.sandbox = std::move(*started);
  if (stage) {
    // Not Report(): the channel stays open for the word to go.
    ReadyReport staged{m.sandbox->id(), m.sandbox->pid(), /*staged=*/true};
    if (!WriteAll(channel->get(), ReadyLine(staged), "pool fd").ok()) return 1;  // dropping m removes it
    if (AwaitStarter(channel->get(), m.stop.get(), m.sandbox->pidfd()) == PoolEvent::kGone) return 0;
    if (!ReadGo(channel->get())) return 0;
    if (Status released = m.sandbox->Release(); !released.ok()) {
      (void)Report(*channel, ReadyLine(released));
      return 1;
    }
  }
  if (!Announce(std::move(*channel), m).ok()) {
    m.sandbox.reset();  // as in Run(): nobody learned of it
    return 1;
  }
  return Supervise(m);
}

int Run(const Flags& flags) {
  if (flags.pool_fd >= 0) return RunPooled(flags);
  // Before TakeReadyFd closes every other inherited fd; an error reading it
  // goes to the starter on the ready line.
  Result<std::string> spec_text = ReadSpecFd(flags.spec_fd);
  Result<UniqueFd> ready = TakeReadyFd(flags.ready_fd);
  if (!ready.ok()) {
    std::fprintf(stderr, "slipway-monitor: %s\n", ready.status().message().c_str());
    return 2;
  }
  PrepareSignals();
  Monitor m;
  if (Status st = Launch(flags, spec_text, &m); !st.ok()) {
    (void)Report(*ready, ReadyLine(st));
    return 1;
  }
  if (!Announce(std::move(*ready), m).ok()) {
    // Nobody learned of this sandbox, so nobody would ever collect it:
    // dropping the handle kills it and removes everything it had.
    m.sandbox.reset();
    return 1;
  }
  return Supervise(m);
}

}  // namespace
}  // namespace slipway

int main(int argc, char** argv) {
  auto flags = slipway::ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(
        stderr,
        "slipway-monitor: %s\nusage: slipway-monitor --state-dir DIR --cgroup-parent NAME --spec-fd S "
        "--ready-fd N\n       slipway-monitor --state-dir DIR --cgroup-parent NAME --pool-fd C\n",
        flags.status().message().c_str());
    return 2;
  }
  return slipway::Run(*flags);
}
