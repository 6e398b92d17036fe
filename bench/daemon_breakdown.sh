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
bench_init daemon_breakdown.sh "slipwayd, system-wide perf" python3 bazel curl perf
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

# The driver: its pid and slipwayd's are the roots of the process tree kept.
cat >"$work/loop.sh" <<EOF
echo \$\$ >"$work/loop.pid"
for i in \$(seq 1 $runs); do "$slipway_bin" run --rm busybox true; sleep $gap; done
EOF

echo "== $runs runs, $gap s apart, under perf record (tracepoints)" >&2
load_before=$(cut -d' ' -f1 /proc/loadavg)
perf record -q -o "$work/timeline.data" -a \
  -e sched:sched_process_exec -e sched:sched_process_exit -e sched:sched_process_fork \
  -e cgroup:cgroup_attach_task -e syscalls:sys_enter_connect -e syscalls:sys_exit_recvfrom \
  -- bash "$work/loop.sh" >&2
perf script -i "$work/timeline.data" -F comm,pid,tid,cpu,time,event,trace >"$work/timeline.txt" 2>/dev/null
roots="$slipwayd_pid,$(cat "$work/loop.pid")"

echo "== $runs runs, $gap s apart, under perf record (sched_switch, call graphs)" >&2
perf record -q -o "$work/offcpu.data" -a -g -e sched:sched_switch -e sched:sched_process_fork \
  -- bash "$work/loop.sh" >&2
perf script -i "$work/offcpu.data" -F comm,pid,tid,cpu,time,event,trace,ip,sym >"$work/offcpu.txt" 2>/dev/null
roots2="$slipwayd_pid,$(cat "$work/loop.pid")"

echo "Machine: $(nproc) CPUs, kernel $(uname -r); load average $load_before before, $(cut -d' ' -f1 /proc/loadavg) after"
echo "Runs: $runs per recording, $gap s apart"
echo
python3 bench/daemon_breakdown.py timeline "$work/timeline.txt" "$roots"
echo
python3 bench/daemon_breakdown.py offcpu "$work/offcpu.txt" "$roots2" "$runs"
