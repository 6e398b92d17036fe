#!/usr/bin/env bash
# Usage: bench/webhooks/webhook_bench.sh     (needs root)
#   RUNS=N           latency deliveries, one at a time, after 3 warm-up (default 50)
#   BURST=N          deliveries in the burst (default 300)
#   CONCURRENCY=N    deliveries in flight at once during the burst (default 20)
#   MAX_RUNS=N       slipwayd --max-runs (default 4)
#   BAZEL_FLAGS=...  how to build slipway (default "-c opt")
#   BENCH_JSON=FILE  also write every sample as JSON
#
# Webhooks through a private slipwayd, with a cached image and a local
# (file://) repository registered as GitHub's "bench/app":
#   (a) a signed GitHub push delivery POSTed to /hooks/github -> the first
#       step's process running: the step's first command is /bin/clock-ns
#       (bench/pipelines/clock_ns.c, static), which prints CLOCK_REALTIME;
#       target at most 50 ms median. Measured from the POST's start and from
#       its answer.
#   (b) the answer latency of BURST deliveries (distinct pushes of a one-step
#       `true` pipeline, every fifth one a replay answered 200 duplicate)
#       sent CONCURRENCY at a time: median and p99, beside a floor measured
#       in the same run: GET /api/v1/info, alone and during the burst.
# Printed as Markdown tables (docs/performance.md, "Webhooks").
#
# The slipwayd is private (bench/lib/slipwayd.sh); everything it started is
# stopped and everything created removed at exit.
set -euo pipefail

runs=${RUNS:-50}
burst=${BURST:-300}
concurrency=${CONCURRENCY:-20}
max_runs=${MAX_RUNS:-4}
read -r -a bazel_flags <<<"${BAZEL_FLAGS:--c opt}"
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

. "$repo/bench/lib/common.sh"    # bench_init, bench_workdir, bench_cleanup_dirs
bench_init webhook_bench.sh "slipwayd runs sandboxes" python3 bazel git gcc
. "$repo/bench/lib/slipwayd.sh"  # slipwayd_build, slipwayd_start, slipwayd_stop

cleanup() {
  slipwayd_stop 15
  slipwayd_kill_strays "$work" "$tag"
  bench_cleanup_dirs
}
bench_workdir slipway-hook 256m  # $work, $tag, and a tmpfs for the run-time state, $run

echo "== building slipwayd, slipway, slipway-monitor (${bazel_flags[*]})" >&2
slipwayd_build "${bazel_flags[@]}"

echo "== the busybox image, with /bin/clock-ns" >&2
bash bench/make_rootfs.sh "$work/rootfs" >&2
gcc -static -O2 -o "$work/rootfs/bin/clock-ns" bench/pipelines/clock_ns.c
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

echo "== the repository: branches latency (clock-ns) and true" >&2
git_() { git -c user.name=bench -c user.email=bench@localhost -c init.defaultBranch=main "$@"; }
git_ init -q --bare "$work/repo.git"
git_ init -q "$work/clone"
for branch in latency true; do
  command=clock-ns
  [ "$branch" = true ] && command=true
  git_ -C "$work/clone" checkout -q -B "$branch"
  printf 'steps:\n  - name: stamp\n    image: busybox\n    commands: ["%s"]\n' "$command" >"$work/clone/.slipway.yml"
  git_ -C "$work/clone" add .slipway.yml
  git_ -C "$work/clone" commit -q -m "$branch"
  git_ -C "$work/clone" push -q "$work/repo.git" "$branch"
done
latency_commit=$(git_ -C "$work/repo.git" rev-parse latency)
true_commit=$(git_ -C "$work/repo.git" rev-parse true)

echo "== starting a private slipwayd (--max-runs $max_runs)" >&2
slipwayd_start "$work/slipway-data" "$run/slipway-state" "$tag" --max-runs "$max_runs" || exit 1
echo "   on $SLIPWAY_HOST, log $slipwayd_log" >&2
"$slipway_bin" import "$work/busybox.tar" busybox >&2

python3 bench/webhooks/webhook_bench.py "file://$work/repo.git" "$latency_commit" "$true_commit" "$runs" \
  "$burst" "$concurrency" "${BENCH_JSON:-}"
