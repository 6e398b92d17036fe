#!/usr/bin/env bash
# Usage: bench/api_flood.sh           (needs root: slipwayd runs sandboxes)
#   IDLE=N          idle connections opened and held, no token (default 20000)
#   UPLOADERS=N     clients streaming bodies to POST /api/v1/containers, no token (default 8)
#   BODY_BYTES=N    each body's Content-Length (default 10000000)
#   DURATION=S      seconds the flood lasts (default 30); the script stops by itself
#   BAZEL_FLAGS=... how to build slipway (default "-c opt")
#   BENCH_JSON=FILE also write the figures there
#
# Issue 11's hostile probe at full size, against a private slipwayd on
# 127.0.0.1 (nothing else is ever targeted): IDLE idle connections (held by
# processes of 10,000 each, the open-file limit here being 20,000) and
# UPLOADERS clients streaming BODY_BYTES bodies without waiting for an
# answer, at the same time. Meanwhile GET /healthz and `slipway ps` (with the
# token) are timed every second, alternately, and slipwayd's CPU is sampled
# every second (bench/api_flood.py). What must hold (docs/api.md,
# "Connections and limits"): both answer within a second, and slipwayd stays
# under one core.
#
# The slipwayd is private (bench/lib/slipwayd.sh: own data and state dirs, a
# free 127.0.0.1 port, cgroup parent slipway-bench-<pid>); everything it
# started is stopped and everything created removed at exit.
set -euo pipefail

idle=${IDLE:-20000}
uploaders=${UPLOADERS:-8}
body_bytes=${BODY_BYTES:-10000000}
duration=${DURATION:-30}
read -r -a bazel_flags <<<"${BAZEL_FLAGS:--c opt}"
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

. "$repo/bench/lib/common.sh"    # bench_init, bench_workdir, bench_cleanup_dirs
bench_init api_flood.sh "slipwayd runs sandboxes" python3 bazel curl
. "$repo/bench/lib/slipwayd.sh"  # slipwayd_build, slipwayd_start, slipwayd_stop

cleanup() {
  slipwayd_stop 15
  slipwayd_kill_strays "$work" "$tag"
  bench_cleanup_dirs
}
bench_workdir slipway-flood 64m

echo "== building slipwayd, slipway, slipway-monitor (${bazel_flags[*]})" >&2
slipwayd_build "${bazel_flags[@]}"

echo "== starting a private slipwayd" >&2
slipwayd_start "$work/slipway-data" "$run/slipway-state" "$tag" || exit 1
port=${SLIPWAY_HOST##*:}
echo "   on $SLIPWAY_HOST (pid $slipwayd_pid, open-file limit $(awk '/Max open files/ { print $4 }' \
  "/proc/$slipwayd_pid/limits")), log $slipwayd_log" >&2

echo "== flood: $idle idle connections + $uploaders x $body_bytes-byte bodies for ${duration}s" >&2
out="$work/flood.json"
python3 "$repo/bench/api_flood.py" --port "$port" --pid "$slipwayd_pid" --slipway "$slipway_bin" \
  --idle "$idle" --uploaders "$uploaders" --body-bytes "$body_bytes" --duration "$duration" >"$out"
cat "$out"
metrics=$(curl -fsS "$SLIPWAY_HOST/metrics" | grep -E '^slipway_api_connections' || true)
echo "$metrics" >&2
[ -z "${BENCH_JSON:-}" ] || cp "$out" "$BENCH_JSON"

python3 - "$out" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
ok = (r["healthz"].get("failed", 1) == 0 and r["slipway_ps"].get("failed", 1) == 0
      and r["healthz"].get("max_ms", 1e9) < 1000 and r["slipway_ps"].get("max_ms", 1e9) < 1000
      and (r["slipwayd_cores"]["max_1s"] or 0) < 1.0)
print("holds" if ok else "DOES NOT HOLD", "(healthz and slipway ps within 1 s, slipwayd under one core)")
EOF
