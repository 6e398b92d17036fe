#include "engine/runtime/rootfs.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "engine/base/openat2.h"

namespace slipway {

const char* const kMaskedPaths[] = {"/proc/asound",
                                    "/proc/acpi",
                                    "/proc/kcore",
                                    "/proc/keys",
                                    "/proc/latency_stats",
                                    "/proc/timer_list",
                                    "/proc/timer_stats",
                                    "/proc/sched_debug",
                                    "/proc/scsi",
                                    "/sys/firmware",
                                    "/sys/devices/virtual/powercap",
                                    nullptr};
const char* const kReadOnlyPaths[] = {"/proc/bus",           "/proc/fs", "/proc/irq", "/proc/sys",
                                      "/proc/sysrq-trigger", nullptr};

namespace {

constexpr unsigned long kProcFlags = MS_NOSUID | MS_NOEXEC | MS_NODEV;

// Scoped fd without the C++ library (the child may not allocate; this does not).
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// "/proc/self/fd/N": mount(2) through the magic link lands on exactly the
// object the fd was opened on, wherever symlinks pointed.
struct FdPath {
  char buf[40];
  explicit FdPath(int fd, const char* suffix = nullptr) {
    char digits[16];
    int n = 0;
    do digits[n++] = static_cast<char>('0' + fd % 10);
    while ((fd /= 10) && n < 15);
    char* p = ::stpcpy(buf, "/proc/self/fd/");
    while (n) *p++ = digits[--n];
    *p = '\0';
    if (suffix) {
      size_t room = sizeof buf - static_cast<size_t>(p - buf) - 1;
      ::strncat(p, suffix, room);
    }
  }
  const char* c_str() const { return buf; }
};

int OpenResolved(int rootfd, const char* path) {
  return Openat2(rootfd, path, O_PATH | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

// Opens `path` below `rootfd` as if `rootfd` were "/", creating missing
// directories (and, when `file`, a missing last component as an empty file).
int OpenInRoot(int rootfd, const char* path, bool file) {
  int fd = OpenResolved(rootfd, path);
  if (fd >= 0 || errno != ENOENT) return fd;
  char prefix[4096];
  size_t len = ::strlen(path);
  if (len >= sizeof prefix) {
    errno = ENAMETOOLONG;
    return -1;
  }
  ::memcpy(prefix, path, len + 1);
  for (size_t i = 1; i <= len; ++i) {
    if (prefix[i] != '/' && prefix[i] != '\0') continue;
    bool last = prefix[i] == '\0';
    char saved = prefix[i];
    prefix[i] = '\0';
    int probe = OpenResolved(rootfd, prefix);
    if (probe >= 0) {
      ::close(probe);
    } else if (errno == ENOENT) {
      // Create the missing component inside its parent, resolved in-root too.
      char* slash = ::strrchr(prefix, '/');
      *slash = '\0';
      Fd parent(OpenResolved(rootfd, slash == prefix ? "/" : prefix));
      *slash = '/';
      if (parent.fd < 0) return -1;
      Fd dir(::openat(parent.fd, ".", O_DIRECTORY | O_CLOEXEC));  // O_PATH fds cannot mkdirat
      if (dir.fd < 0) return -1;
      int rc = (last && file)
                   ? ::openat(dir.fd, slash + 1, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644)
                   : ::mkdirat(dir.fd, slash + 1, 0755);
      if (rc < 0 && errno != EEXIST) return -1;
      if (last && file && rc >= 0) ::close(rc);
    } else {
      return -1;
    }
    prefix[i] = saved;
  }
  return OpenResolved(rootfd, path);
}

bool Failed(RootfsError* error, const char* what, const char* path) {
  error->what = what;
  error->path = path;
  error->err = errno;
  return false;
}

// Mounts a fresh filesystem of type `fstype` at `target` inside the root.
bool MountInRoot(int rootfd, const char* target, const char* fstype, unsigned long flags, const char* data,
                 RootfsError* error) {
  Fd fd(OpenInRoot(rootfd, target, false));
  if (fd.fd < 0) return Failed(error, "open mount point", target);
  if (::mount(fstype, FdPath(fd.fd).c_str(), fstype, flags, data) != 0) return Failed(error, "mount", target);
  return true;
}

bool WriteFile(int dirfd, const char* name, const char* content, mode_t mode) {
  int fd = ::openat(dirfd, name, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode);
  if (fd < 0) return false;
  size_t len = ::strlen(content);
  bool ok = ::write(fd, content, len) == static_cast<ssize_t>(len);
  ::close(fd);
  return ok;
}

// The mount points of /proc, /sys and /dev, as SetUpRootfs() mounts them.
const char* const kFilesystemMountPoints[] = {"/proc", "/sys", "/dev"};

bool MakeMountPoint(int rootfd, const char* path, bool file, RootfsError* error) {
  Fd fd(OpenInRoot(rootfd, path, file));
  if (fd.fd < 0) return Failed(error, "open mount point", path);
  return true;
}

// For an upper directory that outlives the sandbox: makes every mount point
// SetUpRootfs() will need in a throwaway overlay (upper on the tmpfs), then
// unmounts it. Its upper becomes the real overlay's topmost lower dir, so
// the mount points the image lacks (and the copied-up directories holding
// them) never reach the upper the caller turns into an image layer, as
// Docker's "-init" layer keeps them out of a container's diff.
bool MakeMountPointStubs(const ChildPlan& plan, RootfsError* error) {
  if (::mount("overlay", plan.rootfs_dir, "overlay", 0, plan.stub_overlay_options) != 0)
    return Failed(error, "mount mount-point overlay on", plan.rootfs_dir);
  {
    Fd root(::open(plan.rootfs_dir, O_DIRECTORY | O_CLOEXEC));
    if (root.fd < 0) return Failed(error, "open", plan.rootfs_dir);
    for (const char* path : kFilesystemMountPoints) {
      if (!MakeMountPoint(root.fd, path, false, error)) return false;
    }
    for (int i = 0; i < plan.file_count; ++i) {
      if (!MakeMountPoint(root.fd, plan.files[i].path, true, error)) return false;
    }
    for (int i = 0; i < plan.bind_count; ++i) {
      if (!MakeMountPoint(root.fd, plan.binds[i].target, plan.binds[i].is_file, error)) return false;
    }
  }
  // Not detached: a lazily unmounted overlay could still use stubs/ as its
  // upper once it is the real overlay's lower.
  if (::umount2(plan.rootfs_dir, 0) != 0)
    return Failed(error, "unmount mount-point overlay from", plan.rootfs_dir);
  return true;
}

bool SetUpWritableLayer(const ChildPlan& plan, RootfsError* error) {
  // Nothing mounted from here on may propagate back to the host.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return Failed(error, "make / private", "/");
  if (::mount("tmpfs", plan.rw_dir, "tmpfs", MS_NOSUID | MS_NODEV, plan.tmpfs_options) != 0) {
    return Failed(error, "mount writable layer tmpfs on", plan.rw_dir);
  }
  for (const char* const* dir = plan.rw_subdirs; *dir; ++dir) {
    if (::mkdir(*dir, 0755) != 0) return Failed(error, "mkdir", *dir);
  }
  Fd staging(::open(plan.staging_dir, O_DIRECTORY | O_CLOEXEC));
  if (staging.fd < 0) return Failed(error, "open", plan.staging_dir);
  for (int i = 0; i < plan.file_count; ++i) {
    if (!WriteFile(staging.fd, plan.files[i].staging, plan.files[i].content, 0644)) {
      return Failed(error, "write", plan.files[i].staging);
    }
  }
  if (plan.stub_overlay_options == nullptr) {
    if (::mount("overlay", plan.rootfs_dir, "overlay", 0, plan.overlay_options) != 0)
      return Failed(error, "mount overlay root on", plan.rootfs_dir);
    return true;
  }
  if (!MakeMountPointStubs(plan, error)) return false;
  // The caller's upper directory is the likelier culprit (its filesystem).
  if (::mount("overlay", plan.rootfs_dir, "overlay", 0, plan.overlay_options) != 0)
    return Failed(error, "mount overlay root with upper directory", plan.upper_dir);
  return true;
}

bool MakeDeviceNodes(int devfd, RootfsError* error) {
  struct Node {
    const char* name;
    unsigned major, minor;
  };
  static const Node kNodes[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
                                {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  for (const Node& n : kNodes) {
    if (::mknodat(devfd, n.name, S_IFCHR | 0666, makedev(n.major, n.minor)) != 0)
      return Failed(error, "mknod /dev/", n.name);
  }
  struct Link {
    const char* name;
    const char* target;
  };
  static const Link kLinks[] = {{"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"},
                                {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
                                {"ptmx", "pts/ptmx"},          {"core", "/proc/kcore"}};
  for (const Link& l : kLinks) {
    if (::symlinkat(l.target, devfd, l.name) != 0) return Failed(error, "symlink /dev/", l.name);
  }
  if (::mkdirat(devfd, "pts", 0755) != 0 || ::mkdirat(devfd, "shm", 01777) != 0 ||
      ::mkdirat(devfd, "mqueue", 0755) != 0) {
    return Failed(error, "mkdir in", "/dev");
  }
  return true;
}

bool SetUpDev(int rootfd, RootfsError* error) {
  if (!MountInRoot(rootfd, "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", error))
    return false;
  // Reopen: the old fd still names the directory under the new tmpfs.
  Fd dev_path(OpenResolved(rootfd, "/dev"));
  if (dev_path.fd < 0) return Failed(error, "open", "/dev");
  Fd dev(::openat(dev_path.fd, ".", O_DIRECTORY | O_CLOEXEC));
  if (dev.fd < 0) return Failed(error, "open", "/dev");
  if (!MakeDeviceNodes(dev.fd, error)) return false;
  if (::mount("devpts", FdPath(dev.fd, "/pts").c_str(), "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0666,mode=0620,gid=5") != 0) {
    return Failed(error, "mount", "/dev/pts");
  }
  if (::mount("shm", FdPath(dev.fd, "/shm").c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=1777,size=65536k") != 0) {
    return Failed(error, "mount", "/dev/shm");
  }
  if (::mount("mqueue", FdPath(dev.fd, "/mqueue").c_str(), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              nullptr) != 0) {
    return Failed(error, "mount", "/dev/mqueue");
  }
  return true;
}

bool BindInRoot(int rootfd, const char* source, const char* target, bool file, bool read_only,
                RootfsError* error) {
  {
    Fd fd(OpenInRoot(rootfd, target, file));
    if (fd.fd < 0) return Failed(error, "open mount point", target);
    if (::mount(source, FdPath(fd.fd).c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      return Failed(error, "bind mount onto", target);
    }
  }
  if (!read_only) return true;
  // Through a fresh fd: the old one names what the bind now covers.
  Fd fd(OpenResolved(rootfd, target));
  if (fd.fd < 0) return Failed(error, "open", target);
  // Read-only all the way down: MS_REC copied every mount below the source
  // (with -v /:/host, the host's /proc, /sys, its cgroup hierarchies, any
  // tmpfs), and a remount with MS_RDONLY would change only the top one.
  // mount_setattr(AT_RECURSIVE) flips the whole copied tree at once, only in
  // this namespace. Kernels before 5.12 lack it (ENOSYS): the sandbox is
  // refused rather than given a ":ro" that is writable below a submount.
  mount_attr attr;
  ::memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::mount_setattr(fd.fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) {
    return Failed(error, "make read-only recursively (mount_setattr, Linux 5.12 or later)", target);
  }
  return true;
}

bool PivotRoot(int rootfd, RootfsError* error) {
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching
  // it leaves only the sandbox's tree, without needing a put_old directory.
  if (::fchdir(rootfd) != 0) return Failed(error, "chdir", "to new root");
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return Failed(error, "pivot_root", nullptr);
  if (::umount2(".", MNT_DETACH) != 0) return Failed(error, "detach old root", nullptr);
  if (::chdir("/") != 0) return Failed(error, "chdir", "/");
  return true;
}

bool MaskPaths(RootfsError* error) {
  for (const char* const* p = kMaskedPaths; *p; ++p) {
    struct stat st;
    if (::lstat(*p, &st) != 0) continue;  // not on this kernel
    int rc = S_ISDIR(st.st_mode) ? ::mount("tmpfs", *p, "tmpfs", MS_RDONLY, "size=0")
                                 : ::mount("/dev/null", *p, nullptr, MS_BIND, nullptr);
    if (rc != 0) return Failed(error, "mask", *p);
  }
  for (const char* const* p = kReadOnlyPaths; *p; ++p) {
    if (::access(*p, F_OK) != 0) continue;
    if (::mount(*p, *p, nullptr, MS_BIND | MS_REC, nullptr) != 0 ||
        ::mount(nullptr, *p, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | kProcFlags, nullptr) != 0) {
      return Failed(error, "make read-only", *p);
    }
  }
  return true;
}

}  // namespace

bool SetUpRootfs(const ChildPlan& plan, RootfsError* error) {
  if (!SetUpWritableLayer(plan, error)) return false;
  Fd root(::open(plan.rootfs_dir, O_DIRECTORY | O_CLOEXEC));
  if (root.fd < 0) return Failed(error, "open", plan.rootfs_dir);
  if (!MountInRoot(root.fd, "/proc", "proc", kProcFlags, nullptr, error)) return false;
  if (!MountInRoot(root.fd, "/sys", "sysfs", kProcFlags | MS_RDONLY, nullptr, error)) return false;
  if (!SetUpDev(root.fd, error)) return false;
  char staged[4096];
  for (int i = 0; i < plan.file_count; ++i) {
    const ChildFile& f = plan.files[i];
    ::stpcpy(::stpcpy(::stpcpy(staged, plan.staging_dir), "/"), f.staging);
    if (!BindInRoot(root.fd, staged, f.path, true, false, error)) return false;
  }
  for (int i = 0; i < plan.bind_count; ++i) {
    const ChildBind& b = plan.binds[i];
    if (!BindInRoot(root.fd, b.source, b.target, b.is_file, b.read_only, error)) return false;
  }
  if (!PivotRoot(root.fd, error)) return false;
  return MaskPaths(error);
}

}  // namespace slipway
