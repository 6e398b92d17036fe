#!/usr/bin/env bash
# Usage: bench/promotion/promotion_bench.sh [RUNS]     (default 5; needs root)
#
# Promotion of the ~190 MB (uncompressed; ~60 MB compressed, five layers)
# image of bench/pull (make_image.py) from one local docker-registry (the
# source, where the run's step pulled it) to another (the target), side by
# side, interleaved per iteration:
#   slipway full       `slipway pipeline promote RUN` into an empty target:
#                      every blob pushed, the manifest by digest, the tag, the
#                      signed provenance attached
#   skopeo             `skopeo copy docker://SOURCE docker://TARGET` into an
#                      empty target (blobs and manifest; no provenance)
#   slipway manifest   `slipway pipeline promote RUN` into a target that has
#                      every layer but not the manifest (deleted through the
#                      registry API after a full promotion): only the
#                      manifest, the tag and the provenance move. Target:
#                      under 100 ms.
# Each sample of the first two gets a target registry on fresh, empty
# storage (started and stopped outside the timing). The time is the whole
# command (the CLI, the HTTP call, slipwayd's work). Medians are printed.
#
# Everything lives in a temp dir: the registries (Debian's docker-registry,
# plain http on free 127.0.0.1 ports), a private slipwayd (its own data and
# state dirs, cgroup parent slipway-bench-<pid>), the repository. Only
# processes this script started are stopped, by pid.
#
# Environment: BAZEL_FLAGS (default "-c opt").
set -euo pipefail

runs=${1:-5}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
bench_dir="$repo/bench"
. "$repo/bench/lib/common.sh"
bench_init promotion_bench.sh "slipwayd's sandboxes" python3 bazel curl skopeo docker-registry git
. "$repo/bench/lib/slipwayd.sh"
src_pid=""
dst_pid=""

stop_pid() {  # PID: SIGTERM, wait, then SIGKILL
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  slipwayd_stop 15
  stop_pid "$src_pid"
  stop_pid "$dst_pid"
  slipwayd_kill_strays "$work" "$tag"
  bench_cleanup_dirs
}
bench_workdir slipway-promotion

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# registry_start NAME ADDR: docker-registry on ADDR with storage $work/NAME
# (made empty); sets the pid in ${NAME}_pid.
registry_start() {
  local name=$1 addr=$2 pid
  rm -rf "$work/$name"
  mkdir -p "$work/$name/data"
  cat >"$work/$name/config.yml" <<CONFIG
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/$name/data
  delete:
    enabled: true
http:
  addr: $addr
CONFIG
  docker-registry serve "$work/$name/config.yml" >"$work/$name.log" 2>&1 &
  pid=$!
  printf -v "${name}_pid" '%s' "$pid"
  for _ in $(seq 1 100); do
    curl -fsS "http://$addr/v2/" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "docker-registry $name did not start: $(tail -n 5 "$work/$name.log")" >&2
  return 1
}

read -r -a bazel_flags <<<"${BAZEL_FLAGS:--c opt}"
echo "== building slipwayd, slipway, slipway-monitor (${bazel_flags[*]})" >&2
slipwayd_build "${bazel_flags[@]}"

# The image of bench/pull, cached in /tmp under the same key.
key=$(cat bench/pull/make_image.py bench/make_rootfs.sh | sha256sum | cut -c1-16)
layout="/tmp/slipway-pull-bench-image-$key"
if [ ! -f "$layout/index.json" ]; then
  echo "== building the image's OCI layout in $layout" >&2
  rm -rf "$layout.tmp"
  bash bench/make_rootfs.sh "$work/base-rootfs" >&2
  python3 bench/pull/make_image.py "$layout.tmp" 1 "$work/base-rootfs" >"$layout.tmp.layers.json"
  mv "$layout.tmp" "$layout"
fi

src="127.0.0.1:$(free_port)"
dst="127.0.0.1:$(free_port)"
registry_start src "$src"
registry_start dst "$dst"
image="$src/bench/multilayer:1"
echo "== pushing $image" >&2
skopeo copy --quiet --dest-tls-verify=false "oci:$layout:1" "docker://$image" >&2

echo "== a private slipwayd, and a repository whose run uses and promotes $image" >&2
slipwayd_start "$work/slipway-data" "$work/slipway-state" "$tag" --insecure-registry "$src" \
  --insecure-registry "$dst" --promotion-retries 0 || exit 1
git_() { git -c user.name=bench -c user.email=bench@localhost -c init.defaultBranch=main "$@"; }
git_ init -q --bare "$work/repo.git"
git_ init -q "$work/clone"
cat >"$work/clone/.slipway.yml" <<PIPELINE
steps:
  - name: use
    image: $image
    commands: ["true"]
promote:
  to: $dst/team/app
  image: $image
  tags: [latest]
PIPELINE
git_ -C "$work/clone" add .slipway.yml
git_ -C "$work/clone" commit -q -m bench
git_ -C "$work/clone" push -q "$work/repo.git" main
"$slipway_bin" repo add bench --url "file://$work/repo.git" >/dev/null
run_id=$("$slipway_bin" pipeline run bench --branch main)
for _ in $(seq 1 600); do
  state=$("$slipway_bin" pipeline show "$run_id" --format json |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["status"], r["promotion"]["status"])')
  case $state in "success promoted" | "success failed" | failure* | error* | cancelled* | interrupted*) break ;; esac
  sleep 0.2
done
echo "   run $run_id: $state" >&2
[ "$state" = "success promoted" ] || { "$slipway_bin" pipeline logs "$run_id" _setup >&2; exit 1; }

# ms COMMAND...: runs it (output to $work/last.out), prints its wall time in ms.
ms() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >"$work/last.out" 2>&1 || { echo "failed: $* : $(cat "$work/last.out")" >&2; return 1; }
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
promote() { "$slipway_bin" pipeline promote "$run_id" --format json; }
expect_result() { grep -q "\"result\": *\"$1\"" "$work/last.out" || { echo "want $1: $(cat "$work/last.out")" >&2; return 1; }; }

full=() copy=() manifest=()
for i in $(seq 1 "$runs"); do
  stop_pid "$dst_pid"; registry_start dst "$dst"
  full+=("$(ms promote)"); expect_result promoted
  # The layers stay; the manifest (and with it the tag) goes.
  digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifest_digest"])' "$work/last.out")
  curl -fsS -X DELETE "http://$dst/v2/team/app/manifests/$digest" >/dev/null
  manifest+=("$(ms promote)"); expect_result promoted
  stop_pid "$dst_pid"; registry_start dst "$dst"
  copy+=("$(ms skopeo copy --quiet --src-tls-verify=false --dest-tls-verify=false "docker://$image" \
    "docker://$dst/team/app:latest")")
  echo "   $i/$runs: slipway full ${full[-1]} ms, skopeo ${copy[-1]} ms, slipway manifest-only ${manifest[-1]} ms" >&2
done

median() { printf '%s\n' "$@" | sort -n | python3 -c 'import statistics,sys; print(int(statistics.median(int(l) for l in sys.stdin)))'; }
echo "promotion of $image (~190 MB uncompressed, 5 layers), $runs runs, medians:"
echo "  slipway pipeline promote, empty target:       $(median "${full[@]}") ms"
echo "  skopeo copy, empty target:                    $(median "${copy[@]}") ms"
echo "  slipway pipeline promote, layers present:     $(median "${manifest[@]}") ms   (target < 100 ms)"
