# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables are for the sourcing script
# Sourced by the bench entry scripts (bench/runtime_start.sh,
# bench/daemon_start.sh, bench/api_read.sh, bench/daemon_breakdown.sh,
# bench/pull/pull_bench.sh): the set-up and clean-up they share.
#
#   . "$repo/bench/lib/common.sh"
#   bench_init NAME WHY TOOL...          # root, the peers installed, TOOLs on PATH
#   cleanup() {                          # the script's own, run at exit
#     ...                                # stop what the script started, by pid
#     bench_cleanup_dirs                 # unmount, remove $work and the $tag* cgroups
#   }
#   bench_workdir PREFIX [TMPFS_SIZE]    # sets work, tag (and run); at exit, cleanup
#
# Sets, for the caller (bench_workdir):
#   work   the temp dir everything of this run lives in, /tmp/PREFIX.XXXXXX
#          (a short path: unix sockets below it are limited to 108 bytes)
#   tag    slipway-bench-<pid>: the prefix of every cgroup this run creates
#          (the cgroup parents the script gives the tools)
#   run    $work/run, a tmpfs of our own for run-time state (only with
#          TMPFS_SIZE): as /run is on a usual host. On this kind of VM / is
#          ext4 mounted with `discard`, where every removed directory costs a
#          synchronous discard request (~0.3 ms each): that would time the
#          disk, not the tools.

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=""
tag=""
run=""

# bench_init NAME WHY TOOL...: exits 1 with "NAME: needs root (WHY)" unless
# root; installs the peers and tools if missing (bench/install-peers.sh,
# apt-get); exits 1 with "NAME: TOOL not found" for the first TOOL not on
# PATH.
bench_init() {
  local name=$1 why=$2 tool
  shift 2
  if [ "$(id -u)" -ne 0 ]; then
    echo "$name: needs root ($why)" >&2
    exit 1
  fi
  bash "$bench_dir/install-peers.sh"
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$name: $tool not found" >&2; exit 1; }
  done
}

# bench_workdir PREFIX [TMPFS_SIZE]: makes the temp dir and sets work and
# tag (see above), then sets the traps: at EXIT, the caller's `cleanup`
# (define it first) runs and the script exits with the status it was
# exiting with; INT and TERM exit 130 (and so run it too). With TMPFS_SIZE
# (e.g. 256m), mounts a tmpfs of that size, mode 0700, on run=$work/run;
# after the traps, so that a failed mount is cleaned up too.
bench_workdir() {
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  tag="slipway-bench-$$"
  trap bench_on_exit EXIT
  trap 'exit 130' INT TERM
  [ -n "${2:-}" ] || return 0
  run="$work/run"
  mkdir -p "$run"
  mount -t tmpfs -o "mode=0700,size=$2" slipway-bench "$run"
}

# bench_on_exit: the EXIT trap (bench_workdir): the caller's cleanup, then
# exit with the status the script had.
bench_on_exit() {
  local rc=$?
  cleanup
  exit "$rc"
}

# bench_unmount_work: unmounts everything still mounted at or below $work
# (the tmpfs; overlays or a dockerd's mounts, of a tool that died hard),
# deepest first, lazily if busy, so that rm never crosses into a mounted
# filesystem. Part of bench_cleanup_dirs; on its own for a caller with
# something to release in between (pull_bench.sh's loop device).
bench_unmount_work() {
  [ -n "$work" ] || return 0
  awk -v w="$work" '$2 == w || index($2, w "/") == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
}

# bench_cleanup_dirs: for the caller's cleanup, after it has stopped what it
# started. Unmounts below $work (bench_unmount_work), removes $work (never
# crossing into another filesystem), and removes this run's cgroups, those
# named $tag*, in every hierarchy, deepest first (the runtimes remove their
# leaves; the parents, and what a peer left, are ours). A no-op before
# bench_workdir.
bench_cleanup_dirs() {
  [ -n "$work" ] && [ -n "$tag" ] || return 0
  bench_unmount_work
  rm -rf --one-file-system "$work"
  find /sys/fs/cgroup -mindepth 1 -maxdepth 4 -depth -type d -name "${tag}*" 2>/dev/null |
    while read -r d; do
      find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
}
