#include "engine/base/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "engine/base/ascii.h"
#include "engine/base/fd.h"

namespace slipway {

Result<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + path);
  return ReadAll(fd.get(), path);
}

Result<std::string> ReadAll(int fd, const std::string& what) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read " + what);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FileErrnoStatus(errno, "write " + path, path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

std::string MountPointOf(const std::string& path) {
  std::string at = path;
  struct stat st;
  while (::stat(at.c_str(), &st) != 0) {  // a file not created yet: its parent
    size_t slash = at.find_last_of('/');
    if (slash == std::string::npos || at == "/") return "";
    at = slash == 0 ? "/" : at.substr(0, slash);
  }
  char resolved[PATH_MAX];
  if (::realpath(at.c_str(), resolved) == nullptr) return "";
  std::string mount = resolved;
  dev_t dev = st.st_dev;
  while (mount != "/") {
    size_t slash = mount.find_last_of('/');
    std::string parent = slash == 0 ? "/" : mount.substr(0, slash);
    struct stat pst;
    if (::stat(parent.c_str(), &pst) != 0 || pst.st_dev != dev) break;
    mount = parent;
  }
  return mount;
}

std::string FilesystemFullNote(const std::string& path) {
  std::string mount = MountPointOf(path);
  return mount.empty() ? "" : " (the filesystem at " + mount + " is full)";
}

Status FileErrnoStatus(int err, const std::string& what, const std::string& fs_path) {
  Status st = Status::FromErrno(err, what);
  if (err != ENOSPC && err != EDQUOT) return st;
  return Status(Code::kResourceExhausted, st.message() + FilesystemFullNote(fs_path));
}

Status FsyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + dir);
  if (::fsync(fd.get()) != 0) return ErrnoStatus("fsync " + dir);
  return Status::Ok();
}

Status RenameNoReplace(const std::string& from, const std::string& to) {
  int rc = ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE);
  if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) rc = ::rename(from.c_str(), to.c_str());
  if (rc == 0) return Status::Ok();
  if (errno == EEXIST || errno == ENOTEMPTY) return AlreadyExists(to + " exists");
  return ErrnoStatus("rename " + from + " to " + to);
}

Status WriteExisting(const std::string& path, std::string_view data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + path);
  return WriteAll(fd.get(), data, path);
}

Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode, bool durable) {
  std::string tmp = path + ".tmp-" + RandomHex(4);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) return ErrnoStatus("create " + tmp);
  Status st = WriteAll(fd.get(), data, tmp);
  if (st.ok() && durable && ::fsync(fd.get()) != 0) st = ErrnoStatus("fsync " + tmp);
  fd.reset();
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) st = ErrnoStatus("rename " + tmp + " to " + path);
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
}

Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return InvalidArgument("mkdir: empty path");
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) return ErrnoStatus("mkdir " + prefix);
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat " + path);
  if (!S_ISDIR(st.st_mode)) return InvalidArgument("mkdir " + path + ": exists and is not a directory");
  return Status::Ok();
}

namespace {
thread_local std::string g_remove_error;

int RemoveEntry(const char* path, const struct stat*, int type, struct FTW*) {
  int rc = (type == FTW_DP) ? ::rmdir(path) : ::unlink(path);
  if (rc != 0 && errno != ENOENT) {
    g_remove_error = std::string(type == FTW_DP ? "rmdir " : "unlink ") + path + ": " + std::strerror(errno);
    return 1;
  }
  return 0;
}
}  // namespace

Status RemoveTree(const std::string& path) {
  g_remove_error.clear();
  int rc = ::nftw(path.c_str(), RemoveEntry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  if (rc == 0) return Status::Ok();
  if (rc < 0 && errno == ENOENT) return Status::Ok();
  if (!g_remove_error.empty()) return Internal(g_remove_error);
  return ErrnoStatus("remove " + path);
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(d);
  return names;
}

Result<std::vector<std::string>> ListDirAt(int fd, const std::string& path) {
  // fdopendir takes over the fd it is given: hand it a duplicate.
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return ErrnoStatus("fcntl F_DUPFD_CLOEXEC " + path);
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return ErrnoStatus("fdopendir " + path);
  }
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    dirent* de = ::readdir(d);
    if (!de) break;
    std::string_view name = de->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return Status::FromErrno(err, "readdir " + path);
  return names;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Result<UniqueFd> LockFile(const std::string& path, int operation) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return ErrnoStatus("open " + path);
  while (::flock(fd.get(), operation) != 0) {
    if (errno != EINTR) return ErrnoStatus("flock " + path);
  }
  return fd;
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  return HexEncode(raw);
}

}  // namespace slipway
