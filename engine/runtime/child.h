// The sandbox's first process, between clone and execve.
//
// The parent prepares a ChildPlan with every string, fd and program the child
// needs, then clones with CLONE_VM | CLONE_VFORK (as posix_spawn does): the
// child shares the parent's memory and must not allocate, lock or touch
// anything but its own stack and the plan. Every step that fails writes a
// ChildReport to `report_fd` and exits; a successful execve closes the
// report pipe (it is O_CLOEXEC), which tells the parent the command runs.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "engine/runtime/capabilities.h"
#include "engine/runtime/seccomp.h"

namespace slipway {

struct ChildBind {
  const char* source;  // host path
  const char* target;  // path inside the sandbox
  bool read_only;
  bool is_file;  // mount target is a file, not a directory
};

struct ChildFile {
  const char* path;     // where it is bound inside the sandbox (/etc/hosts)
  const char* staging;  // where it is written first, on the private tmpfs
  const char* content;
};

struct ChildPlan {
  // Namespaces and cgroups.
  const int* cgroup_procs_fds;
  int cgroup_procs_count;
  // netns_fd >= 0: join that namespace (--network container:NAME). Else
  // new_netns: cloned with CLONE_NEWNET, bring its loopback up. Else the
  // host's namespace, left as it is (--network host).
  int netns_fd;
  bool new_netns;
  const char* hostname;
  bool kill_on_parent_death;

  // Root filesystem.
  const char* rw_dir;             // the writable layer's tmpfs is mounted here
  const char* tmpfs_options;      // "mode=0755,size=..."
  const char* const* rw_subdirs;  // made on the tmpfs; nullptr-terminated
  const char* upper_dir;          // <rw_dir>/upper, or <SandboxSpec::upper_dir>/upper
  const char* staging_dir;        // <rw_dir>/files
  const char* rootfs_dir;         // the overlay is mounted here and becomes /
  const char* overlay_options;
  // With SandboxSpec::upper_dir: an overlay of the lower dirs with the upper
  // <rw_dir>/stubs, in which the mount points are made first; that upper is
  // then the topmost lower dir of the real overlay. nullptr otherwise.
  const char* stub_overlay_options;
  const ChildFile* files;  // /etc/hostname, /etc/hosts, /etc/resolv.conf
  int file_count;
  const ChildBind* binds;
  int bind_count;

  // Process.
  const char* workdir;
  uid_t uid;
  gid_t gid;
  const gid_t* groups;
  int group_count;
  CapabilityMask capabilities;
  const SeccompProgram* seccomp;
  int stdin_fd, stdout_fd, stderr_fd;
  char* const* argv;
  char* const* envp;
  const char* path_env;  // the PATH used to find argv[0]

  int report_fd;
  // A sandbox staged ahead (Runtime::Stage): -1 for none. Just before the
  // exec, with everything else done (root, user, seccomp), the child writes
  // a ChildReport with exit code 0 ("at the gate") and waits for one byte
  // here: 'g' execs; anything else, or EOF (its starter let it go), ends it.
  int gate_fd = -1;
};

// Written to the report pipe when the child fails before the command runs,
// and with exit code 0 at the stages a starter waits for (prepared, at the
// gate).
struct ChildReport {
  int exit_code;  // 127: not found, 126: not executable, 125: set-up failed, 0: a stage reached
  int err;        // errno of the failed call
  char message[768];
};

// The clone entry point; `arg` is a const ChildPlan*. Never returns.
// ChildMain is ChildPrepare then ChildRun.
int ChildMain(void* arg);

// The steps that need no spec: the parent-death signal, the cgroups (the
// first cgroup.procs write waits for an RCU grace period on v1 and hybrid
// hosts) with a cgroup namespace rooted there, and the network. A sandbox
// prepared ahead (Runtime::Prepare) takes them before its spec is known, off
// the critical path. Fails through the report pipe like the rest.
void ChildPrepare(const ChildPlan& plan);
// Everything after ChildPrepare: hostname, root, stdio, user, seccomp, exec.
[[noreturn]] void ChildRun(const ChildPlan& plan);

}  // namespace slipway
