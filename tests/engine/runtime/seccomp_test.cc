// Installs the real filter in fork()ed children and checks what the kernel
// then allows. The children first unshare the mount, UTS and IPC namespaces:
// should the filter be missing, the syscalls that must fail here either fail
// anyway on bad arguments or change nothing outside the child.

#include "engine/runtime/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/child_process.h"

namespace slipway {
namespace {

using testing::ChildResult;
using testing::Describe;
using testing::RunInChild;

// Collects failed expectations inside a child, where gtest cannot report.
class Checks {
 public:
  // `rc` is a syscall result; errno is read first, before anything can clobber it.
  void Fails(const std::string& what, long rc, int want_errno) {
    int err = errno;
    if (rc == -1 && err == want_errno) return;
    Add(what + ": want errno " + std::to_string(want_errno) + " (" + std::strerror(want_errno) +
        "), got rc " + std::to_string(rc) + (rc == -1 ? std::string(" ") + std::strerror(err) : ""));
  }
  void Succeeds(const std::string& what, long rc) {
    int err = errno;
    if (rc >= 0) return;
    Add(what + ": " + std::strerror(err));
  }
  void True(const std::string& what, bool ok) {
    if (!ok) Add(what);
  }
  void Add(const std::string& failure) { report_ += failure + "\n"; }
  const std::string& report() const { return report_; }

 private:
  std::string report_;
};

const SeccompProgram& Program() {
  static const SeccompProgram* program = [] {
    auto result = DefaultSeccompProgram();
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? *result : nullptr;
  }();
  return *program;
}

// Sets no_new_privs and installs the filter; returns what went wrong.
std::string InstallFilter() {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return std::string("PR_SET_NO_NEW_PRIVS: ") + strerror(errno);
  }
  int rc = InstallSeccompProgram(Program());
  if (rc != 0) return "InstallSeccompProgram: " + std::string(std::strerror(-rc));
  return "";
}

// Private namespaces so that a missing filter cannot touch the host.
std::string IsolateNamespaces() {
  if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC) != 0) {
    return std::string("unshare: ") + strerror(errno);
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return std::string("make / private: ") + strerror(errno);
  }
  return "";
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/slipway-seccomp-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (!path_.empty()) rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(SeccompTest, CompilesDockerSizedAllowList) {
  auto program = DefaultSeccompProgram();
  ASSERT_TRUE(program.ok()) << program.status().ToString();
  const SeccompProgram& p = **program;
  EXPECT_GE(p.allowed_syscalls, 300);
  EXPECT_LE(p.allowed_syscalls, 420);
  ASSERT_FALSE(p.instructions.empty());
  EXPECT_LE(p.instructions.size(), size_t{BPF_MAXINSNS});
  EXPECT_EQ(p.prog.len, p.instructions.size());
  EXPECT_EQ(p.prog.filter, p.instructions.data());
}

TEST(SeccompTest, CompilesOnceForAllThreads) {
  auto first = DefaultSeccompProgram();
  ASSERT_TRUE(first.ok());
  std::vector<const SeccompProgram*> seen(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&seen, i] {
      auto p = DefaultSeccompProgram();
      seen[i] = p.ok() ? *p : nullptr;
    });
  }
  for (auto& t : threads) t.join();
  for (const SeccompProgram* p : seen) EXPECT_EQ(p, *first);
}

TEST(SeccompTest, InstallRejectsAnEmptyProgram) {
  SeccompProgram empty;
  EXPECT_EQ(InstallSeccompProgram(empty), -EINVAL);
}

TEST(SeccompTest, AllowsOrdinarySyscalls) {
  ASSERT_GT(Program().prog.len, 0);
  ChildResult r = RunInChild([] {
    if (std::string err = InstallFilter(); !err.empty()) return err;
    Checks c;
    c.Succeeds("getpid", getpid());
    int fd = openat(AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC);
    c.Succeeds("openat /proc/self/status", fd);
    char buf[8192] = {};
    c.Succeeds("read", read(fd, buf, sizeof(buf) - 1));
    c.True("Seccomp mode 2 in /proc/self/status", std::strstr(buf, "Seccomp:\t2") != nullptr);
    c.Succeeds("close", close(fd));
    c.Succeeds("write /dev/null", write(open("/dev/null", O_WRONLY | O_CLOEXEC), "x", 1));
    c.Succeeds("socket(AF_UNIX)", socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    c.Succeeds("socket(AF_INET)", socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    c.Succeeds("memfd_create", memfd_create("x", MFD_CLOEXEC));
    c.Succeeds("pidfd_open", syscall(SYS_pidfd_open, getpid(), 0));
    c.Succeeds("chroot /", chroot("/"));
    timex tx{};
    c.Succeeds("adjtimex(read)", adjtimex(&tx));
    // Allowed syscall, so the kernel's answer: no process 0 to trace.
    c.Fails("ptrace(PEEKDATA, 0)", ptrace(PTRACE_PEEKDATA, 0, nullptr, nullptr), ESRCH);
    // Query, and the high half ignored as the kernel ignores it.
    c.Succeeds("personality(0xffffffff)", syscall(SYS_personality, 0xffffffffUL));
    c.Succeeds("personality(junk<<32|0xffffffff)", syscall(SYS_personality, 0xdead00000000UL | 0xffffffffUL));
    c.Succeeds("personality(PER_LINUX)", syscall(SYS_personality, 0x0UL));
    return c.report();
  });
  EXPECT_TRUE(r.ExitedZero()) << Describe(r);
}

TEST(SeccompTest, ForkThreadsAndExecStillWork) {
  ASSERT_GT(Program().prog.len, 0);
  ChildResult r = RunInChild([] {
    if (std::string err = InstallFilter(); !err.empty()) return err;
    Checks c;
    pid_t pid = fork();
    if (pid == 0) _exit(7);
    int status = 0;
    c.Succeeds("fork", pid);
    c.Succeeds("waitpid", waitpid(pid, &status, 0));
    c.True("forked child exits 7", WIFEXITED(status) && WEXITSTATUS(status) == 7);
    // glibc tries clone3 first and must fall back to clone on ENOSYS.
    bool ran = false;
    std::thread([&ran] { ran = true; }).join();
    c.True("std::thread ran", ran);
    pid = fork();
    if (pid == 0) {
      execl("/bin/sh", "sh", "-c", "echo hi | cat >/dev/null && grep -q '^Seccomp:.2' /proc/self/status",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    c.Succeeds("waitpid sh", waitpid(pid, &status, 0));
    c.True("sh -c pipeline under the filter exits 0, status " + std::to_string(status),
           WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return c.report();
  });
  EXPECT_TRUE(r.ExitedZero()) << Describe(r);
}

TEST(SeccompTest, DeniesPrivilegedSyscalls) {
  ASSERT_GT(Program().prog.len, 0);
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  ChildResult r = RunInChild([&dir] {
    if (std::string err = IsolateNamespaces(); !err.empty()) return err;
    const char* target = dir.path().c_str();
    if (mount("slipway", target, "tmpfs", 0, nullptr) != 0) {
      return std::string("pre-mount: ") + strerror(errno);
    }
    if (std::string err = InstallFilter(); !err.empty()) return err;
    Checks c;
    c.Fails("mount", mount("slipway", target, "tmpfs", 0, nullptr), EPERM);
    c.Fails("umount2", umount2(target, MNT_DETACH), EPERM);
    c.Fails("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS), EPERM);
    int ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    c.Succeeds("open ns/mnt", ns);
    c.Fails("setns", setns(ns, CLONE_NEWNS), EPERM);
    c.Fails("pivot_root", syscall(SYS_pivot_root, "/nonexistent-a", "/nonexistent-b"), EPERM);
    c.Fails("sethostname", sethostname("slipway-x", 9), EPERM);
    c.Fails("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0), EPERM);
    c.Fails("add_key", syscall(SYS_add_key, nullptr, nullptr, nullptr, 0, KEY_SPEC_PROCESS_KEYRING), EPERM);
    c.Fails("request_key", syscall(SYS_request_key, nullptr, nullptr, nullptr, 0), EPERM);
    c.Fails("bpf", syscall(SYS_bpf, 1000, nullptr, 0), EPERM);
    c.Fails("perf_event_open", syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0), EPERM);
    c.Fails("reboot", syscall(SYS_reboot, 0, 0, 0, nullptr), EPERM);  // bad magic
    c.Fails("init_module", syscall(SYS_init_module, nullptr, 0, ""), EPERM);
    c.Fails("finit_module", syscall(SYS_finit_module, -1, "", 0), EPERM);
    c.Fails("delete_module", syscall(SYS_delete_module, "slipway_none", O_NONBLOCK), EPERM);
    c.Fails("kexec_load", syscall(SYS_kexec_load, 0, 1000000, nullptr, 0x8000), EPERM);  // bad flags
    c.Fails("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, nullptr, 0x8000), EPERM);
    c.Fails("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, nullptr, O_RDONLY), EPERM);
    c.Fails("name_to_handle_at", syscall(SYS_name_to_handle_at, AT_FDCWD, "/", nullptr, nullptr, 0), EPERM);
    c.Fails("swapon", syscall(SYS_swapon, "/nonexistent", 0), EPERM);
    c.Fails("swapoff", syscall(SYS_swapoff, "/nonexistent"), EPERM);
    c.Fails("acct", syscall(SYS_acct, "/nonexistent/x"), EPERM);
    c.Fails("settimeofday", syscall(SYS_settimeofday, nullptr, nullptr), EPERM);  // a no-op if allowed
    timespec ts{};
    c.Fails("clock_settime", syscall(SYS_clock_settime, 12345, &ts), EPERM);  // bad clock
    c.Fails("io_uring_setup", syscall(SYS_io_uring_setup, 0, nullptr), EPERM);
    c.Fails("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC), EPERM);
    c.Fails("socket(AF_VSOCK)", socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0), EPERM);
    // The kernel reads an int: junk in the high half must not slip past.
    c.Fails("socket(junk<<32|AF_VSOCK)",
            syscall(SYS_socket, (1L << 32) | AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0), EPERM);
    c.Fails("personality(READ_IMPLIES_EXEC)", syscall(SYS_personality, 0x0400000UL), EPERM);
    // Last: if it got through, the calls after it would fail for lack of
    // privilege over the host namespaces, filter or not.
    c.Fails("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER), EPERM);
    return c.report();
  });
  EXPECT_TRUE(r.ExitedZero()) << Describe(r);
}

TEST(SeccompTest, CloneMayNotCreateNamespaces) {
  ASSERT_GT(Program().prog.len, 0);
  ChildResult r = RunInChild([] {
    if (std::string err = InstallFilter(); !err.empty()) return err;
    Checks c;
    const std::pair<const char*, unsigned long> kFlags[] = {
        {"CLONE_NEWNS", CLONE_NEWNS},         {"CLONE_NEWUTS", CLONE_NEWUTS}, {"CLONE_NEWIPC", CLONE_NEWIPC},
        {"CLONE_NEWUSER", CLONE_NEWUSER},     {"CLONE_NEWPID", CLONE_NEWPID}, {"CLONE_NEWNET", CLONE_NEWNET},
        {"CLONE_NEWCGROUP", CLONE_NEWCGROUP},
    };
    for (const auto& [name, flag] : kFlags) {
      // CLONE_THREAD without CLONE_SIGHAND is EINVAL to the kernel, so no
      // child is created should the filter let the call through.
      long rc = syscall(SYS_clone, flag | CLONE_THREAD | SIGCHLD, nullptr, nullptr, nullptr, 0);
      if (rc == 0) _exit(0);  // cannot happen; never run the test's code twice
      c.Fails(std::string("clone(") + name + ")", rc, EPERM);
    }
    c.Fails("clone3", syscall(SYS_clone3, nullptr, 0), ENOSYS);
    return c.report();
  });
  EXPECT_TRUE(r.ExitedZero()) << Describe(r);
}

TEST(SeccompTest, X32SyscallsKillTheProcess) {
  ASSERT_GT(Program().prog.len, 0);
  ChildResult r = RunInChild([] {
    if (std::string err = InstallFilter(); !err.empty()) return err;
    syscall(0x40000000L | SYS_getpid);  // __X32_SYSCALL_BIT
    return std::string("x32 getpid returned");
  });
  EXPECT_TRUE(r.KilledBy(SIGSYS)) << Describe(r);
}

long Int80Getpid() {
  long ret;
  // i386 getpid is 20. The 32-bit entry clobbers r8-r11.
  asm volatile("int $0x80" : "=a"(ret) : "a"(20L) : "r8", "r9", "r10", "r11", "memory");
  return ret;
}

TEST(SeccompTest, I386SyscallsKillTheProcess) {
  ASSERT_GT(Program().prog.len, 0);
  ChildResult control = RunInChild(
      [] { return Int80Getpid() == getpid() ? std::string() : std::string("int 0x80 getpid differs"); });
  if (!control.ExitedZero()) GTEST_SKIP() << "no 32-bit syscall emulation: " << Describe(control);
  ChildResult r = RunInChild([] {
    if (std::string err = InstallFilter(); !err.empty()) return err;
    Int80Getpid();
    return std::string("int 0x80 getpid returned");
  });
  EXPECT_TRUE(r.KilledBy(SIGSYS)) << Describe(r);
}

// The on-disk cache: what one process compiles, the next loads.
bool SameProgram(const SeccompProgram& a, const SeccompProgram& b) {
  return a.instructions.size() == b.instructions.size() && a.allowed_syscalls == b.allowed_syscalls &&
         std::memcmp(a.instructions.data(), b.instructions.data(),
                     a.instructions.size() * sizeof(sock_filter)) == 0;
}

std::string OnlyFileIn(const std::string& dir) {
  std::string found;
  for (const auto& e : std::filesystem::directory_iterator(dir)) found = e.path().string();
  return found;
}

TEST(SeccompCacheTest, CompilesOnceThenLoadsTheSameProgram) {
  std::string dir = ::testing::TempDir() + "/seccomp-cache-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  auto compiled = CompileDefaultSeccompProgram();
  ASSERT_TRUE(compiled.ok());
  auto first = LoadOrCompileSeccompProgram(dir);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_TRUE(SameProgram(**first, **compiled));
  std::string file = OnlyFileIn(dir);
  ASSERT_FALSE(file.empty()) << "nothing was cached";
  EXPECT_EQ(std::filesystem::status(dir).permissions() & std::filesystem::perms::others_all,
            std::filesystem::perms::none);
  auto second = LoadOrCompileSeccompProgram(dir);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(SameProgram(**second, **compiled));
  EXPECT_EQ((*second)->prog.filter, (*second)->instructions.data());
  std::filesystem::remove_all(dir);
}

TEST(SeccompCacheTest, ACorruptCacheIsCompiledAgain) {
  std::string dir = ::testing::TempDir() + "/seccomp-corrupt-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(LoadOrCompileSeccompProgram(dir).ok());
  std::string file = OnlyFileIn(dir);
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 3);
  auto again = LoadOrCompileSeccompProgram(dir);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(SameProgram(**again, **CompileDefaultSeccompProgram()));
  EXPECT_EQ(std::filesystem::file_size(file) % sizeof(sock_filter), (8 + 4) % sizeof(sock_filter));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace slipway
