// CollectReports: the files a run's `reports:` globs match, found and read
// inside the workspace as hostile ground (docs/tests.md, "Reports").
//
// The workspace is what the steps left, so whoever pushed chose every name,
// link and file type in it. The walk goes from directory descriptor to
// directory descriptor (openat O_NOFOLLOW, fdopendir), never resolving a
// path string again and never following a symlink; it is bounded in entries
// visited, depth and files. Each match is then opened from the workspace's
// descriptor with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS), non-
// blocking (a FIFO must not hang the run), and read only if it is a regular
// file, at most max_file_bytes of it.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>

#include "engine/base/fd.h"
#include "engine/base/openat2.h"
#include "pipelines/test_report.h"
#include "pipelines/utf8.h"
#include "pipelines/when.h"

namespace slipway::pipelines {
namespace {

constexpr size_t kMaxEntriesVisited = 100'000;  // directory entries, all globs together
constexpr int kMaxWalkDepth = 32;               // directories below the workspace
constexpr size_t kMaxFiles = 10'000;            // report files read per run
constexpr int64_t kRunReadFactor = 4;           // a run reads at most 4 files' worth of bytes
constexpr size_t kMaxPathBytes = 1024;          // a report's workspace-relative path
constexpr size_t kMaxWarnings = 100;
constexpr size_t kMaxShownBytes = 200;  // of a glob or path in a warning

// `s` with control characters (C0, DEL, C1) and bytes that are not UTF-8
// written as \xNN, cut past `cap` bytes.
std::string Escaped(std::string_view s, size_t cap) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (out.size() >= cap) {
      out += "\xE2\x80\xA6";
      break;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = Utf8SequenceLength(s, i);
    bool control =
        c < 0x20 || c == 0x7F || (c == 0xC2 && n == 2 && static_cast<unsigned char>(s[i + 1]) < 0xA0);
    if (n == 0 || control) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
      continue;
    }
    out.append(s.substr(i, n));
    i += n - 1;
  }
  return out;
}

// A glob or path for a warning: a name in the workspace is the pusher's,
// and warnings reach terminals.
std::string Shown(std::string_view s) {
  return Escaped(s, kMaxShownBytes);
}

bool Printable(std::string_view s) {
  return Escaped(s, s.size()) == s;
}

bool HasGlobChars(const std::string& component) {
  return component.find_first_of("*?[\\") != std::string::npos;
}

// A glob's components, or an error: absolute, "..", empty, control
// characters. "." and empty components are dropped; consecutive "**" are
// one; a trailing "**" means every file below ("**/*").
Result<std::vector<std::string>> SplitGlob(const std::string& glob) {
  if (glob.empty()) return InvalidArgument("an empty glob");
  if (glob.front() == '/') return InvalidArgument("an absolute path; globs are relative to the workspace");
  if (!Printable(glob) || glob.find('\0') != std::string::npos) {
    return InvalidArgument("control characters in a glob");
  }
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= glob.size()) {
    size_t slash = glob.find('/', start);
    if (slash == std::string::npos) slash = glob.size();
    std::string part = glob.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return InvalidArgument("\"..\" leads out of the workspace");
    if (part == "**" && !parts.empty() && parts.back() == "**") continue;
    parts.push_back(std::move(part));
  }
  if (parts.empty()) return InvalidArgument("names no file");
  if (parts.back() == "**") parts.push_back("*");
  return parts;
}

class ReportWalk {
 public:
  // What the globs matched: regular files to read, and matches refused
  // with the reason (a symlink, a directory, a FIFO...).
  std::set<std::string> files;
  std::map<std::string, std::string> refused;
  bool out_of_entries = false, too_deep = false;

  // Whether the glob matched anything at all.
  bool Match(int root, const std::vector<std::string>& parts) {
    size_t before = files.size() + refused.size();
    matched_again_ = false;
    Walk(root, "", parts, 0, 0);
    return files.size() + refused.size() > before || matched_again_;
  }

 private:
  void Walk(int dir, const std::string& rel, const std::vector<std::string>& parts, size_t i, int depth) {
    const std::string& part = parts[i];
    bool last = i + 1 == parts.size();
    if (part == "**") {
      Walk(dir, rel, parts, i + 1, depth);  // no directory at all
      for (const std::string& name : List(dir)) {
        struct stat st;
        if (!Stat(dir, name, &st) || !S_ISDIR(st.st_mode)) continue;
        Descend(dir, rel, name, parts, i, depth);
      }
      return;
    }
    std::vector<std::string> names;
    if (HasGlobChars(part)) {
      for (std::string& name : List(dir)) {
        if (GlobMatches(part, name)) names.push_back(std::move(name));
      }
    } else {
      names.push_back(part);
    }
    for (const std::string& name : names) {
      struct stat st;
      if (!Stat(dir, name, &st)) continue;
      std::string path = Join(rel, name);
      if (last) {
        Found(path, st);
      } else if (S_ISDIR(st.st_mode)) {
        Descend(dir, rel, name, parts, i + 1, depth);
      } else if (S_ISLNK(st.st_mode)) {
        Refuse(path, "a symbolic link, not followed");
      }
    }
  }

  void Descend(int dir, const std::string& rel, const std::string& name,
               const std::vector<std::string>& parts, size_t i, int depth) {
    if (depth + 1 > kMaxWalkDepth) {
      too_deep = true;
      return;
    }
    UniqueFd sub(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) return;  // replaced since it was listed, or unreadable: not a match
    Walk(sub.get(), Join(rel, name), parts, i, depth + 1);
  }

  void Found(const std::string& path, const struct stat& st) {
    if (S_ISREG(st.st_mode)) {
      if (!files.insert(path).second) matched_again_ = true;
    } else if (S_ISLNK(st.st_mode)) {
      Refuse(path, "a symbolic link, not followed");
    } else if (S_ISDIR(st.st_mode)) {
      Refuse(path, "a directory, not a report");
    } else {
      Refuse(path, "not a regular file");
    }
  }

  void Refuse(const std::string& path, const std::string& why) {
    if (!refused.emplace(path, why).second) matched_again_ = true;
  }

  // fstatat without following; counted against the walk's budget.
  bool Stat(int dir, const std::string& name, struct stat* st) {
    if (!Visit()) return false;
    return ::fstatat(dir, name.c_str(), st, AT_SYMLINK_NOFOLLOW) == 0;
  }

  bool Visit() {
    if (visited_ >= kMaxEntriesVisited) {
      out_of_entries = true;
      return false;
    }
    ++visited_;
    return true;
  }

  // The names in `dir`, as far as the budget goes, sorted.
  std::vector<std::string> List(int dir) {
    std::vector<std::string> names;
    int dup = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return names;
    DIR* d = ::fdopendir(dup);
    if (!d) {
      ::close(dup);
      return names;
    }
    ::rewinddir(d);  // the descriptor may be shared with an earlier listing
    while (dirent* de = ::readdir(d)) {
      std::string_view name = de->d_name;
      if (name == "." || name == "..") continue;
      if (!Visit()) break;
      names.emplace_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  static std::string Join(const std::string& rel, const std::string& name) {
    return rel.empty() ? name : rel + "/" + name;
  }

  size_t visited_ = 0;
  bool matched_again_ = false;
};

// The file's bytes, or why it is not read: more than `max_bytes` (which
// `limit` names). `root` is the workspace.
Result<std::string> ReadReport(int root, const std::string& path, int64_t max_bytes,
                               const std::string& limit) {
  UniqueFd fd(Openat2(root, path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0,
                      RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
  if (!fd) {
    if (errno == ELOOP) return InvalidArgument("a symbolic link, not followed");
    return Status::FromErrno(errno, "open");
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("fstat");
  if (!S_ISREG(st.st_mode)) return InvalidArgument("not a regular file");
  auto too_big = [&](const std::string& size) {
    return InvalidArgument(size + " bytes; at most " + std::to_string(max_bytes) + " are read (" + limit +
                           ")");
  };
  if (st.st_size > max_bytes) return too_big(std::to_string(st.st_size));
  // One byte more than allowed tells a file that grew since fstat.
  const size_t cap = static_cast<size_t>(max_bytes) + 1;
  std::string data(std::min(static_cast<size_t>(st.st_size) + 1, cap), '\0');
  size_t got = 0;
  for (;;) {
    if (got == data.size()) {
      if (got == cap) return too_big("more than " + std::to_string(max_bytes));
      data.resize(std::min(data.size() * 2, cap));
    }
    ssize_t n = ::read(fd.get(), data.data() + got, data.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read");
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  return data;
}

size_t CaseBytes(const TestCase& c) {
  return c.suite.size() + c.class_name.size() + c.name.size() + c.message.size() + c.type.size() +
         c.details.size() + c.system_out.size() + c.system_err.size() + c.file.size() + c.report.size();
}

}  // namespace

CollectedReports CollectReports(const std::string& workspace, const std::vector<std::string>& globs,
                                const ReportLimits& limits) {
  CollectedReports result;
  std::vector<std::string> warnings;
  UniqueFd root(::open(workspace.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    result.warnings.push_back("reports: open the workspace: " + std::string(std::strerror(errno)));
    return result;
  }

  ReportWalk walk;
  for (const std::string& glob : globs) {
    auto parts = SplitGlob(glob);
    if (!parts.ok()) {
      warnings.push_back(Shown(glob) + ": " + parts.status().message());
      continue;
    }
    if (!walk.Match(root.get(), *parts)) warnings.push_back(Shown(glob) + ": matched no file");
  }
  if (walk.out_of_entries) {
    warnings.push_back("reports: more than " + std::to_string(kMaxEntriesVisited) +
                       " directory entries visited; the rest of the workspace was not searched");
  }
  if (walk.too_deep) {
    warnings.push_back("reports: directories deeper than " + std::to_string(kMaxWalkDepth) +
                       " were not searched");
  }

  // Problems with files come in path order, refusals and read errors alike.
  std::map<std::string, std::string> file_warnings = walk.refused;
  size_t bytes = 0, read = 0;
  // Every file may be up to the cap, but not all of them: a run reads at
  // most kRunReadFactor caps' worth.
  const int64_t max_file = std::max<int64_t>(limits.max_file_bytes, 0);
  int64_t read_left = max_file > INT64_MAX / kRunReadFactor ? INT64_MAX : max_file * kRunReadFactor;
  for (const std::string& path : walk.files) {
    if (path.size() > kMaxPathBytes) {
      file_warnings[path] = "a path longer than " + std::to_string(kMaxPathBytes) + " bytes";
      continue;
    }
    if (!Printable(path)) {
      file_warnings[path] = "a name that is not printable UTF-8";
      continue;
    }
    if (read == kMaxFiles) {
      file_warnings[path] = "more than " + std::to_string(kMaxFiles) + " report files; not read";
      continue;
    }
    ++read;
    auto data = read_left < max_file ? ReadReport(root.get(), path, read_left,
                                                  "what the run's earlier reports left of " +
                                                      std::to_string(kRunReadFactor) + " x reports_max_bytes")
                                     : ReadReport(root.get(), path, max_file, "reports_max_bytes");
    if (!data.ok()) {
      file_warnings[path] = data.status().message();
      continue;
    }
    read_left -= static_cast<int64_t>(data->size());
    result.files.push_back(path);
    // The run's limits apply to all files together: this one gets what the
    // earlier ones left.
    ReportLimits left = limits;
    left.max_cases = limits.max_cases - std::min(limits.max_cases, result.cases.size());
    left.max_total_bytes = limits.max_total_bytes - std::min(limits.max_total_bytes, bytes);
    auto cases = ParseJUnitXml(*data, left);
    if (!cases.ok()) {
      file_warnings[path] = cases.status().message();
      continue;
    }
    size_t file_bytes = 0;
    for (TestCase& c : *cases) {
      c.report = path;
      file_bytes += CaseBytes(c);
    }
    if (file_bytes > left.max_total_bytes) {
      file_warnings[path] = "its test cases take more than " + std::to_string(left.max_total_bytes) +
                            " bytes of names and text";
      continue;
    }
    bytes += file_bytes;
    if (result.cases.empty()) {
      result.cases = std::move(*cases);  // the usual single report: taken whole
    } else {
      result.cases.insert(result.cases.end(), std::make_move_iterator(cases->begin()),
                          std::make_move_iterator(cases->end()));
    }
  }
  for (const auto& [path, why] : file_warnings) warnings.push_back(Shown(path) + ": " + why);

  if (warnings.size() > kMaxWarnings) {
    size_t more = warnings.size() - (kMaxWarnings - 1);
    warnings.resize(kMaxWarnings - 1);
    warnings.push_back("reports: " + std::to_string(more) + " more warnings");
  }
  result.warnings = std::move(warnings);
  return result;
}

}  // namespace slipway::pipelines
