// Which devices a sandbox may use: Docker's default rules (mknod anything;
// open only null, zero, full, random, urandom, tty, console, ptmx and pts),
// for the cgroup of each sandbox. On cgroup v1 they are written to the devices
// controller; on v2, which has no devices controller, they are a
// BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup, built the way
// runc and crun build theirs.
#pragma once

#include <string>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/status.h"

namespace slipway {

// The rules as devices.allow lines ("c 1:3 rwm"), to write after
// "devices.deny a".
std::vector<std::string> V1DeviceAllowLines();

// Loads the rules as a BPF program; a failure carries the verifier's log.
Result<UniqueFd> LoadDeviceProgram();
// Attaches (BPF_F_ALLOW_MULTI) or detaches the program on the cgroup open as
// `cgroup_fd`; `dir` names it in errors.
Status AttachDeviceProgram(int cgroup_fd, int prog_fd, const std::string& dir);
Status DetachDeviceProgram(int cgroup_fd, int prog_fd, const std::string& dir);

}  // namespace slipway
