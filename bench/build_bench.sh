#!/usr/bin/env bash
# Usage: bench/build_bench.sh             (needs root)
#   ITER=N          timed rounds (default 10; every tool, cold then cached, once a round)
#   FILES=N         files in the context's app/ directory (default 200)
#   BAZEL_FLAGS=... how to build slipway (default "-c opt")
#
# Image builds from one Dockerfile (a few COPY and RUN steps on busybox, see
# below), side by side in one run:
#   slipway build                 (through a private slipwayd)
#   buildah bud --layers          (vfs storage, --isolation chroot, private --root/--runroot)
#   docker build                  (a private dockerd, bench/lib/dockerd.sh; the legacy
#                                  builder, DOCKER_BUILDKIT=0, when buildx is missing)
# each timed twice a round, as the wall time of the whole CLI invocation:
#   cold    every step runs: the store holds only the base image (busybox,
#           the same rootfs for all three) and the tool's build cache is
#           empty (untimed before: remove the image and what the last build
#           left: `slipway rmi` + `slipway image prune -f`; `buildah rmi` +
#           `buildah rmi --prune`; `docker rmi` + `docker image prune -f` +
#           `docker builder prune -af`), and the build runs with --no-cache
#   cached  the same build again right after: every step comes from the cache
# The median of ITER runs of each is reported. Targets (issue 5): the fully
# cached slipway build in at most 50 ms; slipway's cold build no slower than
# buildah's.
#
# Everything lives in a temp dir (slipwayd's data and state, buildah's store,
# dockerd's data root) and is stopped (by pid) and removed at exit; cgroups
# are named slipway-bench-<pid>-*. A peer that cannot be set up is skipped
# and the reason printed.
set -euo pipefail

iter=${ITER:-10}
nfiles=${FILES:-200}
read -r -a bazel_flags <<<"${BAZEL_FLAGS:--c opt}"
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

. "$repo/bench/lib/common.sh"    # bench_init, bench_workdir, bench_cleanup_dirs
bench_init build_bench.sh "namespaces, mounts, cgroups" python3 bazel curl
. "$repo/bench/lib/dockerd.sh"    # dockerd_start, dockerd_stop
. "$repo/bench/lib/slipwayd.sh"   # slipwayd_build, slipwayd_start, slipwayd_stop

# Directories under /run that runc and containerd create at fixed paths
# whatever their options say: removed at exit if they did not exist before
# and are empty.
fixed_dirs=(/run/runc /run/containerd/s /run/containerd /run/docker/plugins /run/docker)
absent_before=()
for d in "${fixed_dirs[@]}"; do [ -e "$d" ] || absent_before+=("$d"); done

buildah_cmd=()
cleanup() {
  local d
  slipwayd_stop 15  # containers removed, then SIGTERM by pid
  dockerd_stop 15   # SIGTERM by pid
  if ((${#buildah_cmd[@]})); then
    "${buildah_cmd[@]}" rm --all >/dev/null 2>&1 || true
  fi
  slipwayd_kill_strays "$work" "$tag"  # monitors left behind, anything still in our cgroups
  bench_cleanup_dirs  # unmount below $work, remove it, remove the $tag* cgroups
  for d in "${absent_before[@]}"; do rmdir "$d" 2>/dev/null || true; done
}
bench_workdir slipway-build 512m

echo "== building slipwayd, slipway, slipway-monitor (${bazel_flags[*]})" >&2
slipwayd_build "${bazel_flags[@]}"
slipway=$slipway_bin

echo "== busybox rootfs and its tar in $work" >&2
bash bench/make_rootfs.sh "$work/rootfs" >&2
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

# --- the build context ----------------------------------------------------
ctx="$work/ctx"
mkdir -p "$ctx/app/lib" "$ctx/app/data"
for i in $(seq 1 "$nfiles"); do
  head -c $((512 + i * 37)) /dev/urandom >"$ctx/app/data/f$i.bin"
done
for i in 1 2 3 4 5; do printf '#!/bin/sh\necho lib %s\n' "$i" >"$ctx/app/lib/l$i.sh"; done
chmod 755 "$ctx"/app/lib/*.sh
echo "mode=prod" >"$ctx/config.txt"
cat >"$ctx/Dockerfile" <<'EOF'
FROM busybox
COPY app/ /app/
RUN mkdir -p /out && cp -r /app/lib /out/lib && chmod -R go-w /out
COPY config.txt /etc/app/config.txt
RUN echo built > /out/stamp && chown -R 1000:1000 /out && rm -rf /app/data/f1.bin
ENV MODE=prod
WORKDIR /app
CMD ["sh", "-c", "cat /etc/app/config.txt"]
EOF
echo "   context: $(find "$ctx" -type f | wc -l) files, $(du -sh "$ctx" | cut -f1)" >&2

# --- slipwayd -------------------------------------------------------------
echo "== starting a private slipwayd" >&2
slipwayd_start "$work/slipway-data" "$run/slipway-state" "$tag-slipway" || exit 1
"$slipway" import "$work/busybox.tar" busybox >&2
"$slipway" save -o "$work/busybox.oci.tar" busybox

# --- buildah --------------------------------------------------------------
buildah_skip=""
setup_buildah() {
  if ! command -v buildah >/dev/null; then
    buildah_skip="buildah not installed (tools/install-deps.sh installs it)"
    return 1
  fi
  buildah_cmd=(buildah --root "$work/buildah/root" --runroot "$run/buildah" --storage-driver vfs)
  local id
  # The same base image as slipway's: its OCI archive.
  if ! id=$("${buildah_cmd[@]}" pull -q "oci-archive:$work/busybox.oci.tar" 2>"$work/buildah.err") ||
     ! "${buildah_cmd[@]}" tag "$id" docker.io/library/busybox:latest 2>>"$work/buildah.err"; then
    buildah_skip="buildah pull failed: $(tail -n 3 "$work/buildah.err" | tr '\n' ' ')"
    buildah_cmd=()
    return 1
  fi
}
echo "== setting up a private buildah store (vfs)" >&2
setup_buildah || echo "buildah skipped: $buildah_skip" >&2

# --- docker ---------------------------------------------------------------
docker_ok=""
docker_builder="BuildKit"
start_docker() {
  dockerd_start "$work/docker-data" "$run/docker" --cgroup-parent "/$tag-docker" || return 1
  if ! "$docker_bin" -H "$docker_host" import "$work/busybox.tar" busybox:latest >/dev/null 2>"$work/docker-import.err"; then
    docker_skip="docker import failed: $(cat "$work/docker-import.err")"
    return 1
  fi
  if ! "$docker_bin" buildx version >/dev/null 2>&1; then
    export DOCKER_BUILDKIT=0
    docker_builder="legacy builder (DOCKER_BUILDKIT=0: no buildx)"
  fi
  docker_ok=1
}
echo "== starting a private dockerd" >&2
start_docker || echo "docker skipped: $docker_skip" >&2

# --- timing ---------------------------------------------------------------
# Each tool: a reset (untimed), the cold build, the cached one.
reset_slipway() {
  "$slipway" rmi -f bench:1 >/dev/null 2>&1 || true
  "$slipway" image prune -f >/dev/null
}
cold_slipway() { "$slipway" build --no-cache -t bench:1 "$ctx"; }
cached_slipway() { "$slipway" build -t bench:1 "$ctx"; }
reset_buildah() {
  "${buildah_cmd[@]}" rmi -f localhost/bench:1 >/dev/null 2>&1 || true
  "${buildah_cmd[@]}" rmi --prune >/dev/null 2>&1 || true
}
buildah_bud() {
  "${buildah_cmd[@]}" bud --pull-never --isolation chroot --layers "$@" -t bench:1 -f "$ctx/Dockerfile" "$ctx"
}
cold_buildah() { buildah_bud --no-cache; }
cached_buildah() { buildah_bud; }
reset_docker() {
  "$docker_bin" -H "$docker_host" rmi -f bench:1 >/dev/null 2>&1 || true
  "$docker_bin" -H "$docker_host" image prune -f >/dev/null
  "$docker_bin" -H "$docker_host" builder prune -af >/dev/null 2>&1 || true
}
cold_docker() { "$docker_bin" -H "$docker_host" build --no-cache -t bench:1 "$ctx"; }
cached_docker() { "$docker_bin" -H "$docker_host" build -t bench:1 "$ctx"; }

tools=(slipway)
((${#buildah_cmd[@]})) && tools+=(buildah)
[ -n "$docker_ok" ] && tools+=(docker)
samples="$work/samples"
: >"$samples"

# timed KIND TOOL: runs KIND_TOOL, appends "TOOL KIND MS" to $samples; its
# output goes to $work/last.log (printed if it fails).
timed() {
  local start end
  start=$EPOCHREALTIME
  if ! "$1_$2" >"$work/last.log" 2>&1; then
    echo "build_bench.sh: $1 build with $2 failed:" >&2
    tail -n 20 "$work/last.log" >&2
    exit 1
  fi
  end=$EPOCHREALTIME
  python3 -c 'import sys; print(sys.argv[1], sys.argv[2], "%.1f" % ((float(sys.argv[4]) - float(sys.argv[3])) * 1000))' \
    "$2" "$1" "$start" "$end" >>"$samples"
}

echo "== warm-up: one untimed cold and cached build per tool" >&2
for t in "${tools[@]}"; do
  "reset_$t"
  "cold_$t" >"$work/last.log" 2>&1 || { echo "$t cold build failed:" >&2; tail -n 20 "$work/last.log" >&2; exit 1; }
  "cached_$t" >"$work/last.log" 2>&1 || { echo "$t cached build failed:" >&2; tail -n 20 "$work/last.log" >&2; exit 1; }
done

echo "== timing $iter rounds (${tools[*]}; the order rotates every round)" >&2
for round in $(seq 1 "$iter"); do
  n=${#tools[@]}
  for k in $(seq 0 $((n - 1))); do
    t=${tools[$(((k + round) % n))]}
    "reset_$t"
    timed cold "$t"
    timed cached "$t"
  done
  echo "   round $round/$iter done" >&2
done
# The last cached build of each tool must have taken every step from the cache.
for t in "${tools[@]}"; do
  "cached_$t" >"$work/check.log" 2>&1
  case $t in
    slipway | docker) grep -q "Using cache" "$work/check.log" || echo "warning: $t's cached build used no cache" >&2 ;;
  esac
done

docker_note=""
[ -n "$docker_ok" ] && docker_note="docker: $("$docker_bin" -H "$docker_host" version --format '{{.Server.Version}}'), $docker_builder"
buildah_note=""
((${#buildah_cmd[@]})) && buildah_note="$(buildah --version)"
python3 - "$samples" "$iter" "$nfiles" "$buildah_skip" "$docker_skip" "$buildah_note" "$docker_note" <<'EOF'
import statistics, sys
path, iters, nfiles, buildah_skip, docker_skip, buildah_note, docker_note = sys.argv[1:]
samples = {}
for line in open(path):
    tool, kind, ms = line.split()
    samples.setdefault((tool, kind), []).append(float(ms))
tools = [t for t in ("slipway", "buildah", "docker") if (t, "cold") in samples]
print(f"build_bench: Dockerfile with 2 COPY + 2 RUN (+ENV, WORKDIR, CMD) on busybox, context of {int(nfiles) + 7} files;"
      f" median of {iters} runs, wall time of the whole CLI, ms")
print(f"{'tool':<10}{'cold':>10}{'cold min':>10}{'cached':>10}{'cached min':>12}")
med = {}
for t in tools:
    c, w = samples[(t, "cold")], samples[(t, "cached")]
    med[t] = (statistics.median(c), statistics.median(w))
    print(f"{t:<10}{med[t][0]:>10.1f}{min(c):>10.1f}{med[t][1]:>10.1f}{min(w):>12.1f}")
if buildah_skip: print("buildah skipped:", buildah_skip)
if docker_skip: print("docker skipped:", docker_skip)
if buildah_note: print(buildah_note)
if docker_note: print(docker_note)
s = med["slipway"]
ok = s[1] <= 50.0
print(f"target: slipway fully cached <= 50 ms: {s[1]:.1f} ms -> {'met' if ok else 'NOT met'}")
if "buildah" in med:
    b = med["buildah"][0]
    print(f"target: slipway cold <= buildah cold: {s[0]:.1f} vs {b:.1f} ms ({s[0] / b:.2f}x) -> "
          f"{'met' if s[0] <= b else 'NOT met'}")
EOF
