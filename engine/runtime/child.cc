// Runs in the cloned child, sharing the parent's memory (CLONE_VM|CLONE_VFORK).
// Rules: no allocation, no locks, no C++ library calls that might allocate;
// only system calls and the plain helpers in this file.
#include "engine/runtime/child.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "engine/runtime/rootfs.h"

namespace slipway {

namespace {

// Appends C strings and numbers to a fixed buffer; truncates silently.
class Message {
 public:
  Message(char* buf, size_t cap) : buf_(buf), cap_(cap) { buf_[0] = '\0'; }
  Message& Add(const char* s) {
    while (s && *s && len_ + 1 < cap_) buf_[len_++] = *s++;
    buf_[len_] = '\0';
    return *this;
  }
  Message& AddInt(long v) {
    char digits[24];
    int n = 0;
    bool neg = v < 0;
    unsigned long u = neg ? -static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
    do digits[n++] = static_cast<char>('0' + u % 10);
    while ((u /= 10) && n < 23);
    if (neg) digits[n++] = '-';
    char out[24];
    for (int i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
    out[n] = '\0';
    return Add(out);
  }

 private:
  char* buf_;
  size_t cap_;
  size_t len_ = 0;
};

[[noreturn]] void Report(const ChildPlan& plan, int exit_code, int err, const char* what, const char* path,
                         const char* detail = nullptr) {
  ChildReport report;
  report.exit_code = exit_code;
  report.err = err;
  Message m(report.message, sizeof report.message);
  m.Add(what);
  if (path) m.Add(" ").Add(path);
  if (detail)
    m.Add(": ").Add(detail);
  else if (err)
    m.Add(": ").Add(strerrordesc_np(err));
  ssize_t ignored = ::write(plan.report_fd, &report, sizeof report);
  (void)ignored;
  ::_exit(exit_code);
}

[[noreturn]] void Fail(const ChildPlan& plan, const char* what, const char* path = nullptr) {
  Report(plan, 125, errno, what, path);
}

void JoinCgroups(const ChildPlan& plan) {
  for (int i = 0; i < plan.cgroup_procs_count; ++i) {
    if (::write(plan.cgroup_procs_fds[i], "0", 1) != 1) Fail(plan, "join cgroup");
  }
  // Only now: the new cgroup namespace is rooted at the sandbox's own cgroup.
  if (::unshare(CLONE_NEWCGROUP) != 0) Fail(plan, "unshare cgroup namespace");
}

void SetUpNetwork(const ChildPlan& plan) {
  if (plan.netns_fd >= 0) {
    if (::setns(plan.netns_fd, CLONE_NEWNET) != 0) Fail(plan, "join network namespace");
    return;
  }
  // The host's namespace: its loopback is the host's to configure, not ours.
  if (!plan.new_netns) return;
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) Fail(plan, "socket for loopback");
  ifreq ifr;
  ::memset(&ifr, 0, sizeof ifr);
  ::memcpy(ifr.ifr_name, "lo", 3);
  if (::ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) Fail(plan, "get flags of", "lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) Fail(plan, "bring up", "lo");
  ::close(sock);
}

void SetUpStdio(const ChildPlan& plan) {
  if (::dup2(plan.stdin_fd, 0) < 0 || ::dup2(plan.stdout_fd, 1) < 0 || ::dup2(plan.stderr_fd, 2) < 0) {
    Fail(plan, "dup2 stdio");
  }
}

// Signal dispositions and mask are inherited from the parent, which may have
// handlers (running them here would run parent code on shared memory) or
// ignore SIGPIPE: the command starts with every signal at its default.
void ResetSignals() {
  struct sigaction dfl;
  ::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void SetUpUser(const ChildPlan& plan) {
  if (DropBoundingSet(plan.capabilities) != 0) Fail(plan, "drop capabilities from the bounding set");
  if (::prctl(PR_SET_KEEPCAPS, 1) != 0) Fail(plan, "prctl PR_SET_KEEPCAPS");
  if (::setgroups(static_cast<size_t>(plan.group_count), plan.groups) != 0) Fail(plan, "setgroups");
  if (::setresgid(plan.gid, plan.gid, plan.gid) != 0) Fail(plan, "setresgid");
  if (::setresuid(plan.uid, plan.uid, plan.uid) != 0) Fail(plan, "setresuid");
  if (::prctl(PR_SET_KEEPCAPS, 0) != 0) Fail(plan, "prctl PR_SET_KEEPCAPS");
  int rc = SetCapabilities(plan.capabilities, plan.uid == 0);
  if (rc != 0) {
    errno = -rc;
    Fail(plan, "capset");
  }
}

void EnterWorkdir(const ChildPlan& plan) {
  char path[4096];
  size_t len = ::strlen(plan.workdir);
  if (len >= sizeof path) {
    errno = ENAMETOOLONG;
    Fail(plan, "workdir", plan.workdir);
  }
  ::memcpy(path, plan.workdir, len + 1);
  // mkdir -p, as Docker does for a missing working directory.
  for (size_t i = 1; i <= len; ++i) {
    if (path[i] != '/' && path[i] != '\0') continue;
    char saved = path[i];
    path[i] = '\0';
    if (::mkdir(path, 0755) != 0 && errno != EEXIST) Fail(plan, "create workdir", path);
    path[i] = saved;
  }
  if (::chdir(plan.workdir) != 0) Fail(plan, "chdir to workdir", plan.workdir);
}

// execvp with the sandbox's PATH, reporting 127/126 as a shell does.
[[noreturn]] void Exec(const ChildPlan& plan) {
  const char* name = plan.argv[0];
  if (::strchr(name, '/')) {
    ::execve(name, plan.argv, plan.envp);
    int err = errno;
    Report(plan, err == ENOENT ? 127 : 126, err, "exec:", name);
  }
  bool saw_eacces = false;
  char candidate[4096];
  const char* p = plan.path_env;
  while (true) {
    const char* end = ::strchrnul(p, ':');
    size_t dir_len = static_cast<size_t>(end - p);
    size_t name_len = ::strlen(name);
    if (dir_len + name_len + 2 < sizeof candidate) {
      ::memcpy(candidate, p, dir_len);
      size_t at = dir_len;
      if (at == 0) candidate[at++] = '.';
      candidate[at++] = '/';
      ::memcpy(candidate + at, name, name_len + 1);
      ::execve(candidate, plan.argv, plan.envp);
      if (errno == EACCES) saw_eacces = true;
    }
    if (*end == '\0') break;
    p = end + 1;
  }
  if (saw_eacces) Report(plan, 126, EACCES, "exec:", name, "permission denied");
  Report(plan, 127, ENOENT, "exec:", name, "executable file not found in $PATH");
}

// The last step before the exec of a staged sandbox: say so, then wait for
// the word. Reads and writes are allowed by every seccomp profile we load.
void AwaitGate(const ChildPlan& plan) {
  if (plan.gate_fd < 0) return;
  ChildReport at_gate;
  ::memset(&at_gate, 0, sizeof at_gate);
  if (::write(plan.report_fd, &at_gate, sizeof at_gate) != static_cast<ssize_t>(sizeof at_gate)) ::_exit(125);
  char word = 0;
  ssize_t n;
  do n = ::read(plan.gate_fd, &word, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1 || word != 'g') ::_exit(125);
}

}  // namespace

int ChildMain(void* arg) {
  const ChildPlan& plan = *static_cast<const ChildPlan*>(arg);
  ChildPrepare(plan);
  ChildRun(plan);
}

void ChildPrepare(const ChildPlan& plan) {
  if (plan.kill_on_parent_death && ::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
    Fail(plan, "prctl PR_SET_PDEATHSIG");
  JoinCgroups(plan);
  SetUpNetwork(plan);
}

void ChildRun(const ChildPlan& plan) {
  if (::sethostname(plan.hostname, ::strlen(plan.hostname)) != 0) Fail(plan, "sethostname", plan.hostname);
  ::umask(0);
  RootfsError error;
  if (!SetUpRootfs(plan, &error)) {
    errno = error.err;
    Fail(plan, error.what, error.path);
  }
  SetUpStdio(plan);
  EnterWorkdir(plan);
  SetUpUser(plan);
  // A uid change clears the parent-death signal (commit_creds): arm it again.
  if (plan.kill_on_parent_death && ::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
    Fail(plan, "prctl PR_SET_PDEATHSIG");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Fail(plan, "prctl PR_SET_NO_NEW_PRIVS");
  // Every fd but stdio closes at exec, whatever the parent forgot to mark.
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) Fail(plan, "close_range");
  ::umask(022);
  ResetSignals();
  int rc = InstallSeccompProgram(*plan.seccomp);
  if (rc != 0) {
    errno = -rc;
    Fail(plan, "install seccomp filter");
  }
  AwaitGate(plan);
  Exec(plan);
}

}  // namespace slipway
