// The default seccomp profile, modelled on Docker's (moby
// profiles/seccomp/default.json) as it applies on amd64 to a container with
// Docker's default capabilities.
//
// Architectures: the filter covers the native architecture only. libseccomp
// makes every other architecture take the bad-arch action, which we set to
// KILL_PROCESS: 32-bit int 0x80 calls and x32 calls (which share x86_64's
// AUDIT_ARCH and are told apart by __X32_SYSCALL_BIT, checked by libseccomp)
// never reach the kernel. Docker also adds x86 and x32; we do not, as the
// compat syscall layer is extra attack surface that CI jobs rarely need.

#include "engine/runtime/seccomp.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iterator>
#include <string>

#include "engine/base/fd.h"
#include "engine/base/fs.h"

namespace slipway {
namespace {

// Syscalls allowed whatever their arguments: Docker's unconditional list plus
// the entries it grants to its default capabilities (chroot for
// CAP_SYS_CHROOT) and the amd64-only ones (arch_prctl, modify_ldt). Names of
// other architectures (chown32, socketcall, ...) are kept so the list reads
// like Docker's; they do not resolve on amd64 and are skipped.
//
// Left out on purpose, so they get EPERM: mount/umount2/pivot_root, unshare,
// setns, the new mount API (fsopen, ...), bpf, perf_event_open, keyctl,
// add_key, request_key, the module and kexec calls, reboot, swapon/swapoff,
// acct, quotactl, syslog, settimeofday/clock_settime/stime, iopl/ioperm,
// userfaultfd, open_by_handle_at, name_to_handle_at, the NUMA policy calls
// (mbind, ...), vhangup, sethostname/setdomainname, io_uring_* (Docker
// dropped them in 2023 after a run of kernel CVEs). adjtimex/clock_adjtime
// stay allowed: reading the clock state is harmless and every change is
// checked against CAP_SYS_TIME, which the sandbox never has.
// clang-format off
constexpr const char* kAllowedSyscalls[] = {
    "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk", "cachestat",
    "capget", "capset", "chdir", "chmod", "chown", "chown32", "chroot", "clock_adjtime",
    "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
    "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range",
    "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
    "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve",
    "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
    "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32",
    "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork",
    "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync",
    "ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv",
    "futex_wake", "futimesat", "get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents",
    "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
    "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
    "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
    "getrusage", "getsid", "getsockname", "getsockopt", "gettid", "gettimeofday", "getuid",
    "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
    "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup",
    "io_submit", "ioctl", "ioprio_get", "ioprio_set", "ipc", "kill", "landlock_add_rule",
    "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link",
    "linkat", "listen", "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr",
    "lstat", "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret",
    "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
    "modify_ldt", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl",
    "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap", "nanosleep",
    "newfstatat", "_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
    "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll",
    "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease",
    "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
    "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
    "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir",
    "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
    "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
    "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
    "seccomp", "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
    "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "set_robust_list", "set_thread_area",
    "set_tid_address", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
    "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
    "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
    "setsid", "setsockopt", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
    "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall",
    "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat",
    "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname",
    "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice",
    "wait4", "waitid", "waitpid", "write", "writev",
};
// clang-format on

// Docker allows these on kernels >= 4.8 only: before 4.8 a tracer could
// change a syscall after seccomp had checked it.
constexpr const char* kPtraceSyscalls[] = {
    "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace",
};

// Docker's personality allow-list: PER_LINUX, PER_LINUX32, UNAME26,
// PER_LINUX32|UNAME26 and 0xffffffff (query the current persona).
constexpr uint32_t kAllowedPersonalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

// clone() may not create namespaces: the sandbox's are set up by us, and a
// job that could make its own user namespace would regain every capability
// inside it, reaching kernel code that is otherwise root-only.
constexpr uint64_t kCloneNamespaceFlags =
    CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
static_assert(kCloneNamespaceFlags == 0x7E020000, "Docker's clone mask");

Status SeccompError(const std::string& call, int rc) {
  return Internal(call + ": " + std::strerror(-rc));
}

// Owns a libseccomp context.
class FilterContext {
 public:
  explicit FilterContext(scmp_filter_ctx ctx) : ctx_(ctx) {}
  FilterContext(const FilterContext&) = delete;
  FilterContext& operator=(const FilterContext&) = delete;
  ~FilterContext() {
    if (ctx_ != nullptr) seccomp_release(ctx_);
  }
  scmp_filter_ctx get() const { return ctx_; }

 private:
  scmp_filter_ctx ctx_;
};

bool KernelAtLeast(int want_major, int want_minor) {
  utsname u{};
  int major = 0;
  int minor = 0;
  if (uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major > want_major || (major == want_major && minor >= want_minor);
}

// Adds an unconditional ALLOW rule per name that this libseccomp resolves to
// a syscall of the native architecture; other names are skipped, not errors,
// so the list can name syscalls newer than the installed libseccomp.
Status AllowByName(scmp_filter_ctx ctx, const char* const* names, size_t count, int* allowed) {
  for (size_t i = 0; i < count; ++i) {
    int nr = seccomp_syscall_resolve_name(names[i]);
    if (nr < 0) continue;  // __NR_SCMP_ERROR, or a pseudo-number: not on this arch
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    if (rc != 0) return SeccompError(std::string("seccomp_rule_add(") + names[i] + ")", rc);
    ++*allowed;
  }
  return Status::Ok();
}

Status AddPersonalityRules(scmp_filter_ctx ctx) {
  for (uint32_t persona : kAllowedPersonalities) {
    // The kernel takes an unsigned int: compare the low 32 bits only.
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, persona));
    if (rc != 0) return SeccompError("seccomp_rule_add(personality)", rc);
  }
  return Status::Ok();
}

Status AddCloneRules(scmp_filter_ctx ctx) {
  int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                            SCMP_A0(SCMP_CMP_MASKED_EQ, kCloneNamespaceFlags, 0));
  if (rc != 0) return SeccompError("seccomp_rule_add(clone)", rc);
  // clone3 passes its flags in memory, out of the filter's reach, so like
  // Docker we make it look unimplemented: glibc then falls back to clone.
  int clone3 = seccomp_syscall_resolve_name("clone3");
  if (clone3 < 0) return Status::Ok();
  rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), clone3, 0);
  if (rc != 0) return SeccompError("seccomp_rule_add(clone3)", rc);
  return Status::Ok();
}

// socket() for every family but AF_VSOCK, which reaches the hypervisor's
// host (Docker blocks it too). The kernel reads the family as an int, so the
// test must ignore the high 32 bits; libseccomp has no masked "not equal",
// so this allows "low 32 bits < 64 and != AF_VSOCK" as one rule per low bit
// in which the family differs from AF_VSOCK. Every family the kernel knows
// is below 64 (AF_MAX is 46); larger ones fail with EPERM instead of
// EAFNOSUPPORT.
Status AddSocketRules(scmp_filter_ctx ctx) {
  static_assert(AF_VSOCK < 64 && AF_MAX <= 64);
  constexpr uint64_t kHighBits = 0xffffffc0;
  for (uint64_t bit = 1; bit < 64; bit <<= 1) {
    uint64_t datum = ~static_cast<uint64_t>(AF_VSOCK) & bit;
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, kHighBits | bit, datum));
    if (rc != 0) return SeccompError("seccomp_rule_add(socket)", rc);
  }
  return Status::Ok();
}

Status SetAttributes(scmp_filter_ctx ctx) {
  // We set no_new_privs ourselves, before dropping privileges.
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (rc != 0) return SeccompError("seccomp_attr_set(CTL_NNP)", rc);
  // Kill the whole process, not one thread, on a foreign-arch syscall. If
  // libseccomp refuses (a kernel older than 4.14 has no KILL_PROCESS), its
  // default, KILL_THREAD, stays: still safe.
  (void)seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  // A binary search on the syscall number instead of ~350 comparisons in a
  // row: every syscall the sandbox makes runs this filter.
  rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  if (rc != 0) return SeccompError("seccomp_attr_set(CTL_OPTIMIZE)", rc);
  return Status::Ok();
}

// Adds every rule; sets *allowed to the number of syscalls allowed in full or
// in part (personality, clone and socket count once each).
Status AddRules(scmp_filter_ctx ctx, int* allowed) {
  SLIPWAY_RETURN_IF_ERROR(AllowByName(ctx, kAllowedSyscalls, std::size(kAllowedSyscalls), allowed));
  if (KernelAtLeast(4, 8)) {
    SLIPWAY_RETURN_IF_ERROR(AllowByName(ctx, kPtraceSyscalls, std::size(kPtraceSyscalls), allowed));
  }
  SLIPWAY_RETURN_IF_ERROR(AddPersonalityRules(ctx));
  SLIPWAY_RETURN_IF_ERROR(AddCloneRules(ctx));
  SLIPWAY_RETURN_IF_ERROR(AddSocketRules(ctx));
  *allowed += 3;
  return Status::Ok();
}

// libseccomp 2.5 can export only to a file descriptor: export to a memfd and
// read the program back.
Status ExportBpf(scmp_filter_ctx ctx, std::vector<sock_filter>* out) {
  UniqueFd fd(memfd_create("slipway-seccomp", MFD_CLOEXEC));
  if (!fd) return ErrnoStatus("memfd_create(slipway-seccomp)");
  int rc = seccomp_export_bpf(ctx, fd.get());
  if (rc != 0) return SeccompError("seccomp_export_bpf", rc);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus("fstat(slipway-seccomp memfd)");
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0 || size % sizeof(sock_filter) != 0) {
    return Internal("seccomp_export_bpf: odd program size " + std::to_string(size));
  }
  out->resize(size / sizeof(sock_filter));
  char* dst = reinterpret_cast<char*>(out->data());
  for (size_t done = 0; done < size;) {
    ssize_t n = pread(fd.get(), dst + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("pread(slipway-seccomp memfd)");
    if (n == 0) return Internal("pread(slipway-seccomp memfd): short read");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status Compile(SeccompProgram* program) {
  FilterContext ctx(seccomp_init(SCMP_ACT_ERRNO(EPERM)));
  if (ctx.get() == nullptr) return Internal("seccomp_init: failed");
  SLIPWAY_RETURN_IF_ERROR(SetAttributes(ctx.get()));
  SLIPWAY_RETURN_IF_ERROR(AddRules(ctx.get(), &program->allowed_syscalls));
  SLIPWAY_RETURN_IF_ERROR(ExportBpf(ctx.get(), &program->instructions));
  if (program->instructions.size() > BPF_MAXINSNS) {
    return Internal("seccomp program too long: " + std::to_string(program->instructions.size()));
  }
  program->prog.len = static_cast<unsigned short>(program->instructions.size());
  program->prog.filter = program->instructions.data();
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<SeccompProgram>> CompileDefaultSeccompProgram() {
  auto program = std::make_unique<SeccompProgram>();
  SLIPWAY_RETURN_IF_ERROR(Compile(program.get()));
  return program;
}

namespace {

// Bump when the rule-building code changes in a way the data below does not
// show (the data itself is hashed).
constexpr uint64_t kProfileRevision = 1;
constexpr char kCacheMagic[8] = {'S', 'L', 'W', 'Y', 'S', 'C', 'M', '1'};

// FNV-1a: a cache key, not a security boundary (the cache directory is
// root's own).
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void Add(const void* data, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(data)[i]) * 1099511628211ull;
  }
  void Add(const std::string& s) { Add(s.data(), s.size() + 1); }
  template <typename T>
  void AddValue(T v) {
    Add(&v, sizeof v);
  }
};

std::string CacheKey() {
  Fnv f;
  f.AddValue(kProfileRevision);
  for (const char* name : kAllowedSyscalls) f.Add(name);
  for (const char* name : kPtraceSyscalls) f.Add(name);
  for (uint32_t p : kAllowedPersonalities) f.AddValue(p);
  f.AddValue(kCloneNamespaceFlags);
  f.AddValue(KernelAtLeast(4, 8));
  const scmp_version* v = seccomp_version();
  f.AddValue(v->major), f.AddValue(v->minor), f.AddValue(v->micro);
  utsname u{};
  uname(&u);
  f.Add(u.release), f.Add(u.machine);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(f.h));
  return hex;
}

Result<std::unique_ptr<SeccompProgram>> LoadCached(const std::string& path) {
  auto data = ReadFile(path);
  if (!data.ok()) return data.status();
  size_t header = sizeof kCacheMagic + sizeof(int32_t);
  size_t count = (data->size() - header) / sizeof(sock_filter);
  if (data->size() < header || std::memcmp(data->data(), kCacheMagic, sizeof kCacheMagic) != 0 ||
      header + count * sizeof(sock_filter) != data->size() || count == 0 || count > BPF_MAXINSNS) {
    return Internal("malformed seccomp cache " + path);
  }
  auto program = std::make_unique<SeccompProgram>();
  int32_t allowed;
  std::memcpy(&allowed, data->data() + sizeof kCacheMagic, sizeof allowed);
  program->allowed_syscalls = allowed;
  program->instructions.resize(count);
  std::memcpy(program->instructions.data(), data->data() + header, count * sizeof(sock_filter));
  program->prog.len = static_cast<unsigned short>(count);
  program->prog.filter = program->instructions.data();
  return program;
}

Status StoreCached(const std::string& dir, const std::string& path, const SeccompProgram& program) {
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  std::string data(kCacheMagic, sizeof kCacheMagic);
  int32_t allowed = program.allowed_syscalls;
  data.append(reinterpret_cast<const char*>(&allowed), sizeof allowed);
  data.append(reinterpret_cast<const char*>(program.instructions.data()),
              program.instructions.size() * sizeof(sock_filter));
  return WriteFileAtomic(path, data, 0600, /*durable=*/false);
}

}  // namespace

Status CacheSeccompProgram(const std::string& cache_dir, const SeccompProgram& program) {
  std::string path = cache_dir + "/seccomp-" + CacheKey() + ".bpf";
  if (PathExists(path)) return Status::Ok();
  return StoreCached(cache_dir, path, program);
}

Result<std::unique_ptr<SeccompProgram>> LoadOrCompileSeccompProgram(const std::string& cache_dir) {
  if (cache_dir.empty()) return CompileDefaultSeccompProgram();
  std::string path = cache_dir + "/seccomp-" + CacheKey() + ".bpf";
  if (auto cached = LoadCached(path); cached.ok()) return cached;
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<SeccompProgram> program, CompileDefaultSeccompProgram());
  (void)StoreCached(cache_dir, path, *program);  // a cache that cannot be written only costs time
  return program;
}

Result<const SeccompProgram*> DefaultSeccompProgram(const std::string& cache_dir) {
  // Made once and never freed, so sandboxes started while the process exits
  // still see a valid program. C++ makes the initialisation thread-safe.
  static const Result<std::unique_ptr<SeccompProgram>>* const program =
      new Result<std::unique_ptr<SeccompProgram>>(LoadOrCompileSeccompProgram(cache_dir));
  if (!program->ok()) return program->status();
  return program->value().get();
}

int InstallSeccompProgram(const SeccompProgram& program) {
  if (program.prog.filter == nullptr || program.prog.len == 0) return -EINVAL;
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &program.prog);
  if (rc < 0) return -errno;
  // With TSYNC a positive result is the id of a thread that could not be
  // synchronised; the filter was not installed.
  if (rc > 0) return -EBUSY;
  return 0;
}

}  // namespace slipway
