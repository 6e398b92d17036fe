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
. "$repo/bench/lib/pipeline_fixture.sh"  # pipeline_fixture: image, repository, slipwayd

cleanup() { slipwayd_cleanup; }  # bench/lib/slipwayd.sh
bench_workdir slipway-hook 256m  # $work, $tag, and a tmpfs for the run-time state, $run

pipeline_fixture "$max_runs" || exit 1

python3 bench/webhooks/webhook_bench.py "file://$work/repo.git" "$latency_commit" "$true_commit" "$runs" \
  "$burst" "$concurrency" "${BENCH_JSON:-}"
