#!/usr/bin/env bash
# Usage: bench/daemon_breakdown.sh        (needs root and perf: bench/install-peers.sh installs it)
#   RUNS=N          runs per recording (default 100)
#   GAP=S           pause between runs in seconds (default 0.05; 0 for back to back)
#   BAZEL_FLAGS=... how to build slipway (default "-c opt")
#
# Where the time of one `slipway run --rm busybox true` through slipwayd
# goes. A private slipwayd (bench/lib/slipwayd.sh) runs the command RUNS times
# under two system-wide perf recordings (bench/daemon_breakdown.py reads them,
# keeping only this run's processes):
#   1. tracepoints only (exec, fork, exit, cgroup_attach_task, connect,
#      recvfrom): a per-run timeline of phases, CLI start to CLI exit, cheap
#      enough not to change what it measures;
#   2. sched_switch with kernel call graphs: where the processes block in
#      the kernel (RCU grace periods, vfork, I/O), per run.
# Everything it started is stopped by pid, and everything created removed.
set -euo pipefail

runs=${RUNS:-100}
gap=${GAP:-0.05}
read -r -a bazel_flags <<<"${BAZEL_FLAGS:--c opt}"
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

. "$repo/bench/lib/common.sh"    # bench_init, bench_workdir, bench_cleanup_dirs
bench_init prof.sh "slipwayd, system-wide perf" python3 bazel curl perf
. "$repo/bench/lib/slipwayd.sh"  # slipwayd_build, slipwayd_start, slipwayd_stop

cleanup() { slipwayd_cleanup; }  # bench/lib/slipwayd.sh
bench_workdir slipway-breakdown 256m  # $work, $tag, and a tmpfs for the run-time state, $run

echo "== building slipwayd, slipway, slipway-monitor (${bazel_flags[*]})" >&2
slipwayd_build "${bazel_flags[@]}"
bash bench/make_rootfs.sh "$work/rootfs" >&2
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

echo "== starting a private slipwayd" >&2
slipwayd_start "$work/slipway-data" "$run/slipway-state" "$tag" || exit 1
"$slipway_bin" import "$work/busybox.tar" busybox >&2
for _ in 1 2 3 4 5; do "$slipway_bin" run --rm busybox true; done  # warm-up
cat >"$work/loop.sh" <<EOS
for i in \$(seq 1 $runs); do "$slipway_bin" run --rm busybox true; sleep $gap; done
EOS
perf record -q -o /tmp/trace/api.data -p $slipwayd_pid --call-graph dwarf,16384 -F 20000 -- sleep 9 & sleep 0.2; bash "$work/loop.sh" >&2; wait
if [ -n "${HOLD:-}" ]; then echo "slipway=$slipway_bin SLIPWAY_HOST=$SLIPWAY_HOST SLIPWAY_TOKEN_FILE=$SLIPWAY_TOKEN_FILE pid=$slipwayd_pid log=$slipwayd_log"; sleep "$HOLD"; fi
