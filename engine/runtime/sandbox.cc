#include "engine/runtime/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "engine/base/time.h"
#include "engine/runtime/child.h"
#include "engine/runtime/child_plan.h"
#include "engine/runtime/log_masker.h"
#include "engine/runtime/network_files.h"
#include "engine/runtime/seccomp.h"
#include "engine/runtime/spec_json.h"
#include "engine/runtime/state.h"

namespace slipway {

namespace {

constexpr size_t kChildStackSize = 256 * 1024;
// How long Remove() waits for an owner that has recorded a sandbox's result
// to finish tearing it down.
constexpr std::chrono::milliseconds kOwnerTearDownWait{5000};

// Clones the child as posix_spawn does (CLONE_VM | CLONE_VFORK): no page
// tables are copied, and this thread resumes once the child has exec'd or
// exited. Signals stay blocked meanwhile so no handler of ours runs in it.
Result<UniqueFd> CloneChild(ChildPlan* plan, pid_t* pid) {
  void* stack = ::mmap(nullptr, kChildStackSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return ErrnoStatus("mmap child stack");
  int flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
  if (plan->new_netns) flags |= CLONE_NEWNET;
  sigset_t all, saved;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &saved);
  int pidfd = -1;
  *pid = ::clone(ChildMain, static_cast<char*>(stack) + kChildStackSize, flags | SIGCHLD, plan, &pidfd);
  int err = errno;
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  ::munmap(stack, kChildStackSize);
  if (*pid < 0) return Status::FromErrno(err, "clone sandbox");
  return UniqueFd(pidfd);
}

// On a pure cgroup v2 host the child is born in its cgroup (clone3 with
// CLONE_INTO_CGROUP). Moving a task by writing cgroup.procs takes the
// kernel's global threadgroup lock for writing, which waits for an RCU grace
// period (about 10 ms on this machine's v1 hierarchies); being born there
// takes it only for reading. glibc has no clone3 wrapper that runs a function
// on a new stack, so this path forks (no CLONE_VM): the child works on its
// own copy of memory under the same rules (it allocates nothing).
Result<UniqueFd> CloneIntoCgroup(ChildPlan* plan, int cgroup_fd, pid_t* pid) {
  clone_args args{};
  args.flags = CLONE_VFORK | CLONE_PIDFD | CLONE_INTO_CGROUP | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS |
               CLONE_NEWIPC;
  if (plan->new_netns) args.flags |= CLONE_NEWNET;
  int pidfd = -1;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<uint64_t>(cgroup_fd);
  sigset_t all, saved;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &saved);
  long rc = ::syscall(SYS_clone3, &args, sizeof args);
  if (rc == 0) ::_exit(ChildMain(plan));  // ChildMain execs or exits itself
  int err = errno;
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (rc < 0) return Status::FromErrno(err, "clone3 sandbox into its cgroup");
  *pid = static_cast<pid_t>(rc);
  return UniqueFd(pidfd);
}

// The init's mount namespace, held open: once the init exits, the unmounting
// of its root, /proc, /dev and the rest (half a millisecond or more here)
// happens when this is closed, in TearDown(), rather than inside the init's
// exit, which is what the sandbox's end waits for. Best effort: an init
// that has already exited has no namespace left to hold (invalid fd).
UniqueFd HoldMountNamespace(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/ns/mnt", static_cast<int>(pid));
  return UniqueFd(::open(path, O_RDONLY | O_CLOEXEC));
}

// One ChildReport from a child's report pipe: its size if one came, 0 at EOF
// (the child exec'd or died). A report is written at once and is smaller
// than PIPE_BUF, so it never arrives in parts.
ssize_t ReadReport(int fd, ChildReport* report) {
  ssize_t n;
  do n = ::read(fd, report, sizeof *report);
  while (n < 0 && errno == EINTR);
  return n;
}

}  // namespace

Runtime::Runtime(RuntimeOptions options, CgroupDriver cgroups)
    : options_(std::move(options)), state_dir_(options_.state_dir), cgroups_(std::move(cgroups)) {}

Runtime::~Runtime() = default;

Result<std::unique_ptr<Runtime>> Runtime::Open(const RuntimeOptions& options) {
  SLIPWAY_ASSIGN_OR_RETURN(CgroupDriver cgroups, CgroupDriver::Detect(options.cgroup_parent));
  StateDir state_dir(options.state_dir);
  SLIPWAY_RETURN_IF_ERROR(state_dir.Create());
  // Load (or compile) the seccomp filter now, once, rather than in the first
  // Start(); the state directory keeps it for the next process.
  std::string seccomp_cache = state_dir.SeccompCacheDir();
  SLIPWAY_ASSIGN_OR_RETURN(const SeccompProgram* seccomp, DefaultSeccompProgram(seccomp_cache));
  (void)CacheSeccompProgram(seccomp_cache, *seccomp);  // a cache that cannot be written only costs time
  return std::unique_ptr<Runtime>(new Runtime(options, std::move(cgroups)));
}

Result<std::unique_ptr<Sandbox>> Runtime::Start(const SandboxSpec& spec) {
  return Start(spec, nullptr);
}

bool Runtime::CanUsePrepared(const SandboxSpec& spec) {
  return spec.network == NetworkMode::kPrivate && !spec.interactive;
}

Result<std::unique_ptr<Sandbox>> Runtime::Start(const SandboxSpec& spec, std::unique_ptr<Sandbox> prepared) {
  return Begin(spec, std::move(prepared), /*stage=*/false);
}

Result<std::unique_ptr<Sandbox>> Runtime::Stage(const SandboxSpec& spec, std::unique_ptr<Sandbox> prepared) {
  // A cloned (CLONE_VFORK) init holds its parent until it execs: only a
  // forked, prepared one can wait at a gate.
  if (!prepared) return FailedPrecondition("only a prepared sandbox can be staged");
  return Begin(spec, std::move(prepared), /*stage=*/true);
}

Result<std::unique_ptr<Sandbox>> Runtime::Begin(const SandboxSpec& spec, std::unique_ptr<Sandbox> prepared,
                                                bool stage) {
  SLIPWAY_RETURN_IF_ERROR(ValidateSpec(spec));
  SLIPWAY_ASSIGN_OR_RETURN(const SeccompProgram* seccomp, DefaultSeccompProgram());
  if (prepared && (!prepared->prepared_ || prepared->state_dir_.root() != state_dir_.root()))
    return FailedPrecondition("sandbox " + prepared->id_ + " was not prepared by this runtime, or was used");
  if (prepared && !CanUsePrepared(spec))
    return FailedPrecondition(
        "a prepared sandbox has a private network namespace: it cannot serve this spec");

  // Join a peer's network namespace (kContainer only): resolved before
  // anything is created. kPrivate gets a new one at clone, kHost keeps ours.
  UniqueFd netns;
  if (spec.network == NetworkMode::kContainer) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string peer, state_dir_.Resolve(spec.network_peer));
    SLIPWAY_ASSIGN_OR_RETURN(SandboxState peer_state, state_dir_.ReadState(peer));
    if (!peer_state.init.Alive())
      return FailedPrecondition("sandbox " + spec.network_peer + " is not running");
    netns.reset(
        ::open(("/proc/" + std::to_string(peer_state.init.pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns) return ErrnoStatus("open network namespace of " + spec.network_peer);
    if (!peer_state.init.Alive())
      return FailedPrecondition("sandbox " + spec.network_peer + " is not running");
  }

  // From here on, the Sandbox destructor removes whatever was created (and
  // kills a prepared sandbox's waiting init).
  std::unique_ptr<Sandbox> sb = std::move(prepared);
  const bool warm = sb != nullptr;
  if (!warm) {
    sb.reset(new Sandbox());
    sb->id_ = RandomHex(32);
    sb->state_dir_ = state_dir_;
    sb->dir_ = state_dir_.SandboxDir(sb->id_);
  }
  sb->prepared_ = false;  // serves this spec only, whatever happens now
  sb->name_ = spec.name;
  sb->timeout_ = spec.timeout;
  if (!spec.masked_values.empty()) sb->masked_ = std::make_shared<const SecretMatcher>(spec.masked_values);
  if (!spec.name.empty()) {
    std::string link = state_dir_.NameLink(spec.name);
    if (::symlink(sb->id_.c_str(), link.c_str()) != 0) {
      if (errno == EEXIST) return AlreadyExists("the name \"" + spec.name + "\" is already in use");
      return ErrnoStatus("symlink " + link);
    }
    sb->name_link_ = link;
  }
  if (!warm) {
    if (::mkdir(sb->dir_.c_str(), 0700) != 0) return ErrnoStatus("mkdir " + sb->dir_);
    sb->owns_dir_ = true;
  }
  SandboxState state{sb->id_, spec.name, {}, {}, NowUnixMs(), spec.lower_dirs};
  SLIPWAY_ASSIGN_OR_RETURN(state.owner, ProcessRef::Of(::getpid()));
  if (warm) {
    auto init = ProcessRef::Of(sb->pid_);
    if (!init.ok())
      return Status(Code::kUnavailable, "the init of prepared sandbox " + sb->id_ + " has gone");
    state.init = *init;
  }
  SLIPWAY_RETURN_IF_ERROR(state_dir_.WriteState(state));
  if (!warm) {
    for (const std::string& dir : {state_dir_.RootfsDir(sb->id_), state_dir_.RwDir(sb->id_)}) {
      if (::mkdir(dir.c_str(), 0700) != 0) return ErrnoStatus("mkdir " + dir);
    }
  }
  if (!spec.upper_dir.empty()) SLIPWAY_RETURN_IF_ERROR(sb->MakeOverlayDirs(spec.upper_dir));
  if (warm) {
    SLIPWAY_RETURN_IF_ERROR(cgroups_.Limit(*sb->cgroup_, spec.limits).Wrap("limit cgroup " + sb->id_));
  } else {
    SLIPWAY_ASSIGN_OR_RETURN(sb->cgroup_, cgroups_.Create(sb->id_, spec.limits));
  }

  // A prepared init builds this plan itself from the spec (it has its own
  // memory); building it here too gives a bad spec the same error either way.
  PlanStorage storage;
  std::string hostname = spec.hostname.empty() ? sb->id_.substr(0, 12) : spec.hostname;
  SLIPWAY_ASSIGN_OR_RETURN(NetworkFiles network_files, NetworkFilesFor(spec.network, hostname));
  SLIPWAY_RETURN_IF_ERROR(BuildPlan(spec, state_dir_, sb->id_, hostname, std::move(network_files), &storage));

  if (warm) {
    sb->started_ = std::chrono::steady_clock::now();
    // EPIPE (SIGPIPE is ignored by the monitor, and blocked around here by
    // nobody else) means the waiting init died.
    Status sent = WriteAll(sb->spec_in_.get(), SpecToJson(spec), "spec pipe of sandbox " + sb->id_);
    sb->spec_in_.reset();
    if (!sent.ok()) {
      return Status(Code::kUnavailable,
                    "the init of prepared sandbox " + sb->id_ + " has gone: " + sent.message());
    }
    // A prepared init always stops at its gate; unless staging, the word to
    // go on is waiting for it there already.
    if (!stage) {
      sb->staged_ = true;
      SLIPWAY_RETURN_IF_ERROR(sb->Release());
    } else {
      // Its first report after the spec: at the gate, or why it is not.
      ChildReport rep{};
      ssize_t n = ReadReport(sb->report_.get(), &rep);
      if (n != static_cast<ssize_t>(sizeof rep))
        return Internal("the init of sandbox " + sb->id_ + " died before reaching its exec");
      rep.message[sizeof rep.message - 1] = '\0';
      if (rep.exit_code != 0) return Internal(std::string("sandbox set-up failed: ") + rep.message);
      sb->staged_ = true;
    }
  } else {
    SLIPWAY_ASSIGN_OR_RETURN(Pipe out, MakePipe());
    SLIPWAY_ASSIGN_OR_RETURN(Pipe err, MakePipe());
    SLIPWAY_ASSIGN_OR_RETURN(Pipe report, MakePipe());
    UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!devnull) return ErrnoStatus("open /dev/null");
    ChildPlan& plan = storage.plan;
    plan.cgroup_procs_fds = sb->cgroup_->procs_fds().data();
    plan.cgroup_procs_count = static_cast<int>(sb->cgroup_->procs_fds().size());
    plan.netns_fd = netns ? netns.get() : -1;
    plan.seccomp = seccomp;
    plan.stdin_fd = spec.interactive ? 0 : devnull.get();
    plan.stdout_fd = out.write.get();
    plan.stderr_fd = err.write.get();
    plan.report_fd = report.write.get();

    sb->started_ = std::chrono::steady_clock::now();
    bool pure_v2 = cgroups_.layout() == CgroupLayout::kV2;
    if ((pure_v2 || options_.force_clone_into_cgroup) && sb->cgroup_->unified_dir_fd() >= 0) {
      if (pure_v2) plan.cgroup_procs_count = 0;  // born a member; v1 hierarchies still need the writes
      SLIPWAY_ASSIGN_OR_RETURN(sb->pidfd_, CloneIntoCgroup(&plan, sb->cgroup_->unified_dir_fd(), &sb->pid_));
    } else {
      SLIPWAY_ASSIGN_OR_RETURN(sb->pidfd_, CloneChild(&plan, &sb->pid_));
    }
    sb->mnt_ns_ = HoldMountNamespace(sb->pid_);
    sb->stdout_ = std::move(out.read);
    sb->stderr_ = std::move(err.read);
    // Only the child may hold the write ends now: ours would keep the
    // report pipe from reaching EOF, and the output pipes from ending.
    out.write.reset();
    err.write.reset();
    report.write.reset();
    // The child has exec'd (EOF) or failed (a report): CLONE_VFORK waited
    // for either.
    SLIPWAY_RETURN_IF_ERROR(sb->AwaitExec(report.read.get()));
    auto init = ProcessRef::Of(sb->pid_);
    if (init.ok()) state.init = *init;
    SLIPWAY_RETURN_IF_ERROR(state_dir_.WriteState(state));  // a prepared init was recorded above
  }
  sb->start_done_ = true;
  return sb;
}

// ---------------------------------------------------------------------------
// Sandboxes prepared ahead

namespace {

// What a prepared init is given at its fork: the plan of its first steps
// (ChildPrepare) and every fd it needs for the rest.
struct PreparedChild {
  ChildPlan prepare;  // cgroups, network, report fd
  int spec_fd;        // the spec arrives here, JSON to EOF
  int gate_fd;        // ChildPlan::gate_fd: every prepared init stops there
  int parent_fds[5];  // the parent's ends of the pipes: closed at once
  int stdin_fd, stdout_fd, stderr_fd;
  const SeccompProgram* seccomp;
  const StateDir* state_dir;
  const std::string* id;
};

[[noreturn]] void ReportAndExit(int report_fd, const std::string& message) {
  ChildReport report{};
  report.exit_code = 125;
  std::snprintf(report.message, sizeof report.message, "%s", message.c_str());
  (void)::write(report_fd, &report, sizeof report);
  ::_exit(125);
}

// The prepared init's whole life until it execs. It is a fork of a
// single-threaded process (Runtime::Prepare checks that): its memory is its
// own copy, in which no other thread held a lock at the fork, so it may
// allocate, parse the spec and build its plan the way the parent would.
// It never returns into the parent's frames: it execs or exits.
[[noreturn]] void PreparedChildMain(const PreparedChild& c) {
  for (int fd : c.parent_fds) ::close(fd);
  ChildPrepare(c.prepare);
  ChildReport prepared{};  // exit code 0: prepared, waiting for the spec
  if (::write(c.prepare.report_fd, &prepared, sizeof prepared) != static_cast<ssize_t>(sizeof prepared))
    ::_exit(125);
  Result<std::string> text = ReadAll(c.spec_fd, "spec pipe");
  ::close(c.spec_fd);
  if (!text.ok() || text->empty()) ::_exit(0);  // not used: the parent dropped it
  Result<SandboxSpec> spec = SpecFromJson(*text);
  if (!spec.ok()) ReportAndExit(c.prepare.report_fd, spec.status().message());
  PlanStorage storage;
  std::string hostname = spec->hostname.empty() ? c.id->substr(0, 12) : spec->hostname;
  Result<NetworkFiles> files = NetworkFilesFor(spec->network, hostname);
  if (!files.ok()) ReportAndExit(c.prepare.report_fd, files.status().message());
  Status built = BuildPlan(*spec, *c.state_dir, *c.id, hostname, std::move(*files), &storage);
  if (!built.ok()) ReportAndExit(c.prepare.report_fd, built.message());
  ChildPlan& plan = storage.plan;
  plan.cgroup_procs_fds = nullptr;  // joined in ChildPrepare
  plan.cgroup_procs_count = 0;
  plan.netns_fd = -1;
  plan.new_netns = true;  // its loopback is up already
  plan.seccomp = c.seccomp;
  plan.stdin_fd = c.stdin_fd;
  plan.stdout_fd = c.stdout_fd;
  plan.stderr_fd = c.stderr_fd;
  plan.report_fd = c.prepare.report_fd;
  plan.gate_fd = c.gate_fd;
  ChildRun(plan);
}

Status CheckSingleThreaded() {
  SLIPWAY_ASSIGN_OR_RETURN(std::string status, ReadFile("/proc/self/status"));
  size_t at = status.find("\nThreads:");
  if (at == std::string::npos) return Internal("no thread count in /proc/self/status");
  long threads = std::strtol(status.c_str() + at + 9, nullptr, 10);
  if (threads != 1) {
    return FailedPrecondition("a sandbox can only be prepared in a single-threaded process; this one has " +
                              std::to_string(threads) + " threads");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Sandbox>> Runtime::Prepare() {
  SLIPWAY_RETURN_IF_ERROR(CheckSingleThreaded());
  SLIPWAY_ASSIGN_OR_RETURN(const SeccompProgram* seccomp, DefaultSeccompProgram());
  auto sb = std::unique_ptr<Sandbox>(new Sandbox());
  sb->id_ = RandomHex(32);
  sb->state_dir_ = state_dir_;
  sb->dir_ = state_dir_.SandboxDir(sb->id_);
  if (::mkdir(sb->dir_.c_str(), 0700) != 0) return ErrnoStatus("mkdir " + sb->dir_);
  sb->owns_dir_ = true;
  SandboxState state{sb->id_, "", {}, {}, NowUnixMs(), {}};
  state.pooled = true;
  SLIPWAY_ASSIGN_OR_RETURN(state.owner, ProcessRef::Of(::getpid()));
  SLIPWAY_RETURN_IF_ERROR(state_dir_.WriteState(state));
  for (const std::string& dir : {state_dir_.RootfsDir(sb->id_), state_dir_.RwDir(sb->id_)}) {
    if (::mkdir(dir.c_str(), 0700) != 0) return ErrnoStatus("mkdir " + dir);
  }
  // No limits until the spec says which (Limit() at hand-over), but the
  // devices restricted now, as nearly every spec wants them: about a dozen
  // cgroup writes (v1) or a BPF program's load and attach (v2) off the
  // start's path; Limit() lifts the restriction for a spec that does not.
  CgroupLimits none;
  SLIPWAY_ASSIGN_OR_RETURN(sb->cgroup_, cgroups_.Create(sb->id_, none));

  SLIPWAY_ASSIGN_OR_RETURN(Pipe out, MakePipe());
  SLIPWAY_ASSIGN_OR_RETURN(Pipe err, MakePipe());
  SLIPWAY_ASSIGN_OR_RETURN(Pipe report, MakePipe());
  SLIPWAY_ASSIGN_OR_RETURN(Pipe spec, MakePipe());
  int gate[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gate) != 0)
    return ErrnoStatus("socketpair for the gate of sandbox " + sb->id_);
  UniqueFd gate_ours(gate[0]), gate_theirs(gate[1]);
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devnull) return ErrnoStatus("open /dev/null");
  PreparedChild child{};
  child.prepare.cgroup_procs_fds = sb->cgroup_->procs_fds().data();
  child.prepare.cgroup_procs_count = static_cast<int>(sb->cgroup_->procs_fds().size());
  child.prepare.netns_fd = -1;
  child.prepare.new_netns = true;
  child.prepare.kill_on_parent_death = true;
  child.prepare.report_fd = report.write.get();
  child.spec_fd = spec.read.get();
  child.gate_fd = gate_theirs.get();
  child.parent_fds[0] = out.read.get();
  child.parent_fds[1] = err.read.get();
  child.parent_fds[2] = report.read.get();
  child.parent_fds[3] = spec.write.get();
  child.parent_fds[4] = gate_ours.get();
  child.stdin_fd = devnull.get();
  child.stdout_fd = out.write.get();
  child.stderr_fd = err.write.get();
  child.seccomp = seccomp;
  child.state_dir = &state_dir_;
  child.id = &sb->id_;

  // Forked as CloneIntoCgroup does, without CLONE_VFORK: the parent goes on
  // while the init waits. Born into its cgroup on a pure v2 host; on v1 and
  // hybrid hosts it writes cgroup.procs itself, and waits out the RCU grace
  // period that costs, here rather than at hand-over.
  clone_args args{};
  args.flags = CLONE_PIDFD | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
  bool pure_v2 = cgroups_.layout() == CgroupLayout::kV2;
  if ((pure_v2 || options_.force_clone_into_cgroup) && sb->cgroup_->unified_dir_fd() >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(sb->cgroup_->unified_dir_fd());
    if (pure_v2) child.prepare.cgroup_procs_count = 0;
  }
  int pidfd = -1;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  sigset_t all, saved;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &saved);
  long rc = ::syscall(SYS_clone3, &args, sizeof args);
  if (rc == 0) PreparedChildMain(child);  // signals stay blocked until ChildRun resets them
  int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (rc < 0) return Status::FromErrno(clone_errno, "clone3 prepared sandbox");
  sb->pid_ = static_cast<pid_t>(rc);
  sb->pidfd_.reset(pidfd);
  sb->mnt_ns_ = HoldMountNamespace(sb->pid_);
  out.write.reset();
  err.write.reset();
  report.write.reset();
  spec.read.reset();
  gate_theirs.reset();

  ChildReport rep{};
  ssize_t n = ReadReport(report.read.get(), &rep);
  if (n != static_cast<ssize_t>(sizeof rep))
    return Internal("prepared sandbox " + sb->id_ + " died while preparing");
  rep.message[sizeof rep.message - 1] = '\0';
  if (rep.exit_code != 0) return Internal(std::string("sandbox set-up failed: ") + rep.message);
  SLIPWAY_ASSIGN_OR_RETURN(state.init, ProcessRef::Of(sb->pid_));
  SLIPWAY_RETURN_IF_ERROR(state_dir_.WriteState(state));
  sb->stdout_ = std::move(out.read);
  sb->stderr_ = std::move(err.read);
  sb->report_ = std::move(report.read);
  sb->spec_in_ = std::move(spec.write);
  sb->gate_ = std::move(gate_ours);
  sb->prepared_ = true;
  return sb;
}

namespace {

// A sandbox directory without a readable state file is either being created
// by a Start() in some process right now, or debris of a crash: only old
// debris is collected.
bool IsOldDebris(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return false;
  return ::time(nullptr) - st.st_mtime > 60;
}

}  // namespace

Status Runtime::CollectGarbage() {
  Status first_error;
  for (const std::string& id : state_dir_.SandboxIds()) {
    std::string sdir = state_dir_.SandboxDir(id);
    auto state = state_dir_.ReadState(id);
    if (state_dir_.HasResult(id)) continue;            // finished; kept until removed
    if (state.ok() && state->owner.Alive()) continue;  // still owned
    if (!state.ok() && !IsOldDebris(sdir)) continue;
    Status st = state.ok() ? state->init.SignalIfAlive(SIGKILL, "init of sandbox " + id) : Status::Ok();
    if (st.ok()) st = cgroups_.Remove(id);
    if (st.ok()) st = state_dir_.RemoveSandbox(id, state.ok() ? state->name : "");
    if (!st.ok() && first_error.ok()) first_error = st;
  }
  // Cgroups whose sandbox directory is gone (Start creates the directory first).
  for (const std::string& name : cgroups_.List()) {
    if (!PathExists(state_dir_.SandboxDir(name))) {
      Status st = cgroups_.Remove(name);
      if (!st.ok() && first_error.ok()) first_error = st;
    }
  }
  return first_error;
}

Status Runtime::Remove(const std::string& name_or_id, bool force) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string id, state_dir_.Resolve(name_or_id));
  std::string dir = state_dir_.SandboxDir(id);
  SLIPWAY_ASSIGN_OR_RETURN(SandboxState state, state_dir_.ReadState(id));
  bool ended = state_dir_.HasResult(id);
  if (!ended && state.init.Alive()) {
    if (!force) return FailedPrecondition("sandbox " + name_or_id + " is running; stop it first, or force");
    SLIPWAY_RETURN_IF_ERROR(state.init.SignalIfAlive(SIGKILL, "init of sandbox " + id));
    // Its owner tears it down and writes the result; give it the time to.
    for (int i = 0; i < 1000 && state.owner.Alive() && !state_dir_.HasResult(id); ++i) ::usleep(10000);
    if (!PathExists(dir)) return Status::Ok();  // its owner ran with --rm
  }
  // Another owner may still be tearing the sandbox down, even once it has
  // recorded the result (slipway-monitor reports the end first): that
  // takes milliseconds.
  const bool ours = state.owner.pid == ::getpid();
  if (ours && !state_dir_.HasResult(id)) {
    return FailedPrecondition("sandbox " + name_or_id + " is still being torn down by process " +
                              std::to_string(state.owner.pid));
  }
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd owner, ours ? Result<UniqueFd>(UniqueFd()) : state.owner.OpenIfAlive());
  if (owner) {
    pollfd p = {owner.get(), POLLIN, 0};
    if (PollUntil(&p, 1, std::chrono::steady_clock::now() + kOwnerTearDownWait) <= 0) {
      return FailedPrecondition("sandbox " + name_or_id + " is still being torn down by process " +
                                std::to_string(state.owner.pid));
    }
  }
  SLIPWAY_RETURN_IF_ERROR(cgroups_.Remove(id));
  return state_dir_.RemoveSandbox(id, state.name);
}

Sandbox::~Sandbox() {
  if (pidfd_ && !reaped_) {
    PidfdSendSignal(pidfd_.get(), SIGKILL);
    siginfo_t info;
    ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info, WEXITED);
  }
  (void)TearDown();
  if (!waited_) (void)Remove();
  // A failed Start() leaves the caller's upper directory as empty as it was.
  if (!start_done_ && !overlay_upper_.empty()) (void)RemoveTree(overlay_upper_);
}

Status Sandbox::MakeOverlayDirs(const std::string& dir) {
  // Relative to a descriptor of `dir` itself, never through a symlink.
  UniqueFd parent(::open(dir.c_str(), O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!parent) return ErrnoStatus("open upper directory " + dir);
  if (::mkdirat(parent.get(), "upper", 0755) != 0) return ErrnoStatus("mkdir " + dir + "/upper");
  overlay_upper_ = dir + "/upper";
  // The upper's mode becomes the mode of the sandbox's "/", whatever our umask.
  if (::fchmodat(parent.get(), "upper", 0755, 0) != 0) return ErrnoStatus("chmod " + overlay_upper_);
  if (::mkdirat(parent.get(), "work", 0700) != 0) return ErrnoStatus("mkdir " + dir + "/work");
  overlay_work_ = dir + "/work";
  return Status::Ok();
}

Status Sandbox::AwaitExec(int report_fd) {
  for (;;) {
    ChildReport rep{};
    ssize_t n = ReadReport(report_fd, &rep);
    if (n != static_cast<ssize_t>(sizeof rep)) return Status::Ok();  // EOF: exec'd (or died, which Wait() tells)
    if (rep.exit_code == 0) continue;                                 // a stage passed on the way
    rep.message[sizeof rep.message - 1] = '\0';
    if (rep.exit_code == 125) return Internal(std::string("sandbox set-up failed: ") + rep.message);
    exec_error_ = rep.message;
    exec_exit_code_ = rep.exit_code;
    return Status::Ok();
  }
}

Status Sandbox::Release() {
  if (!staged_) return FailedPrecondition("sandbox " + id_ + " is not staged");
  staged_ = false;
  started_ = std::chrono::steady_clock::now();
  const char go = 'g';
  ssize_t n;
  do n = ::send(gate_.get(), &go, 1, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  gate_.reset();
  if (n != 1) return Status(Code::kUnavailable, "the init of staged sandbox " + id_ + " has gone");
  Status exec = AwaitExec(report_.get());
  report_.reset();
  return exec;
}

Status Sandbox::Kill(int signal) {
  if (!pidfd_ || reaped_) return FailedPrecondition("sandbox " + id_ + " is not running");
  if (PidfdSendSignal(pidfd_.get(), signal) != 0 && errno != ESRCH) return ErrnoStatus("kill sandbox " + id_);
  return Status::Ok();
}

Status Sandbox::TearDown() {
  if (torn_down_) return Status::Ok();
  torn_down_ = true;
  stdout_.reset();
  stderr_.reset();
  pidfd_.reset();
  mnt_ns_.reset();  // the root and every other mount of the sandbox go now
  Status st = cgroup_ ? cgroup_->Destroy() : Status::Ok();
  // Only overlay's scratch space (its work/work is mode 000), and no longer
  // in use: the init has been reaped, and with it every process of the pid
  // namespace, so the mount namespace holding the overlay is gone.
  if (!overlay_work_.empty()) {
    Status removed = RemoveTree(overlay_work_);
    if (st.ok()) st = removed;
  }
  return st;
}

Status Sandbox::Remove() {
  Status st;
  if (owns_dir_) st = RemoveTree(dir_);
  if (!name_link_.empty()) {
    ::unlink(name_link_.c_str());
    name_link_.clear();
  }
  owns_dir_ = false;
  return st;
}

}  // namespace slipway

namespace slipway {

// Passes a stream's bytes to the log and the sink, masked first when the
// spec named values to mask: nothing unmasked is ever recorded or streamed.
void Sandbox::Emit(Output& output, std::string_view data, LogWriter& log, OutputSink* sink) {
  std::string masked;
  if (output.masker) {
    masked = output.masker->Write(data);
    data = masked;
  }
  if (data.empty()) return;
  (void)log.Append(output.stream, data);  // a full disk must not stop the sandbox's output
  if (sink) sink->Write(output.stream, data);
}

// The end of a stream: what its masker held back (the start of what might
// have been a secret) is final now.
void Sandbox::EndOutput(Output& output, LogWriter& log, OutputSink* sink) {
  output.fd.reset();
  if (!output.masker) return;
  std::string rest = output.masker->Flush();
  output.masker.reset();
  Emit(output, rest, log, sink);  // no masker now: passed on as it is
}

bool Sandbox::Pump(Output& output, LogWriter& log, OutputSink* sink) {
  char buf[65536];
  ssize_t n = ::read(output.fd.get(), buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) {
    EndOutput(output, log, sink);
    return false;
  }
  Emit(output, std::string_view(buf, static_cast<size_t>(n)), log, sink);
  return true;
}

Result<SandboxResult> Sandbox::Wait(OutputSink* sink, int cancel_fd) {
  SLIPWAY_ASSIGN_OR_RETURN(SandboxResult result, Collect(sink, cancel_fd));
  if (Status torn = TearDown(); !torn.ok()) return torn.Wrap("tear down sandbox " + id_);
  return result;
}

Result<SandboxResult> Sandbox::Collect(OutputSink* sink, int cancel_fd) {
  if (waited_) return FailedPrecondition("sandbox " + id_ + " was already waited for");
  if (staged_) return FailedPrecondition("sandbox " + id_ + " is staged: Release() it first");
  waited_ = true;
  SandboxResult result;
  SLIPWAY_ASSIGN_OR_RETURN(LogWriter log, LogWriter::Create(state_dir_.LogFile(id_)));
  if (!exec_error_.empty()) {
    std::string line = "slipway: " + exec_error_ + "\n";
    (void)log.Append(Stream::kStderr, line);
    if (sink) sink->Write(Stream::kStderr, line);
  }
  // Each stream has its own masker: a value split across stdout and stderr
  // is in neither stream as written.
  Output out{std::move(stdout_), Stream::kStdout, nullptr};
  Output err{std::move(stderr_), Stream::kStderr, nullptr};
  if (masked_) {
    out.masker = std::make_unique<LogMasker>(masked_);
    err.masker = std::make_unique<LogMasker>(masked_);
  }
  auto deadline = started_ + timeout_;
  bool exited = false;
  siginfo_t info{};
  while (!exited || out.fd || err.fd) {
    pollfd fds[4] = {{out.fd.get(), POLLIN, 0}, {err.fd.get(), POLLIN, 0}, {-1, POLLIN, 0}, {-1, POLLIN, 0}};
    if (!exited) {
      fds[2].fd = pidfd_.get();
      fds[3].fd = (result.timed_out || result.cancelled) ? -1 : cancel_fd;
    }
    int wait_ms = -1;
    if (!exited && timeout_.count() > 0 && !result.timed_out) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      wait_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    // After the init exits its whole pid namespace is gone, so the pipes reach
    // EOF; the bound only guards against a writer we do not know of.
    if (exited) wait_ms = 1000;
    int ready = ::poll(fds, 4, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return ErrnoStatus("poll sandbox " + id_);
    if (ready == 0 && exited) break;
    if (ready == 0) {
      result.timed_out = true;
      (void)Kill(SIGKILL);
      (void)cgroup_->KillAll();
      continue;
    }
    if (fds[0].revents) Pump(out, log, sink);
    if (fds[1].revents) Pump(err, log, sink);
    if (fds[3].revents) {
      result.cancelled = true;
      (void)Kill(SIGKILL);
    }
    if (fds[2].revents && !exited) {
      if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info, WEXITED) != 0) {
        return ErrnoStatus("waitid sandbox " + id_);
      }
      exited = true;
      reaped_ = true;
    }
  }
  // A writer we do not know of kept a pipe open past the init's end.
  EndOutput(out, log, sink);
  EndOutput(err, log, sink);
  result.wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_)
          .count();
  if (info.si_code == CLD_EXITED) {
    result.exit_code = info.si_status;
  } else {
    result.signal = info.si_status;
    result.exit_code = 128 + info.si_status;
  }
  if (!exec_error_.empty()) result.exit_code = exec_exit_code_;
  auto stats = cgroup_->Stats();
  if (stats.ok()) {
    result.cpu_ns = stats->cpu_usage_ns;
    result.peak_memory_bytes = stats->memory_peak_bytes;
    result.oom_killed = stats->oom_kills > 0;
  }
  SLIPWAY_RETURN_IF_ERROR(state_dir_.WriteResult(id_, result));
  return result;
}

}  // namespace slipway
