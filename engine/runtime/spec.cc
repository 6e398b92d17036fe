#include "engine/runtime/spec.h"

#include <dirent.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace slipway {

bool IsValidName(const std::string& name) {
  if (name.empty() || name.size() > 128 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

static bool IsCleanAbsolute(const std::string& path) {
  if (path.empty() || path[0] != '/' || path.size() >= 4096) return false;
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20) return false;
  }
  return path.find("/../") == std::string::npos && !path.ends_with("/..");
}

Result<BindMount> ParseBindMount(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("invalid volume \"" + text + "\": " + why + " (want HOST:CONTAINER[:ro|rw])");
  };
  BindMount b;
  size_t first = text.find(':');
  if (first == std::string::npos) return bad("missing container path");
  b.source = text.substr(0, first);
  std::string rest = text.substr(first + 1);
  size_t second = rest.find(':');
  b.target = rest.substr(0, second);
  if (second != std::string::npos) {
    std::string mode = rest.substr(second + 1);
    if (mode == "ro")
      b.read_only = true;
    else if (mode != "rw")
      return bad("unknown mode \"" + mode + "\"");
  }
  if (!IsCleanAbsolute(b.source)) return bad("host path must be absolute");
  if (!IsCleanAbsolute(b.target)) return bad("container path must be absolute, without \"..\"");
  if (b.target == "/") return bad("cannot mount over /");
  return b;
}

static Status ValidateLimits(const SandboxSpec& spec) {
  const CgroupLimits& l = spec.limits;
  if (l.memory_bytes < 0) return InvalidArgument("--memory must be positive");
  if (l.memory_bytes > 0 && l.memory_bytes < 6 * 1024 * 1024) {
    return InvalidArgument("--memory must be at least 6m (a sandbox cannot start in less)");
  }
  if (l.memory_swap_bytes != 0 && l.memory_swap_bytes != -1) {
    if (l.memory_bytes == 0) return InvalidArgument("--memory-swap needs --memory");
    if (l.memory_swap_bytes < l.memory_bytes) {
      return InvalidArgument("--memory-swap must be at least --memory (it is memory plus swap), or -1");
    }
  }
  if (l.cpu_millis < 0) return InvalidArgument("--cpus must be positive");
  if (l.pids_max < 0) return InvalidArgument("--pids-limit must be positive");
  if (spec.storage_bytes < 0) return InvalidArgument("--storage-size must be positive");
  if (spec.timeout.count() < 0) return InvalidArgument("--timeout must be positive");
  return Status::Ok();
}

// Whether `dir` has no entries besides "." and "..".
static Result<bool> IsEmptyDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return Status::FromErrno(errno, "opendir " + dir);
  bool empty = true;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    if (::strcmp(e->d_name, ".") != 0 && ::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  int err = errno;
  ::closedir(d);
  if (empty && err != 0) return Status::FromErrno(err, "readdir " + dir);
  return empty;
}

// SandboxSpec::upper_dir: checked here as far as it can be without writing.
static Status ValidateUpperDir(const SandboxSpec& spec) {
  const std::string& dir = spec.upper_dir;
  if (dir.empty()) return Status::Ok();
  if (!IsCleanAbsolute(dir))
    return InvalidArgument("upper directory \"" + dir + "\" must be an absolute path");
  if (spec.storage_bytes != 0) {
    return InvalidArgument("--storage-size cannot be combined with an upper directory (" + dir +
                           "): the writable layer is then on its filesystem, with no tmpfs to size");
  }
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) return Status::FromErrno(errno, "lstat upper directory " + dir);
  if (!S_ISDIR(st.st_mode)) return InvalidArgument("upper directory " + dir + " is not a directory");
  // Whoever can write to it could put a symlink where upper/ is about to be
  // created, and have the sandbox write wherever it points.
  if (st.st_uid != ::geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return InvalidArgument("upper directory " + dir + " must be owned by uid " + std::to_string(::geteuid()) +
                           " and writable by nobody else (mode 0700)");
  }
  struct statfs fs;
  if (::statfs(dir.c_str(), &fs) != 0) return Status::FromErrno(errno, "statfs upper directory " + dir);
  if (fs.f_type == OVERLAYFS_SUPER_MAGIC) {
    return InvalidArgument("upper directory " + dir +
                           " is on an overlay filesystem, which cannot hold an overlay's upper directory: "
                           "use a directory on ext4, xfs, btrfs or tmpfs");
  }
  SLIPWAY_ASSIGN_OR_RETURN(bool empty, IsEmptyDir(dir));
  if (!empty) return InvalidArgument("upper directory " + dir + " is not empty");
  return Status::Ok();
}

Status ValidateSpec(const SandboxSpec& spec) {
  if (!spec.name.empty() && !IsValidName(spec.name)) {
    return InvalidArgument("invalid name \"" + spec.name +
                           "\": use letters, digits, _ . - (starting with a letter or digit)");
  }
  if (spec.argv.empty() || spec.argv[0].empty()) return InvalidArgument("no command given");
  if (spec.lower_dirs.empty()) return InvalidArgument("no root filesystem given");
  for (const std::string& dir : spec.lower_dirs) {
    struct stat st;
    if (!IsCleanAbsolute(dir))
      return InvalidArgument("root filesystem \"" + dir + "\" must be an absolute path");
    if (::stat(dir.c_str(), &st) != 0) return Status::FromErrno(errno, "root filesystem " + dir);
    if (!S_ISDIR(st.st_mode)) return InvalidArgument("root filesystem " + dir + " is not a directory");
  }
  for (const std::string& kv : spec.env) {
    if (kv.find('=') == std::string::npos || kv[0] == '=')
      return InvalidArgument("invalid environment entry \"" + kv + "\": want KEY=VALUE");
    if (kv.find('\0') != std::string::npos) return InvalidArgument("environment entry contains a NUL byte");
  }
  if (!IsCleanAbsolute(spec.workdir))
    return InvalidArgument("working directory \"" + spec.workdir + "\" must be absolute");
  if (spec.hostname.size() > 63) return InvalidArgument("hostname longer than 63 characters");
  for (char c : spec.hostname) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') {
      return InvalidArgument("invalid hostname \"" + spec.hostname + "\"");
    }
  }
  if (spec.network == NetworkMode::kContainer && spec.network_peer.empty()) {
    return InvalidArgument("--network container: needs a sandbox name or id");
  }
  // A peer with any other mode is a caller's mistake (a half-built container:
  // spec?); ignoring it would run the sandbox on a network nobody asked for.
  if (spec.network != NetworkMode::kContainer && !spec.network_peer.empty()) {
    return InvalidArgument("network peer \"" + spec.network_peer +
                           "\" given without --network container:NAME: a peer is only for that mode");
  }
  for (const BindMount& b : spec.binds) {
    struct stat st;
    if (::stat(b.source.c_str(), &st) != 0) return Status::FromErrno(errno, "volume source " + b.source);
    if (!IsCleanAbsolute(b.target) || b.target == "/")
      return InvalidArgument("invalid volume target \"" + b.target + "\"");
  }
  SLIPWAY_RETURN_IF_ERROR(ValidateUpperDir(spec));
  return ValidateLimits(spec);
}

}  // namespace slipway
