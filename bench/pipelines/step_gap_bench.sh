#!/usr/bin/env bash
# Usage: bench/pipelines/step_gap_bench.sh     (needs root)
#   STEPS=N          steps in the chain (default 21: 20 gaps a run)
#   WORK=CMD         a command each step runs between its two stamps (default
#                    none: a step is about 2 ms; e.g. WORK="sleep 0.05" gives
#                    the staging of the next steps time to finish first)
#   RUNS=N           timed runs of the chain, one at a time, after 1 warm-up
#                    (default 10: 200 gaps)
#   BAZEL_FLAGS=...  how to build slipway (default "-c opt")
#   BENCH_JSON=FILE  also write every sample as JSON
#
# A pipeline step, from its dependency's end to its first process (issue 17:
# under 5 ms median), through a private slipwayd with a cached image and a
# local (file://) repository. The pipeline is a chain: step sNN waits for the
# step before it (the default order), and each step runs
#     clock-ns        its first process: CLOCK_REALTIME in ns when it ran
#     clock-ns        its last: when the step's own work was done
# (bench/pipelines/clock_ns.c, static). A gap is step B's first stamp - step
# A's last stamp, for each B that depends on A: it holds A's shell exiting,
# A's sandbox ending and being recorded, the executor learning of it and
# starting B's container, B's sandbox start and its /bin/sh reaching its
# first command. Median, p10, p90 over every gap of every timed run; also
# the same from the store's times (step started_at - its need's
# finished_at, ms resolution), the whole chain's wall time per step, and
# each gap in three parts from slipwayd's event log (ms): the dependency's
# container recorded exited, the step's started, its first process.
# With perf installed (bench/install-peers.sh), the timed runs are also
# traced with the kernel's exec and exit events: the gap from the
# dependency's init exiting to the step's init exec'ing its command, without
# the step's shell start and first fork that the stamps include.
# Printed as a Markdown table (docs/performance.md, "Pipelines").
#
# The slipwayd is private (bench/lib/slipwayd.sh: own data and state dirs,
# a free 127.0.0.1 port, cgroup parent slipway-bench-<pid>); everything it
# started is stopped and everything created removed at exit.
set -euo pipefail

steps=${STEPS:-21}
work_cmd=${WORK:-}
runs=${RUNS:-10}
read -r -a bazel_flags <<<"${BAZEL_FLAGS:--c opt}"
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

. "$repo/bench/lib/common.sh"    # bench_init, bench_workdir, bench_cleanup_dirs
bench_init step_gap_bench.sh "slipwayd runs sandboxes" python3 bazel curl git gcc
. "$repo/bench/lib/slipwayd.sh"  # slipwayd_build, slipwayd_start, slipwayd_stop
. "$repo/bench/lib/pipeline_fixture.sh"  # pipeline_fixture: image, repository, slipwayd

cleanup() { slipwayd_cleanup; }  # bench/lib/slipwayd.sh
bench_workdir slipway-gap 256m  # $work, $tag, and a tmpfs for the run-time state, $run

# max_runs 1: one run at a time, as the bench triggers them.
pipeline_fixture 1 || exit 1

echo "== the repository: branch chain ($steps steps, each after the one before)" >&2
{
  echo "steps:"
  for i in $(seq 0 $((steps - 1))); do
    if [ -n "$work_cmd" ]; then
      printf '  - name: s%02d\n    image: busybox\n    commands: ["clock-ns", "%s", "clock-ns"]\n' "$i" "$work_cmd"
    else
      printf '  - name: s%02d\n    image: busybox\n    commands: ["clock-ns", "clock-ns"]\n' "$i"
    fi
  done
} >"$work/clone/.slipway.yml"
git -c user.name=bench -c user.email=bench@localhost -C "$work/clone" checkout -q -B chain
git -c user.name=bench -c user.email=bench@localhost -C "$work/clone" commit -q -am chain
git -C "$work/clone" push -q "$work/repo.git" chain

python3 bench/pipelines/step_gap_bench.py "file://$work/repo.git" "$steps" "$runs" "$slipwayd_log" "${BENCH_JSON:-}" \
  "$work/sched.data"
