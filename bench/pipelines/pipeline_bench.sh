#!/usr/bin/env bash
# Usage: bench/pipelines/pipeline_bench.sh     (needs root)
#   RUNS=N           latency runs, one at a time, after 3 warm-up (default 50)
#   TPUT_RUNS=N      runs triggered at once per throughput round (default 100)
#   ROUNDS=N         throughput rounds (default 3)
#   MAX_RUNS=N       slipwayd --max-runs (default 4)
#   BAZEL_FLAGS=...  how to build slipway (default "-c opt")
#   BENCH_JSON=FILE  also write every sample as JSON
#
# Pipelines through a private slipwayd, with a cached image and a local
# (file://) repository:
#   (a) from a trigger accepted (POST /api/v1/repos/bench/runs answered 201)
#       to the first step's process running: the step's first command is
#       /bin/clock-ns (bench/pipelines/clock_ns.c, static), which prints
#       CLOCK_REALTIME; target at most 50 ms median. Also the same from the
#       store's times (step started_at - run queued_at, ms resolution), and a
#       floor measured the same way in the same run: `slipway run --rm
#       busybox clock-ns`, from the CLI's start to clock-ns running.
#   (b) throughput of a one-step `true` pipeline at max_runs 4: TPUT_RUNS
#       runs triggered at once, runs per minute from the first queued to the
#       last finished; median of ROUNDS rounds.
# Printed as Markdown tables (docs/performance.md, "Pipelines").
#
# The slipwayd is private (bench/lib/slipwayd.sh: own data and state dirs,
# a free 127.0.0.1 port, cgroup parent slipway-bench-<pid>); everything it
# started is stopped and everything created removed at exit.
set -euo pipefail

runs=${RUNS:-50}
tput_runs=${TPUT_RUNS:-100}
rounds=${ROUNDS:-3}
max_runs=${MAX_RUNS:-4}
read -r -a bazel_flags <<<"${BAZEL_FLAGS:--c opt}"
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

. "$repo/bench/lib/common.sh"    # bench_init, bench_workdir, bench_cleanup_dirs
bench_init pipeline_bench.sh "slipwayd runs sandboxes" python3 bazel curl git gcc
. "$repo/bench/lib/slipwayd.sh"  # slipwayd_build, slipwayd_start, slipwayd_stop
. "$repo/bench/lib/pipeline_fixture.sh"  # pipeline_fixture: image, repository, slipwayd

cleanup() { slipwayd_cleanup; }  # bench/lib/slipwayd.sh
bench_workdir slipway-pipe 256m  # $work, $tag, and a tmpfs for the run-time state, $run

pipeline_fixture "$max_runs" || exit 1

python3 bench/pipelines/pipeline_bench.py "$slipway_bin" "file://$work/repo.git" "$runs" "$tput_runs" "$rounds" \
  "${BENCH_JSON:-}"
