#include "engine/base/self_exe.h"

#include <limits.h>
#include <unistd.h>

namespace slipway {

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string HelperProgramPath(const std::string& self_exe, const std::string& name) {
  size_t slash = self_exe.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : self_exe.substr(0, slash);
  std::string sibling = dir + "/" + name;
  std::string libexec = dir + "/../libexec/slipway/" + name;
  if (::access(sibling.c_str(), X_OK) != 0 && ::access(libexec.c_str(), X_OK) == 0) return libexec;
  return sibling;
}

}  // namespace slipway
