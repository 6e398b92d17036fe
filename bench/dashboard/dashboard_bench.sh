#!/usr/bin/env bash
# Usage: bench/dashboard/dashboard_bench.sh     (needs root)
#   LINES=N          lines of the big step's log (default 10000)
#   CASES=N          JUnit test cases of the big run (default 2000; 1% fail)
#   LOADS=N          page loads of the run page measured (default 5)
#   FLOOD_RATE=N     lines a second the flood step prints (default 10000)
#   FLOOD_SECONDS=N  for how long (default 5)
#   BAZEL_FLAGS=...  how to build slipway (default "-c opt")
#
# The dashboard's run page in headless Chromium (Selenium), against a
# private slipwayd (bench/lib/slipwayd.sh) that ran a real pipeline:
#   (a) the run page of a run whose step printed LINES coloured lines and
#       wrote a JUnit report of CASES cases: first paint, first contentful
#       paint, DOMContentLoaded, the whole log drawn, the tests drawn, and
#       "interactive" (both drawn and the main thread answering a task
#       again), each from the navigation's start, median of LOADS loads;
#   (b) a step printing FLOOD_RATE lines a second for FLOOD_SECONDS, its log
#       followed live by the page: how long after the step ended the page
#       had drawn its last line, and whether every line arrived.
# Printed as Markdown (docs/performance.md, "Dashboard").
set -euo pipefail

lines=${LINES:-10000}
cases=${CASES:-2000}
loads=${LOADS:-5}
flood_rate=${FLOOD_RATE:-10000}
flood_seconds=${FLOOD_SECONDS:-5}
read -r -a bazel_flags <<<"${BAZEL_FLAGS:--c opt}"
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

. "$repo/bench/lib/common.sh"
bench_init dashboard_bench.sh "slipwayd runs sandboxes" python3 bazel curl git chromium chromedriver
. "$repo/bench/lib/slipwayd.sh"

cleanup() { slipwayd_cleanup; }  # bench/lib/slipwayd.sh
bench_workdir slipway-dash 256m

echo "== building slipwayd, slipway, slipway-monitor (${bazel_flags[*]})" >&2
slipwayd_build "${bazel_flags[@]}"
echo "== the busybox image" >&2
bash bench/make_rootfs.sh "$work/rootfs" >&2
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

echo "== the repository: branch big ($lines lines, $cases cases), branch flood" >&2
git_() { git -c user.name=bench -c user.email=bench@localhost -c init.defaultBranch=main "$@"; }
git_ init -q --bare "$work/repo.git"
git_ init -q "$work/clone"
# awk writes the log and the report: one process, no shell loop per line.
cat >"$work/clone/gen.awk" <<'AWK'
BEGIN {
  for (i = 1; i <= lines; i++)
    printf "\033[32mok\033[0m %6d \033[1mstep\033[0m output line with some text to wrap, i=%d\n", i, i
  f = "out/report.xml"
  print "<testsuites><testsuite name=\"bench\">" > f
  for (i = 1; i <= cases; i++) {
    if (i % 100 == 0)
      printf "<testcase classname=\"bench.Suite%d\" name=\"case%d\" time=\"0.%03d\"><failure message=\"expected %d, got %d\">trace %d</failure></testcase>\n", i % 7, i, i % 1000, i, i + 1, i > f
    else
      printf "<testcase classname=\"bench.Suite%d\" name=\"case%d\" time=\"0.%03d\"/>\n", i % 7, i, i % 1000 > f
  }
  print "</testsuite></testsuites>" > f
}
AWK
# FLOOD_RATE lines a second: a burst of rate/10 lines every 100 ms.
cat >"$work/clone/flood.sh" <<'SH'
rate=$1 seconds=$2 n=0 burst=$(( $1 / 10 ))
t=0
while [ $t -lt $(( seconds * 10 )) ]; do
  awk -v from=$n -v count=$burst 'BEGIN { for (i = from + 1; i <= from + count; i++) printf "\033[36mflood\033[0m %d\n", i }'
  n=$(( n + burst )); t=$(( t + 1 )); sleep 0.1
done
SH
git_ -C "$work/clone" checkout -q -B big
printf 'steps:\n  - name: big\n    image: busybox\n    commands: ["mkdir -p out && awk -v lines=%d -v cases=%d -f gen.awk"]\nreports: ["out/*.xml"]\n' \
  "$lines" "$cases" >"$work/clone/.slipway.yml"
git_ -C "$work/clone" add -A && git_ -C "$work/clone" commit -q -m big && git_ -C "$work/clone" push -q "$work/repo.git" big
git_ -C "$work/clone" checkout -q -B flood
printf 'steps:\n  - name: flood\n    image: busybox\n    commands: ["sh flood.sh %d %d"]\n' "$flood_rate" "$flood_seconds" >"$work/clone/.slipway.yml"
git_ -C "$work/clone" add -A && git_ -C "$work/clone" commit -q -m flood && git_ -C "$work/clone" push -q "$work/repo.git" flood

echo "== starting a private slipwayd" >&2
slipwayd_start "$work/slipway-data" "$run/slipway-state" "$tag" || exit 1
"$slipway_bin" import "$work/busybox.tar" busybox >&2
"$slipway_bin" repo add bench --url "file://$work/repo.git" >&2

/usr/bin/python3 bench/dashboard/dashboard_bench.py "$SLIPWAY_HOST" "$SLIPWAY_TOKEN_FILE" "$lines" "$cases" "$loads" \
  "$flood_rate" "$flood_seconds"
