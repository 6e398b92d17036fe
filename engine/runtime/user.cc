#include "engine/runtime/user.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <unistd.h>

#include <charconv>
#include <sstream>

#include "engine/base/fd.h"
#include "engine/base/openat2.h"

namespace slipway {

namespace {

// The file at `path` inside the tree rooted at `root`; *found says whether
// it exists (an absent file reads as "").
Result<std::string> ReadInRoot(const std::string& root, const char* path, bool* found) {
  *found = false;
  UniqueFd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return ErrnoStatus("open " + root);
  UniqueFd fd(Openat2(dir.get(), path, O_RDONLY | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS));
  if (!fd) {
    if (errno == ENOENT) return std::string();
    return ErrnoStatus(std::string("open ") + root + path);
  }
  *found = true;
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (16 << 20))
      return InvalidArgument(std::string(path) + " in the image is larger than 16 MiB");
  }
  return out;
}

// The topmost layer's copy of `path` (overlay semantics, whiteouts aside).
Result<std::string> ReadImageFile(const std::vector<std::string>& layers, const char* path) {
  for (const auto& layer : layers) {
    bool found;
    SLIPWAY_ASSIGN_OR_RETURN(std::string content, ReadInRoot(layer, path, &found));
    if (found) return content;
  }
  return std::string();
}

std::vector<std::string> SplitColons(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ':')) out.push_back(field);
  if (!line.empty() && line.back() == ':') out.push_back("");
  return out;
}

bool ParseId(const std::string& s, uint32_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Each line of a passwd- or group-style file, split on ':'.
template <typename F>
void ForEachEntry(const std::string& content, F&& f) {
  std::istringstream in(content);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    f(SplitColons(line));
  }
}

}  // namespace

Result<ResolvedUser> ResolveUser(const std::vector<std::string>& layers, const std::string& user) {
  ResolvedUser out;
  std::string user_part = user, group_part;
  if (size_t colon = user.find(':'); colon != std::string::npos) {
    user_part = user.substr(0, colon);
    group_part = user.substr(colon + 1);
  }
  if (user_part.empty()) user_part = "0";
  SLIPWAY_ASSIGN_OR_RETURN(std::string passwd, ReadImageFile(layers, "/etc/passwd"));
  SLIPWAY_ASSIGN_OR_RETURN(std::string group, ReadImageFile(layers, "/etc/group"));

  uint32_t id;
  bool numeric_user = ParseId(user_part, &id);
  bool found_user = false;
  std::string user_name;
  ForEachEntry(passwd, [&](const std::vector<std::string>& f) {
    uint32_t uid, gid;
    if (found_user || f.size() < 6 || !ParseId(f[2], &uid) || !ParseId(f[3], &gid)) return;
    if (numeric_user ? uid == id : f[0] == user_part) {
      found_user = true;
      user_name = f[0];
      out.uid = uid;
      out.gid = gid;
      out.home = f[5];
    }
  });
  if (!found_user) {
    if (!numeric_user)
      return NotFound("unable to find user " + user_part + ": no matching entries in passwd file");
    out.uid = id;
    out.gid = 0;
  }
  if (!group_part.empty()) {
    bool numeric_group = ParseId(group_part, &id);
    bool found_group = false;
    ForEachEntry(group, [&](const std::vector<std::string>& f) {
      uint32_t gid;
      if (found_group || f.size() < 3 || !ParseId(f[2], &gid)) return;
      if (numeric_group ? gid == id : f[0] == group_part) {
        found_group = true;
        out.gid = gid;
      }
    });
    if (!found_group && !numeric_group) {
      return NotFound("unable to find group " + group_part + ": no matching entries in group file");
    }
    if (!found_group) out.gid = id;
  } else if (!user_name.empty()) {
    // Supplementary groups: every group that lists the user as a member.
    ForEachEntry(group, [&](const std::vector<std::string>& f) {
      uint32_t gid;
      if (f.size() < 4 || !ParseId(f[2], &gid) || gid == out.gid) return;
      std::istringstream members(f[3]);
      std::string m;
      while (std::getline(members, m, ',')) {
        if (m == user_name) out.additional_gids.push_back(gid);
      }
    });
  }
  return out;
}

}  // namespace slipway
