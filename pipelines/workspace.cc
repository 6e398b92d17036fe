#include "pipelines/workspace.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/fs.h"

namespace slipway::pipelines {

namespace {

Status CopyFile(int from_dir, int to_dir, const std::string& name, mode_t mode, const std::string& shown) {
  UniqueFd in(::openat(from_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in) return ErrnoStatus("open " + shown);
  UniqueFd out(::openat(to_dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777));
  if (!out) return ErrnoStatus("create copy of " + shown);
  for (;;) {
    ssize_t n = ::sendfile(out.get(), in.get(), nullptr, 1 << 30);
    if (n < 0) return FileErrnoStatus(errno, "copy " + shown, shown);
    if (n == 0) break;
  }
  // The umask may have narrowed the mode open(2) was given.
  if (::fchmod(out.get(), mode & 0777) != 0) return ErrnoStatus("chmod copy of " + shown);
  return Status::Ok();
}

// Copies the entries of directory `from` into directory `to` (both open).
Status CopyDir(int from, int to, const std::string& shown, bool top) {
  UniqueFd listing(::dup(from));
  if (!listing) return ErrnoStatus("dup " + shown);
  DIR* dir = ::fdopendir(listing.release());
  if (dir == nullptr) return ErrnoStatus("opendir " + shown);
  std::unique_ptr<DIR, int (*)(DIR*)> closer(dir, ::closedir);
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || (top && name == ".git")) continue;
    names.push_back(std::move(name));
  }
  if (errno != 0) return ErrnoStatus("readdir " + shown);
  for (const std::string& name : names) {
    std::string path = shown + "/" + name;
    struct stat st;
    if (::fstatat(from, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return ErrnoStatus("stat " + path);
    if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(to, name.c_str(), 0700) != 0) return ErrnoStatus("mkdir copy of " + path);
      UniqueFd sub_from(::openat(from, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub_from) return ErrnoStatus("open " + path);
      UniqueFd sub_to(::openat(to, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub_to) return ErrnoStatus("open copy of " + path);
      SLIPWAY_RETURN_IF_ERROR(CopyDir(sub_from.get(), sub_to.get(), path, false));
      if (::fchmod(sub_to.get(), st.st_mode & 0777) != 0) return ErrnoStatus("chmod copy of " + path);
    } else if (S_ISREG(st.st_mode)) {
      SLIPWAY_RETURN_IF_ERROR(CopyFile(from, to, name, st.st_mode, path));
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(from, name.c_str(), target.data(), target.size());
      if (n < 0) return ErrnoStatus("readlink " + path);
      target.resize(static_cast<size_t>(n));
      if (::symlinkat(target.c_str(), to, name.c_str()) != 0) return ErrnoStatus("symlink copy of " + path);
    }
    // Sockets, fifos and devices have no place in a workspace.
  }
  return Status::Ok();
}

}  // namespace

Status CopyWorkingTree(const std::string& source, const std::string& target) {
  UniqueFd from(::open(source.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!from) return ErrnoStatus("open working tree " + source);
  if (PathExists(target)) return AlreadyExists("workspace " + target + " exists");
  std::string tmp = target + ".tmp-" + RandomHex(6);
  if (::mkdir(tmp.c_str(), 0755) != 0) return ErrnoStatus("mkdir " + tmp);
  UniqueFd to(::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  Status st = to ? CopyDir(from.get(), to.get(), source, true) : ErrnoStatus("open " + tmp);
  if (st.ok()) st = RenameNoReplace(tmp, target);
  if (!st.ok()) {
    (void)RemoveTree(tmp);
    return st.Wrap("copy " + source + " into the workspace");
  }
  return Status::Ok();
}

}  // namespace slipway::pipelines
