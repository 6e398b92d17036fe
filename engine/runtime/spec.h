// What a sandbox runs and under which limits. Plain data, validated by
// ValidateSpec() before anything is created.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "engine/runtime/capabilities.h"
#include "engine/runtime/cgroup.h"

namespace slipway {

// -v HOST:CTR[:ro]
struct BindMount {
  std::string source;  // absolute host path; must exist
  std::string target;  // absolute path inside the sandbox; created if missing
  bool read_only = false;
};
// Parses Docker's "-v HOST:CTR[:ro|rw]" form.
Result<BindMount> ParseBindMount(const std::string& text);

enum class NetworkMode {
  kPrivate,    // a new network namespace with only loopback, up (--network none)
  kContainer,  // the network namespace of another running sandbox (--network container:NAME)
  // The host's own network namespace, as Docker's --network host: the
  // sandbox sees and uses the host's interfaces, addresses, routes and ports.
  // /etc/resolv.conf is the host's, unchanged (loopback name servers are
  // reachable from here); /etc/hosts is the host's plus "127.0.1.1 HOSTNAME"
  // for the sandbox's own hostname. Every other namespace is still the
  // sandbox's own (pid, mount, uts, so its own hostname, ipc, cgroup), and so
  // are seccomp and capabilities; /proc/sys stays read-only, so it cannot
  // change the host's network sysctls, and without CAP_NET_ADMIN (not in the
  // default set) it cannot reconfigure interfaces or routes.
  // Security: there is no network isolation at all. The sandbox can reach
  // every service listening on the host's loopback (databases, metadata
  // proxies, local APIs, slipwayd itself if it listens there), bind the
  // host's ports, and with CAP_NET_RAW (in the default set) see and send raw
  // packets on the host's interfaces. Callers must only use it when a user
  // asked for it explicitly, never as a default or a fallback.
  kHost,
};

struct SandboxSpec {
  std::string name;  // optional; unique among live sandboxes; [a-zA-Z0-9][a-zA-Z0-9_.-]*
  // Read-only layers for the overlay root, topmost first. Never modified.
  std::vector<std::string> lower_dirs;
  std::vector<std::string> argv;  // argv[0] is looked up in the sandbox's PATH
  std::vector<std::string> env;   // KEY=VALUE; PATH and HOSTNAME get defaults
  std::string workdir = "/";      // created if missing
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  std::string hostname;  // default: the first 12 characters of the id

  CgroupLimits limits;
  int64_t storage_bytes = 0;             // size of the writable layer; 0: the tmpfs default
  std::chrono::milliseconds timeout{0};  // 0: none
  // A writable layer that outlives the sandbox, for image builds. Empty (the
  // default): the overlay's upper and work directories are on a tmpfs in the
  // sandbox's mount namespace and vanish with it. Otherwise a directory D:
  // - D must be an absolute path to an existing, empty directory (not a
  //   symlink), owned by the runtime's user (root) and writable by nobody
  //   else (0700 is best: whoever can write to D could swap D/upper for a
  //   symlink before the overlay is mounted), and not on an overlay
  //   filesystem (it cannot hold another overlay's upper).
  // - The runtime creates D/upper (0755: its mode is the mode of the
  //   sandbox's "/") and D/work, mounts the overlay with them (still only in
  //   the sandbox's mount namespace: nothing is ever mounted on the host),
  //   and removes D/work when the sandbox is torn down.
  // - After the sandbox has ended, D/upper holds exactly what the command
  //   changed, as overlayfs records it: a deleted lower entry is a whiteout
  //   (a character device 0/0), a directory that replaced a lower one has
  //   trusted.overlay.opaque="y", a modified lower entry is copied up whole.
  //   Never redirect or metacopy xattrs (mounted with redirect_dir=off,
  //   metacopy=off); other trusted.overlay.* xattrs (origin, impure) only
  //   carry inode bookkeeping. The mount points the runtime needs and the
  //   root lacks (/etc/hosts, /proc, volume targets, ...) are created in a
  //   throwaway layer below the upper, so they are not among the changes; a
  //   missing `workdir` is (it is created by mkdir -p, as Docker's is).
  // - If Start() fails, D is left empty. Otherwise D/upper, D itself, and a
  //   D/work left behind by a sandbox whose owner died before tearing it
  //   down (a lost one), are the caller's to remove.
  // - storage_bytes must be 0: the writable layer is then on D's filesystem,
  //   with no tmpfs to size (use that filesystem's quotas).
  std::string upper_dir;

  NetworkMode network = NetworkMode::kPrivate;
  std::string network_peer;  // name or id, for NetworkMode::kContainer only (empty otherwise)

  std::vector<BindMount> binds;
  CapabilityMask capabilities = DefaultCapabilities();

  // Values replaced by "****" in the sandbox's output before anything
  // records or streams it (the log file, the sink): secrets the command
  // gets in `env`. Each stream is masked on its own (LogMasker), holding
  // back at most the longest value's length. Only a launch's copy of a spec
  // carries them (ContainerService adds them with the secret variables);
  // the spec kept in a container's record has none.
  std::vector<std::string> masked_values;

  bool interactive = false;  // stdin from the caller instead of /dev/null
  // Kill the sandbox when the thread that started it dies (for the one-shot
  // CLI; a daemon must leave this off, it owns sandboxes past any one thread).
  bool kill_on_parent_death = false;
};

// Checks everything that can be checked without creating anything.
Status ValidateSpec(const SandboxSpec& spec);
bool IsValidName(const std::string& name);

}  // namespace slipway
