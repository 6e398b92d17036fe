#include "service/daemon/token.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "engine/base/fd.h"
#include "engine/base/fs.h"

namespace slipway::daemon {

namespace {

constexpr size_t kTokenBytes = 32;
constexpr size_t kMinTokenChars = 16;
constexpr size_t kMaxTokenFileBytes = 4096;

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string ModeString(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string_view Trim(std::string_view s) {
  const char* kSpace = " \t\r\n";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

// Checks an open token file before a byte of it is trusted.
Status CheckTokenFile(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus("stat " + path);
  if (!S_ISREG(st.st_mode)) return InvalidArgument("token file " + path + " is not a regular file");
  if (st.st_uid != ::geteuid()) {
    return Status(Code::kPermissionDenied, "token file " + path + " is owned by uid " +
                                               std::to_string(st.st_uid) + ", not by slipwayd's uid " +
                                               std::to_string(::geteuid()));
  }
  if ((st.st_mode & 077) != 0) {
    return Status(Code::kPermissionDenied, "token file " + path + " has mode " + ModeString(st.st_mode) +
                                               ": group or others could read or change it; run chmod 600 " +
                                               path + " (and consider replacing the token)");
  }
  if (st.st_size > static_cast<off_t>(kMaxTokenFileBytes))
    return InvalidArgument("token file " + path + " is too large to hold a token");
  return Status::Ok();
}

Result<std::string> ReadToken(const std::string& path) {
  // O_NOFOLLOW: a symlink planted where the token belongs is refused, not followed.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK));
  if (!fd) {
    if (errno == ELOOP) return InvalidArgument("token file " + path + " is a symlink");
    return ErrnoStatus("open " + path);
  }
  SLIPWAY_RETURN_IF_ERROR(CheckTokenFile(fd.get(), path));
  std::string text(kMaxTokenFileBytes + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read " + path);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  std::string token(Trim(std::string_view(text.data(), got)));
  bool printable = !token.empty();
  for (unsigned char c : token) printable = printable && c > 0x20 && c < 0x7f;
  if (!printable || token.size() < kMinTokenChars) {
    return InvalidArgument("token file " + path + " must hold at least " + std::to_string(kMinTokenChars) +
                           " printable characters without spaces");
  }
  return token;
}

Result<std::string> CreateToken(const std::string& path) {
  const std::string dir = DirName(path);
  if (!PathExists(dir)) SLIPWAY_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  const std::string token = RandomHex(kTokenBytes);
  const std::string tmp = path + ".tmp-" + RandomHex(4);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return ErrnoStatus("create " + tmp);
  // The umask can only take bits away; fchmod makes it exactly 0600 either way.
  Status st = ::fchmod(fd.get(), 0600) == 0 ? Status::Ok() : ErrnoStatus("chmod " + tmp);
  if (st.ok()) st = WriteAll(fd.get(), token, tmp);
  if (st.ok() && ::fsync(fd.get()) != 0) st = ErrnoStatus("fsync " + tmp);
  fd.reset();
  // Never replace: if another slipwayd created the file meanwhile, its token
  // is the one clients already read.
  if (st.ok()) st = RenameNoReplace(tmp, path);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    if (st.code() == Code::kAlreadyExists) return ReadToken(path);
    return st;
  }
  SLIPWAY_RETURN_IF_ERROR(FsyncDir(dir));
  return token;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

Result<std::string> LoadOrCreateToken(const std::string& path) {
  if (path.empty()) return InvalidArgument("token file: empty path");
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) return ReadToken(path);
  if (errno != ENOENT) return ErrnoStatus("stat " + path);
  return CreateToken(path);
}

bool TokenMatches(std::string_view expected, std::string_view header_value) {
  constexpr std::string_view kScheme = "bearer ";
  if (expected.empty() || header_value.size() < kScheme.size()) return false;
  if (!EqualsIgnoreCase(header_value.substr(0, kScheme.size()), kScheme)) return false;
  std::string_view given = header_value.substr(kScheme.size());
  while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
  while (!given.empty() && (given.back() == ' ' || given.back() == '\t')) given.remove_suffix(1);
  // Every byte of `expected` is looked at whatever `given` holds; the length
  // mismatch is folded into the same accumulator instead of returning early.
  volatile unsigned char diff = expected.size() == given.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = diff | (static_cast<unsigned char>(expected[i]) ^ g);
  }
  return diff == 0;
}

}  // namespace slipway::daemon
