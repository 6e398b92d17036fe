#!/usr/bin/env bash
# Usage: bench/runtime_start.sh [RUNS]     (default 200; needs root)
#   SLIPWAY_ALT=LABEL=PATH  also time another slipway binary (e.g. an older
#                           build) in the same interleaved run
#   BENCH_JSON=FILE         also write every sample to FILE
#
# Sandbox start-up: wall time from launch to exit of `/bin/true` in a fully
# isolated sandbox (pid/mount/uts/ipc/net/cgroup namespaces, 64 MiB memory,
# 1 CPU, 64 pids, seccomp, Docker's capabilities) under slipway, runc and,
# when a Docker engine can be started here, docker. All three run the same
# busybox rootfs, interleaved in one run (bench/runtime_start.py times them).
#
# Everything lives in a temp dir and in cgroups named slipway-bench-<pid>*:
# a private dockerd (own socket, data and exec roots; no iptables, no bridge),
# runc's state, slipway's state. All of it is removed at exit; only processes
# this script started are stopped, by pid.
set -euo pipefail

runs=${1:-200}
docker_runs=$(( runs < 50 ? runs : 50 ))  # docker is ~10x slower: fewer runs
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
  echo "runtime_start.sh: needs root (namespaces, mounts, cgroups)" >&2
  exit 1
fi
for tool in runc python3 bazel; do
  command -v "$tool" >/dev/null || { echo "runtime_start.sh: $tool not found" >&2; exit 1; }
done

# A short path: dockerd's unix sockets live below it (108-byte limit).
work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
tag="slipway-bench-$$"
dockerd_pid=""
# Runtime state (slipway's, runc's, dockerd's exec root) on a tmpfs of our
# own, as /run is on a usual host. On this kind of VM / is ext4 mounted with
# `discard`, where every removed directory costs a synchronous discard
# request (~0.3 ms each): that would time the disk, not the runtimes.
run="$work/run"

cleanup() {
  local rc=$?
  if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    # SIGTERM lets dockerd stop its own containerd and unmount its layers.
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$dockerd_pid" 2>/dev/null || true
  fi
  # Anything still mounted below the temp dir (a dockerd that died hard):
  # unmount, deepest first, so rm never crosses into a mounted filesystem.
  awk -v w="$work" '$2 == w || index($2, w "/") == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$work"
  # Our cgroups in every hierarchy (slipway and runc remove their leaves;
  # the parents, and docker's, are ours to remove). Deepest first.
  find /sys/fs/cgroup -mindepth 1 -maxdepth 4 -depth -type d -name "${tag}*" 2>/dev/null |
    while read -r d; do
      find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$run"
mount -t tmpfs -o mode=0700,size=256m slipway-bench "$run"

echo "== building slipway" >&2
bazel build //service/cli:slipway >&2
# `bazel info`, not ./bazel-bin: that symlink follows whichever -c mode ran last.
slipway="$(bazel info bazel-bin 2>/dev/null)/service/cli/slipway"

echo "== rootfs and runc bundle in $work" >&2
rootfs="$work/rootfs"
bash bench/make_rootfs.sh "$rootfs" >&2
mkdir -p "$work/bundle" "$run/runc-state"
(cd "$work/bundle" && runc spec)
python3 bench/runtime_start.py bundle --bundle "$work/bundle" --rootfs "$rootfs" \
  --cgroups-path "/$tag-runc/container" --seccomp-source engine/runtime/seccomp.cc >&2

# Docker, if an engine can be started here. A failure only skips docker.
docker_args=()
docker_skip=""
start_dockerd() {
  if ! command -v dockerd >/dev/null; then
    docker_skip="dockerd not installed (apt-get install -y docker.io)"
    return 1
  fi
  # Prefer Debian's client, the same release as Debian's dockerd.
  docker_bin=/usr/bin/docker
  [ -x "$docker_bin" ] || docker_bin=$(command -v docker) || {
    docker_skip="docker client not installed"
    return 1
  }
  # Images and layers on disk as usual (/var/lib/docker); sockets, pid file
  # and container state on the tmpfs (/run/docker).
  local d="$work/docker"
  mkdir -p "$d/data" "$run/docker"
  docker_host="unix://$run/docker/docker.sock"
  dockerd --iptables=false --ip-masq=false --bridge=none \
    --data-root "$d/data" --exec-root "$run/docker/exec" --pidfile "$run/docker/docker.pid" \
    -H "$docker_host" --cgroup-parent "/$tag-docker" >"$d/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 300); do
    "$docker_bin" -H "$docker_host" version >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! "$docker_bin" -H "$docker_host" version >/dev/null 2>&1; then
    docker_skip="dockerd did not start: $(tail -n 3 "$d/dockerd.log" | tr '\n' ' ')"
    return 1
  fi
  # The same rootfs, as a single-layer image.
  if ! tar -C "$rootfs" -c . | "$docker_bin" -H "$docker_host" import - "$tag:latest" >/dev/null 2>"$d/import.err"; then
    docker_skip="docker import failed: $(cat "$d/import.err")"
    return 1
  fi
  docker_args=(--docker-host "$docker_host" --docker-bin "$docker_bin" --docker-image "$tag:latest"
               --docker-runs "$docker_runs")
}
echo "== starting a private dockerd" >&2
if ! start_dockerd; then
  echo "docker skipped: $docker_skip" >&2
  docker_args=(--docker-skip-reason "$docker_skip")
fi

echo "== timing $runs iterations" >&2
python3 bench/runtime_start.py run --runs "$runs" --slipway-state-dir "$run/slipway-state" --rootfs "$rootfs" \
  --slipway "$slipway" --slipway-cgroup-parent "$tag-slipway" \
  --runc-bundle "$work/bundle" --runc-root "$run/runc-state" "${docker_args[@]}" \
  ${SLIPWAY_ALT:+--slipway-alt "$SLIPWAY_ALT"} ${BENCH_JSON:+--json "$BENCH_JSON"}
