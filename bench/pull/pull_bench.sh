#!/usr/bin/env bash
# Usage: bench/pull/pull_bench.sh [RUNS]     (default 10; needs root)
#
# Pull + unpack of a five-layer, ~68 MB (compressed) image from a local
# registry into a cold (empty) store, timed side by side in one run,
# interleaved round-robin per iteration:
#   slipway (zlib)  the same with SLIPWAY_GZIP_INFLATER=zlib in slipwayd's
#                   environment: gzip inflated by zlib rather than ISA-L's igzip
#   slipway         `slipway pull` through a private slipwayd (download + unpack
#                   to snapshots); every sample gets a new slipwayd on a new,
#                   empty data dir (bench/lib/slipwayd.sh, driven per sample
#                   by bench/pull/slipwayd_ctl.sh). Starting and stopping
#                   slipwayd is not timed, only the `slipway pull` command.
#                   The registry is on loopback, which slipwayd pulls from
#                   over plain http without further settings.
#   skopeo+umoci    `skopeo copy docker://... oci:FRESH:tag` then
#                   `umoci unpack --image FRESH:tag BUNDLE`; the sum is timed
#   docker          `docker pull` on a private dockerd whose image and layers
#                   were removed (rmi + image prune -af) before each run
# plus the machine's `gzip -dc` over the same layers, the usual bound for
# unpacking: one process for all layers (one core), and one process per
# layer all at once (every core); then the ratios of issue 17's targets
# (bench/pull/pull_bench.py times it all).
# The slipway (zlib) line comes before the slipway line in the table (the
# order rotates each iteration anyway).
#
# Every store (slipwayd's data dirs, skopeo's OCI dirs and umoci's bundles,
# dockerd's data root) lives on a dedicated ext4 filesystem, made for this run
# on a loop device (a preallocated image file in the temp dir, direct I/O so
# the guest page cache is not doubled and syncs reach the disk). Why not /tmp
# directly: here / is an ext4 *without a journal*, and on such a filesystem
# ext4 skips inodes freed in the last minute or more when allocating new ones
# (recently_deleted() in ext4's ialloc.c), one buffer-cache lookup per skipped
# inode. A benchmark that deletes 15,000 files after every sample, on a disk
# where other engineers' builds churn files too, then measures that scan
# (perf showed it at 20% of slipway's cycles) more than the tools. A fresh
# journaled ext4 is what a CI runner usually has. BENCH_FS=host runs on /tmp
# anyway.
#
# Everything else lives in a temp dir too: Debian's docker-registry
# (filesystem storage, plain http on a free 127.0.0.1 port), slipwayd's state
# dirs (its cgroup parent is slipway-bench-<pid>-slipway, a free 127.0.0.1
# port each time) and the private dockerd (own socket and exec root; no
# iptables, no bridge). It is all removed at exit; only processes this script
# started are stopped, by pid.
# The image's OCI layout is built once and cached in /tmp (see make_image.py).
#
# Environment: BENCH_JSON=FILE also writes the raw timings as JSON;
# BENCH_QUICK=1 leaves skopeo+umoci (the slowest, 6 s a sample) out;
# BENCH_FS=loop (default) or host, as above; PULL_BENCH_SHAPE=issue17 pulls
# issue 17's shape instead (3 layers, about 190 MB compressed, two big ones;
# bench/pull/make_image.py), cached apart from the default one.
set -euo pipefail

runs=${1:-10}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

# The peers and the registry are Debian packages (the machine may be new);
# busybox-static makes the image's base layer.
. "$repo/bench/lib/common.sh"    # bench_init, bench_workdir, bench_cleanup_dirs
bench_init pull_bench.sh "chown of layer files, dockerd" python3 bazel gzip curl skopeo umoci docker-registry
registry_pid=""
loopdev=""
. "$repo/bench/lib/dockerd.sh"   # dockerd_start, dockerd_stop
. "$repo/bench/lib/slipwayd.sh"  # slipwayd_build, slipwayd_kill_strays (pull_bench.py starts slipwayd)

stop_pid() {  # PID [SECONDS]: SIGTERM, wait, then SIGKILL
  local pid=$1 tries=$(( ${2:-15} * 10 ))
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 "$tries"); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  dockerd_stop 15  # bench/lib/dockerd.sh: only the dockerd started here, by pid
  stop_pid "$registry_pid" 5
  # pull_bench.py's slipwayd_ctl.sh stops each slipwayd by pid, also when the
  # driver dies; should one have outlived it, its command line names $work.
  slipwayd_kill_strays "$work" "$tag"
  # Everything below $work unmounted (the loop filesystem too), its device
  # detached, and only then $work and the $tag* cgroups (slipwayd's cgroup
  # parent) removed.
  bench_unmount_work
  [ -z "$loopdev" ] || losetup -d "$loopdev" 2>/dev/null || true
  bench_cleanup_dirs
}
# $work (a short path: dockerd's unix sockets live below it) and $tag.
bench_workdir slipway-pull

echo "== building slipwayd, slipway, slipway-monitor (-c opt)" >&2
slipwayd_build -c opt  # bench/lib/slipwayd.sh; leaves the tree's bazel-* symlinks alone

# The image, cached across runs of this script: keyed by the builder's code,
# so editing make_image.py or make_rootfs.sh builds a new one.
shape=${PULL_BENCH_SHAPE:-default}
export PULL_BENCH_SHAPE=$shape
key=$( (cat "$here/make_image.py" bench/make_rootfs.sh; echo "$shape") | sha256sum | cut -c1-16)
layout="/tmp/slipway-pull-bench-image-$key"
echo "== image shape: $shape" >&2
image_tag=1
if [ ! -f "$layout/index.json" ]; then
  echo "== building the image's OCI layout in $layout" >&2
  rm -rf "$layout.tmp"
  bash bench/make_rootfs.sh "$work/base-rootfs" >&2
  python3 "$here/make_image.py" "$layout.tmp" "$image_tag" "$work/base-rootfs" >"$work/layers.json"
  cp "$work/layers.json" "$layout.tmp/bench-layers.json"
  mv "$layout.tmp" "$layout"  # only a complete layout takes the cache's name
else
  echo "== using the cached OCI layout $layout" >&2
fi

# The stores' filesystem (see the top of this file).
stores="$work/runs"
if [ "${BENCH_FS:-loop}" = loop ]; then
  avail_gb=$(df -BG --output=avail /tmp | tail -n 1 | tr -dc 0-9)
  if [ "$avail_gb" -lt 12 ]; then
    echo "pull_bench.sh: only ${avail_gb}G free in /tmp; the loop filesystem needs 8G (BENCH_FS=host to skip it)" >&2
    exit 1
  fi
  # Preallocated, not sparse: writes into holes of the image file would make
  # the host filesystem allocate blocks during the timed runs.
  fallocate -l 8G "$work/fs.img"
  mkfs.ext4 -q -F "$work/fs.img"
  loopdev=$(losetup --find --show --direct-io=on "$work/fs.img")
  mkdir -p "$work/fs"
  mount "$loopdev" "$work/fs"
  stores="$work/fs/runs"
  echo "== stores on a fresh ext4 on $loopdev (direct I/O)" >&2
else
  echo "== stores on the host's $(findmnt -no FSTYPE -T /tmp) at $stores" >&2
fi
mkdir -p "$stores"

# Registry: filesystem storage in the temp dir, plain http on a free port.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
registry="127.0.0.1:$port"
mkdir -p "$work/registry/data"
cat >"$work/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry/data
  delete:
    enabled: true
http:
  addr: $registry
EOF
echo "== starting docker-registry on $registry" >&2
docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://$registry/v2/" >/dev/null 2>&1 && break
  kill -0 "$registry_pid" 2>/dev/null || break
  sleep 0.1
done
curl -fsS "http://$registry/v2/" >/dev/null || {
  echo "pull_bench.sh: the registry did not start: $(tail -n 5 "$work/registry/log")" >&2
  exit 1
}

image="$registry/bench/multilayer:1"
echo "== pushing $image" >&2
skopeo copy --quiet --dest-tls-verify=false "oci:$layout:$image_tag" "docker://$image" >&2

# Docker, if an engine can be started here. A failure only skips docker.
docker_args=()
start_dockerd() {
  # The data root on the stores' filesystem, like every other tool's store.
  local root="$stores/../docker-root"
  mkdir -p "$root"
  root=$(cd "$root" && pwd)
  dockerd_start "$root" "$work/docker" --insecure-registry "$registry" || return 1
  docker_args=(--docker-host "$docker_host" --docker-bin "$docker_bin" --docker-root "$root")
}
echo "== starting a private dockerd" >&2
if ! start_dockerd; then
  echo "docker skipped: $docker_skip" >&2
  docker_args=(--docker-skip-reason "$docker_skip")
fi

echo "== timing $runs iterations" >&2
mkdir -p "$work/slipway-state"
python3 "$here/pull_bench.py" --runs "$runs" --workdir "$stores" --image "$image" --layout "$layout" \
  --slipway "$slipway_bin" --slipwayd "$slipwayd_bin" --slipway-monitor "$monitor_bin" \
  --slipway-state-root "$work/slipway-state" --slipway-cgroup-parent "$tag-slipway" \
  "${docker_args[@]}" ${BENCH_JSON:+--json "$BENCH_JSON"} ${BENCH_QUICK:+--quick}
