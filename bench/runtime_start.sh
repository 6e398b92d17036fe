#!/usr/bin/env bash
# Usage: bench/runtime_start.sh [RUNS]     (default 200; needs root)
#   SLIPWAY_ALT=LABEL=PATH  also time another binary in the same interleaved
#                           run: a sandbox_run built elsewhere (e.g. from
#                           another commit; told apart by its file name,
#                           sandbox_run), or an old one-shot `slipway` CLI,
#                           one that still has `run --rootfs` (before the CLI
#                           became slipwayd's client), run as
#                           `slipway run --rm --memory 64m --cpus 1
#                           --pids-limit 64 --rootfs ROOTFS /bin/true`
#   BENCH_JSON=FILE         also write every sample to FILE
#
# Sandbox start-up at the engine level: wall time from launch to exit of
# `/bin/true` in a fully isolated sandbox (pid/mount/uts/ipc/net/cgroup
# namespaces, 64 MiB memory without swap, 1 CPU, 64 pids, seccomp, Docker's
# capabilities) under slipway's runtime, runc and, when a Docker engine can be
# started here, docker. All three run the same busybox rootfs, interleaved in
# one run (bench/runtime_start.py times them).
#
# slipway here is bench/runtime/sandbox_run (built -c opt): one process that
# opens the runtime, starts the sandbox, waits for it and removes it, as the
# `slipway run --rm --rootfs` CLI did before it became a client of slipwayd.
# No daemon, no monitor, no image store: the runtime against runc. The path
# through slipwayd (`slipway run --rm IMAGE`) is bench/daemon_start.sh's.
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

. "$repo/bench/lib/common.sh"    # bench_init, bench_workdir, bench_cleanup_dirs
bench_init runtime_start.sh "namespaces, mounts, cgroups" runc python3 bazel
. "$repo/bench/lib/dockerd.sh"   # dockerd_start, dockerd_stop

cleanup() {
  dockerd_stop 15  # bench/lib/dockerd.sh: only the dockerd started here, by pid
  bench_cleanup_dirs  # unmount below $work, remove it, remove the $tag* cgroups
}
# $work (a short path: dockerd's unix sockets live below it), $tag, and the
# runtime state (slipway's, runc's, dockerd's exec root) on a tmpfs, $run.
bench_workdir slipway-bench 256m

echo "== building sandbox_run (-c opt)" >&2
# --symlink_prefix=/: the work tree's bazel-* symlinks are left alone (other
# people may be using them; -c opt would repoint bazel-bin), so the binary's
# path comes from `bazel info`.
bazel build -c opt --symlink_prefix=/ //bench/runtime:sandbox_run >&2
slipway="$(bazel info -c opt bazel-bin 2>/dev/null)/bench/runtime/sandbox_run"

echo "== rootfs and runc bundle in $work" >&2
rootfs="$work/rootfs"
bash bench/make_rootfs.sh "$rootfs" >&2
mkdir -p "$work/bundle" "$run/runc-state"
(cd "$work/bundle" && runc spec)
python3 bench/runtime_start.py bundle --bundle "$work/bundle" --rootfs "$rootfs" \
  --cgroups-path "/$tag-runc/container" --seccomp-source engine/runtime/seccomp.cc >&2

# Docker, if an engine can be started here. A failure only skips docker.
docker_args=()
start_dockerd() {
  # Images and layers on disk as usual (/var/lib/docker); sockets, pid file
  # and container state on the tmpfs (/run/docker).
  dockerd_start "$work/docker/data" "$run/docker" --cgroup-parent "/$tag-docker" || return 1
  # The same rootfs, as a single-layer image.
  if ! tar -C "$rootfs" -c . | "$docker_bin" -H "$docker_host" import - "$tag:latest" >/dev/null 2>"$work/docker/import.err"; then
    docker_skip="docker import failed: $(cat "$work/docker/import.err")"
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
