// The sandbox's seccomp filter: an allow-list comparable to Docker's default
// profile (about 350 syscalls), EPERM for everything else.
//
// The filter is compiled with libseccomp once per process and the resulting
// BPF program is reused for every sandbox: recompiling per container is a
// well-known start-up cost of runc and crun.
#pragma once

#include <linux/filter.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/base/status.h"

namespace slipway {

struct SeccompProgram {
  std::vector<sock_filter> instructions;
  sock_fprog prog{};         // points into `instructions`
  int allowed_syscalls = 0;  // how many syscalls the profile allows
};

// Thread-safe; the first call loads or compiles the program, every later
// call returns the same one. With a `cache_dir` (root-only, e.g. the
// runtime's state directory) the first call looks for the program that an
// earlier process compiled there, and stores it there after compiling: each
// `slipway run` and each monitor is a new process, and compiling costs about
// 2 ms. The cache key covers the profile's rules, libseccomp's version and
// the kernel, so a changed profile or host never loads a stale program.
Result<const SeccompProgram*> DefaultSeccompProgram(const std::string& cache_dir = "");

// Compiles the default profile from scratch, bypassing that cache: what
// DefaultSeccompProgram() does on its first call (benchmarks measure it with
// this). On the heap because `prog` points into `instructions`: a copied
// SeccompProgram would point at the original's buffer.
Result<std::unique_ptr<SeccompProgram>> CompileDefaultSeccompProgram();

// What DefaultSeccompProgram(cache_dir) does on its first call, uncached in
// this process: load from `cache_dir`, or compile and store there.
Result<std::unique_ptr<SeccompProgram>> LoadOrCompileSeccompProgram(const std::string& cache_dir);

// Stores `program` in `cache_dir` unless it is there already (for a process
// whose program came from another directory, or was compiled before).
Status CacheSeccompProgram(const std::string& cache_dir, const SeccompProgram& program);

// Installs `program` in the calling thread (with SECCOMP_FILTER_FLAG_TSYNC).
// Requires no_new_privs (or CAP_SYS_ADMIN). Async-signal-safe: allocates
// nothing, so it may run between clone and execve. Returns 0 or -errno.
int InstallSeccompProgram(const SeccompProgram& program);

}  // namespace slipway
