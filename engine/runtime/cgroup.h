// Cgroups for one sandbox: limits, membership, statistics and removal.
//
// Slipway only ever touches cgroups below a parent of its own, `slipway/`, in
// each hierarchy it uses. Three layouts are supported:
//   v1      - one hierarchy per controller (memory, cpu, cpuacct, pids, devices)
//   hybrid  - the v1 controllers plus a cgroup2 mount without controllers
//             (e.g. /sys/fs/cgroup/unified); the sandbox joins both
//   v2      - the unified hierarchy only; devices are restricted by a BPF
//             program of type BPF_PROG_TYPE_CGROUP_DEVICE
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/status.h"

namespace slipway {

enum class CgroupLayout { kV1, kHybrid, kV2 };
const char* CgroupLayoutName(CgroupLayout layout);

struct CgroupLimits {
  int64_t memory_bytes = 0;  // 0: no limit
  // Memory plus swap, as Docker's --memory-swap: 0 means "same as memory"
  // (no swap at all), -1 means unlimited swap. Ignored without a memory limit.
  int64_t memory_swap_bytes = 0;
  int64_t cpu_millis = 0;  // 0: no limit; 500 is half a CPU
  int64_t cpu_period_us = 100000;
  int64_t pids_max = 0;  // 0: no limit
  // Allow only null, zero, full, random, urandom, tty, console, ptmx and
  // /dev/pts/*, plus mknod of any device (but no access to what it makes),
  // exactly as Docker's default device rules.
  bool restrict_devices = true;
};

struct CgroupStats {
  int64_t cpu_usage_ns = 0;
  int64_t memory_peak_bytes = 0;  // 0 when the kernel does not report a peak
  int64_t oom_kills = 0;          // processes the OOM killer killed in this cgroup
};

// What a cgroup uses right now (for `slipway stats`).
struct CgroupUsage {
  int64_t cpu_usage_ns = 0;
  int64_t memory_bytes = 0;
  int64_t memory_peak_bytes = 0;  // 0 when the kernel does not report a peak
  int64_t pids = 0;               // tasks: processes and threads
};

class Cgroup;

// Knows where the hierarchies are mounted. Detect() once per process.
class CgroupDriver {
 public:
  // Reads /proc/self/mountinfo. `parent` is Slipway's own directory name in
  // every hierarchy ("slipway" by default; tests use their own).
  static Result<CgroupDriver> Detect(const std::string& parent = "slipway");
  // Detect() on the given mountinfo text (tests use it for layouts this
  // machine does not have).
  static Result<CgroupDriver> FromMountinfo(const std::string& mountinfo, const std::string& parent);

  CgroupLayout layout() const { return layout_; }
  // The controllers sandboxes are limited and measured by. v1 and hybrid:
  // those of memory, cpu, cpuacct, pids and devices that have a v1
  // hierarchy. v2: those of memory, cpu and pids the root's
  // cgroup.controllers offers, and devices (a BPF program there, not a
  // controller file).
  std::vector<std::string> Controllers() const;
  // Create <hierarchy>/<parent>/<name> in every hierarchy used, and apply limits.
  // On error nothing is left behind.
  Result<std::unique_ptr<Cgroup>> Create(const std::string& name, const CgroupLimits& limits) const;
  // Applies `limits` to a cgroup Create() made without any (a sandbox
  // prepared ahead gets its limits at hand-over, with its init already a
  // member), and puts the device restriction in place or lifts it as
  // `limits` says (a prepared cgroup is made restricted, as nearly every
  // spec wants it: then nothing is written for it). Call once.
  Status Limit(Cgroup& cg, const CgroupLimits& limits) const;
  // Names of the cgroups that exist below <parent>/ (for removing stale ones).
  std::vector<std::string> List() const;
  // Kill every process in <parent>/<name> and remove it everywhere. Missing is ok.
  Status Remove(const std::string& name) const;
  // Reads what <parent>/<name> uses now, without owning it. kNotFound if it
  // does not exist.
  Result<CgroupUsage> Usage(const std::string& name) const;
  // Where <parent>/<name> lives in each hierarchy (for tests and diagnostics).
  std::vector<std::string> PathsFor(const std::string& name) const;

  // Test hook: restrict devices with the cgroup2 BPF program even when a v1
  // devices controller exists (so the v2 code path runs on a hybrid machine).
  void set_force_bpf_devices(bool force) { force_bpf_devices_ = force; }

 private:
  CgroupLayout layout_ = CgroupLayout::kV2;
  std::string parent_;
  std::string unified_mount_;  // cgroup2 mount point, empty if none
  struct V1Hierarchy {
    std::string mount;                     // e.g. /sys/fs/cgroup/memory
    std::vector<std::string> controllers;  // e.g. {"memory"}
  };
  std::vector<V1Hierarchy> v1_;  // only the hierarchies Slipway uses
  bool force_bpf_devices_ = false;
  friend class Cgroup;

  std::vector<std::string> ParentDirs() const;  // <hierarchy>/<parent> for each
  std::string V1Dir(const std::string& controller, const std::string& name) const;
  bool UseBpfDevices() const;
  Status PrepareParents() const;
  std::unique_ptr<Cgroup> NewCgroup(const std::string& name) const;
  Status Populate(Cgroup& cg, const CgroupLimits& limits) const;
  Status ApplyLimits(const Cgroup& cg, const CgroupLimits& limits) const;
  Status RestrictDevices(Cgroup& cg) const;
  Status LiftDeviceRestriction(Cgroup& cg) const;
};

// One sandbox's cgroup in every hierarchy. The destructor calls Destroy().
class Cgroup {
 public:
  ~Cgroup();
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;

  // Open cgroup.procs files. A child process joins by writing "0" to each of
  // them (async-signal-safe; used between clone and execve).
  const std::vector<int>& procs_fds() const { return procs_raw_; }
  // An O_DIRECTORY fd of the cgroup2 directory for CLONE_INTO_CGROUP, or -1.
  int unified_dir_fd() const { return unified_dir_.get(); }

  Result<CgroupStats> Stats() const;
  // SIGKILL every process in the cgroup (cgroup.kill where the kernel has it).
  Status KillAll() const;
  // Kill, wait until empty, rmdir everywhere. Idempotent.
  Status Destroy();

 private:
  friend class CgroupDriver;
  Cgroup() = default;
  std::string name_;
  std::vector<std::string> dirs_;  // every directory created, v1 and v2
  std::string memory_dir_, cpuacct_dir_, unified_dir_path_;
  CgroupLayout layout_ = CgroupLayout::kV2;
  std::vector<UniqueFd> procs_;
  std::vector<int> procs_raw_;
  UniqueFd unified_dir_;
  UniqueFd device_prog_;  // attached BPF program (v2), detached on Destroy
  bool devices_restricted_ = false;
  bool destroyed_ = false;
};

}  // namespace slipway
