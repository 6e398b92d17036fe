// Where the running program is, and where the helper programs installed
// with it are: slipwayd finds slipway-monitor, slipway finds slipway-tools.
#pragma once

#include <string>

namespace slipway {

// readlink(/proc/self/exe), or "" if it cannot be read.
std::string SelfExe();

// The helper program `name` for the program at `self_exe`: `name` in the
// same directory (a build tree, bazel-bin), or, if that is not an
// executable and this is, <that dir>/../libexec/slipway/<name> (the Debian
// package installs /usr/bin/slipway, /usr/sbin/slipwayd and their helpers
// in /usr/libexec/slipway). The sibling path if neither is.
std::string HelperProgramPath(const std::string& self_exe, const std::string& name);

}  // namespace slipway
