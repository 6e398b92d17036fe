#!/usr/bin/env bash
# Usage: bench/daemon_start.sh            (needs root)
#   ITER=N          timed rounds (default 200; every tool once a round)
#   WARMUP=N        untimed runs per tool first (default 5)
#   BENCH_JSON=FILE also write every sample to FILE
#   BAZEL_FLAGS=... how to build slipway (default "-c opt")
#   KEEP_DAEMON=S   after the timing, leave slipwayd running for S seconds (and
#                   print how to reach it), e.g. to trace it
#
#   NOPOOL=0        skip the second slipwayd (--sandbox-pool-size 0)
#
# Container start-up through the daemons: the wall time, from fork to exit,
# of one whole
#   bench/runtime/sandbox_run --rootfs ROOTFS -- true     (the runtime alone: the floor)
#   slipway run --rm busybox true                         (through slipwayd, its sandbox pool on)
#   slipway run --rm busybox true                         (through a second slipwayd, pool size 0)
#   runc run                                              (bundle on ROOTFS, as bench/runtime_start.sh)
#   docker run --rm --network none busybox true           (through dockerd)
#   podman --runtime runc run --rm --network none \
#     --ulimit nproc=1024:1024 --ulimit nofile=1024:1024 busybox true
# side by side, interleaved in one run (bench/daemon_start.py times them),
# all three on the same busybox rootfs (bench/make_rootfs.sh) imported as a
# one-layer image.
#
# Everything is private and lives in a temp dir: a slipwayd (own data and
# state dirs, cgroup parent slipway-bench-<pid>-slipway, a free 127.0.0.1
# port), a dockerd (bench/lib/dockerd.sh: own data root, exec root, socket;
# no iptables, no bridge; cgroup parent slipway-bench-<pid>-docker) and a
# podman store (own --root/--runroot/--tmpdir and containers.conf /
# storage.conf; cgroupfs, file locks, file event log; cgroup parent
# slipway-bench-<pid>-podman). Run-time state (slipwayd's state dir,
# dockerd's exec root, podman's runroot and tmpdir) is on a tmpfs of our own,
# as /run is on a usual host; data (images, databases, container records) is
# on /tmp's disk, as /var/lib is. A peer that cannot be set up is skipped and
# the reason printed. At exit everything started here is stopped by pid and
# everything created is removed.
set -euo pipefail

iter=${ITER:-200}
warmup=${WARMUP:-5}
read -r -a bazel_flags <<<"${BAZEL_FLAGS:--c opt}"
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

. "$repo/bench/lib/common.sh"    # bench_init, bench_workdir, bench_cleanup_dirs
bench_init daemon_start.sh "namespaces, mounts, cgroups" python3 bazel curl
. "$repo/bench/lib/dockerd.sh"    # dockerd_start, dockerd_stop
. "$repo/bench/lib/slipwayd.sh"   # slipwayd_build, slipwayd_start, slipwayd_stop

# Directories under /run that podman, runc and containerd's shims create at
# fixed paths whatever their options say: removed at exit if they did not
# exist before and are empty.
fixed_dirs=(/run/containers/networks /run/containers /run/runc /run/containerd/s /run/containerd
            /run/docker/plugins /run/docker)
absent_before=()
for d in "${fixed_dirs[@]}"; do [ -e "$d" ] || absent_before+=("$d"); done

nopool_pid=""
cleanup() {
  local d
  slipwayd_stop 15  # bench/lib/slipwayd.sh: containers removed, then SIGTERM by pid
  if [ -n "$nopool_pid" ]; then
    slipwayd_pid=$nopool_pid SLIPWAY_HOST=$nopool_host SLIPWAY_TOKEN_FILE=$nopool_token slipwayd_stop 15
  fi
  dockerd_stop 15   # bench/lib/dockerd.sh: SIGTERM by pid
  slipwayd_kill_strays "$work" "$tag"  # monitors left behind, anything still in our cgroups
  bench_cleanup_dirs  # unmount below $work, remove it, remove the $tag* cgroups
  for d in "${absent_before[@]}"; do rmdir "$d" 2>/dev/null || true; done
}
# $work (a short path: dockerd's unix sockets live below it), $tag, and the
# run-time state on a tmpfs, $run.
bench_workdir slipway-dstart 512m

echo "== building slipwayd, slipway, slipway-monitor (${bazel_flags[*]})" >&2
slipwayd_build "${bazel_flags[@]}"
slipway=$slipway_bin
bazel build "${bazel_flags[@]}" --symlink_prefix=/ //bench/runtime:sandbox_run >&2
sandbox_run="$(bazel info "${bazel_flags[@]}" bazel-bin 2>/dev/null)/bench/runtime/sandbox_run"

echo "== busybox rootfs and its tar in $work" >&2
rootfs="$work/rootfs"
bash bench/make_rootfs.sh "$rootfs" >&2
tar -C "$rootfs" -cf "$work/busybox.tar" .

# --- slipwayd -------------------------------------------------------------
echo "== starting a private slipwayd" >&2
slipwayd_start "$work/slipway-data" "$run/slipway-state" "$tag-slipway" || exit 1
echo "   on $SLIPWAY_HOST, log $slipwayd_log" >&2
"$slipway" import "$work/busybox.tar" busybox >&2
"$slipway" run --rm busybox true || { echo "daemon_start.sh: slipway run failed" >&2; exit 1; }

# The same slipwayd without its pool, beside it: the pool's worth, same run.
nopool_args=()
if [ "${NOPOOL:-1}" != 0 ]; then
  echo "== starting a second private slipwayd, --sandbox-pool-size 0" >&2
  pool_pid=$slipwayd_pid pool_host=$SLIPWAY_HOST pool_token=$SLIPWAY_TOKEN_FILE pool_log=$slipwayd_log
  if slipwayd_start "$work/slipway0-data" "$run/slipway0-state" "$tag-slipway0" --sandbox-pool-size 0; then
    nopool_pid=$slipwayd_pid nopool_host=$SLIPWAY_HOST nopool_token=$SLIPWAY_TOKEN_FILE
    "$slipway" import "$work/busybox.tar" busybox >&2
    nopool_args=(--slipway-nopool-host "$nopool_host" --slipway-nopool-token-file "$nopool_token")
  fi
  slipwayd_pid=$pool_pid slipwayd_log=$pool_log
  export SLIPWAY_HOST=$pool_host SLIPWAY_TOKEN_FILE=$pool_token
fi

# --- the runtime alone, and runc ------------------------------------------
mkdir -p "$run/sandbox-run-state"
sandbox_run_args=(--sandbox-run "$sandbox_run" --sandbox-run-state-dir "$run/sandbox-run-state"
                  --sandbox-run-cgroup-parent "$tag-sandbox-run")
runc_args=()
if command -v runc >/dev/null; then
  mkdir -p "$work/bundle" "$run/runc-state"
  (cd "$work/bundle" && runc spec)
  python3 bench/runtime_start.py bundle --bundle "$work/bundle" --rootfs "$rootfs" \
    --cgroups-path "/$tag-runc/container" --seccomp-source engine/runtime/seccomp.cc >&2
  runc_args=(--runc-bundle "$work/bundle" --runc-root "$run/runc-state")
else
  runc_args=(--runc-skip-reason "runc not installed")
fi

# --- docker ---------------------------------------------------------------
docker_args=()
start_docker() {
  dockerd_start "$work/docker-data" "$run/docker" --cgroup-parent "/$tag-docker" || return 1
  if ! "$docker_bin" -H "$docker_host" import "$work/busybox.tar" busybox:latest >/dev/null 2>"$work/docker-import.err"; then
    docker_skip="docker import failed: $(cat "$work/docker-import.err")"
    return 1
  fi
  docker_args=(--docker-host "$docker_host" --docker-bin "$docker_bin" --docker-image busybox:latest)
}
echo "== starting a private dockerd" >&2
if ! start_docker; then
  echo "docker skipped: $docker_skip" >&2
  docker_args=(--docker-skip-reason "$docker_skip")
fi

# --- podman ---------------------------------------------------------------
# podman has no daemon: each `podman run` opens its store, starts conmon,
# which runs runc. Its own configuration files, so nothing of the machine's
# (containers.conf, storage.conf, /var/lib/containers) is read or written:
# cgroupfs (no systemd here), file locks instead of /dev/shm/libpod_lock,
# events to a file instead of journald.
podman_args=()
podman_skip=""
setup_podman() {
  if ! command -v podman >/dev/null; then
    podman_skip="podman not installed (apt-get install -y podman)"
    return 1
  fi
  local p="$work/podman" r="$run/podman"
  mkdir -p "$p/root" "$p/net" "$p/tmp" "$r/runroot" "$r/tmp"
  cat >"$p/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$r/events.log"
lock_type = "file"
tmp_dir = "$r/tmp"
runtime = "runc"
[network]
network_config_dir = "$p/net"
EOF
  cat >"$p/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$p/root"
runroot = "$r/runroot"
EOF
  podman_env=$(printf '{"CONTAINERS_CONF": "%s", "CONTAINERS_STORAGE_CONF": "%s", "TMPDIR": "%s"}' \
    "$p/containers.conf" "$p/storage.conf" "$p/tmp")
  podman_cmd=(podman --root "$p/root" --runroot "$r/runroot" --tmpdir "$r/tmp"
              --cgroup-manager cgroupfs --events-backend file --runtime runc)
  # `podman import` records the blob in containers/image's blob-info cache,
  # /var/lib/containers/cache for root, whatever --root says: the import runs
  # in a mount namespace of its own where that directory is an empty tmpfs.
  local cache=/var/lib/containers/cache
  [ -d "$cache" ] || cache=/var/lib/containers
  [ -d "$cache" ] || cache=/var/lib
  if ! CONTAINERS_CONF="$p/containers.conf" CONTAINERS_STORAGE_CONF="$p/storage.conf" TMPDIR="$p/tmp" \
       unshare --mount --propagation private sh -c 'mount -t tmpfs slipway-bench "$1" && shift && exec "$@"' \
       sh "$cache" "${podman_cmd[@]}" import "$work/busybox.tar" localhost/busybox:latest \
       >/dev/null 2>"$work/podman-import.err"; then
    podman_skip="podman import failed: $(tail -n 3 "$work/podman-import.err" | tr '\n' ' ')"
    return 1
  fi
  if ! CONTAINERS_CONF="$p/containers.conf" CONTAINERS_STORAGE_CONF="$p/storage.conf" TMPDIR="$p/tmp" \
       "${podman_cmd[@]}" run --cgroup-parent "/$tag-podman" --rm --network none \
       --ulimit nproc=1024:1024 --ulimit nofile=1024:1024 localhost/busybox:latest true \
       >/dev/null 2>"$work/podman-run.err"; then
    podman_skip="podman run failed: $(tail -n 3 "$work/podman-run.err" | tr '\n' ' ')"
    return 1
  fi
  podman_args=(--podman "$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "${podman_cmd[@]}")"
               --podman-env "$podman_env"
               --podman-run-args "[\"--cgroup-parent\", \"/$tag-podman\"]"
               --podman-image localhost/busybox:latest)
}
echo "== setting up a private podman store" >&2
if ! setup_podman; then
  echo "podman skipped: $podman_skip" >&2
  podman_args=(--podman-skip-reason "$podman_skip")
fi

echo "== timing $iter rounds" >&2
python3 bench/daemon_start.py --iter "$iter" --warmup "$warmup" --rootfs "$rootfs" \
  --slipway "$slipway" --slipway-host "$SLIPWAY_HOST" --slipway-token-file "$SLIPWAY_TOKEN_FILE" \
  "${nopool_args[@]}" "${sandbox_run_args[@]}" "${runc_args[@]}" "${docker_args[@]}" "${podman_args[@]}" ${BENCH_JSON:+--json "$BENCH_JSON"}

if [ -n "${KEEP_DAEMON:-}" ]; then
  echo "slipwayd (pid $slipwayd_pid) stays up for $KEEP_DAEMON s:" \
    "SLIPWAY_HOST=$SLIPWAY_HOST SLIPWAY_TOKEN_FILE=$SLIPWAY_TOKEN_FILE $slipway ..." >&2
  sleep "$KEEP_DAEMON"
fi
