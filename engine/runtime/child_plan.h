// The parent's side of the sandbox child's plan: every string, fd number and
// flag the child (child.h) reads between clone and execve, prepared in
// advance, since the child may allocate nothing.
#pragma once

#include <string>
#include <vector>

#include "engine/base/status.h"
#include "engine/runtime/child.h"
#include "engine/runtime/network_files.h"
#include "engine/runtime/spec.h"
#include "engine/runtime/state.h"

namespace slipway {

// Everything the child reads, kept alive (and unmoved) until clone returns.
struct PlanStorage {
  std::string hostname, rw_dir, tmpfs_options, upper, work, staging, stubs, stubs_work, rootfs,
      overlay_options, stub_overlay_options, workdir, path_env;
  std::vector<const char*> rw_subdirs;
  std::string hosts, hostname_file, resolv;
  std::vector<ChildFile> files;
  std::vector<std::string> bind_sources, bind_targets;
  std::vector<ChildBind> binds;
  std::vector<std::string> argv_s, env_s;
  std::vector<char*> argv, envp;
  ChildPlan plan{};
};

// Fills `s` for sandbox `id` (its rootfs and rw mount points in
// `state_dir`): the writable layer and overlay options, the /etc files, bind
// mounts, user, capabilities, argv and the environment with Docker's
// defaults (PATH, HOSTNAME, HOME). The caller adds the fds (cgroups, pipes,
// network namespace, seccomp) before the clone. kInvalidArgument if the
// overlay options do not fit in a page (too many layers); a missing bind
// source is named.
Status BuildPlan(const SandboxSpec& spec, const StateDir& state_dir, const std::string& id,
                 const std::string& hostname, NetworkFiles network_files, PlanStorage* s);

}  // namespace slipway
