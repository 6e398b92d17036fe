#!/usr/bin/env bash
# Usage: bench/api_read.sh            (needs root; wrk: bench/install-peers.sh installs it)
#   RECORDED=N       containers run to completion first (default 100)
#   RUNNING=N        containers left running (`sleep`) during the test (default 4)
#   WRK_THREADS=N    wrk -t (default 2)
#   WRK_CONNS=N      wrk -c (default 16)
#   WRK_DURATION=D   wrk -d per endpoint (default 10s), after a 2 s warm-up
#   BAZEL_FLAGS=...  how to build slipway (default "-c opt")
#   BENCH_JSON=FILE  also write the figures as JSON
#
# REST API read throughput of a private slipwayd holding RECORDED ended
# containers and RUNNING running ones, measured with wrk (keep-alive
# connections, the control token in an Authorization header) on:
#   GET /api/v1/containers?all=true    every container (RECORDED + RUNNING)
#   GET /api/v1/containers?all=false   those that have not ended (RUNNING)
#   GET /healthz                       no token, no work: the server's floor
# For each: requests/s, latency percentiles (wrk --latency), the body's size,
# and the CPU slipwayd used (from /proc/PID/stat). wrk runs on the same
# machine and competes with slipwayd for its cores.
#
# The slipwayd is private (bench/lib/slipwayd.sh: own data and state dirs,
# a free 127.0.0.1 port, cgroup parent slipway-bench-<pid>); everything it
# started is stopped and everything created removed at exit.
set -euo pipefail

recorded=${RECORDED:-100}
running=${RUNNING:-4}
wrk_threads=${WRK_THREADS:-2}
wrk_conns=${WRK_CONNS:-16}
wrk_duration=${WRK_DURATION:-10s}
read -r -a bazel_flags <<<"${BAZEL_FLAGS:--c opt}"
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

. "$repo/bench/lib/common.sh"    # bench_init, bench_workdir, bench_cleanup_dirs
bench_init api_read.sh "slipwayd runs sandboxes" python3 bazel curl wrk
. "$repo/bench/lib/slipwayd.sh"  # slipwayd_build, slipwayd_start, slipwayd_stop

cleanup() { slipwayd_cleanup; }  # bench/lib/slipwayd.sh
bench_workdir slipway-api 256m  # $work, $tag, and a tmpfs for the run-time state, $run

echo "== building slipwayd, slipway, slipway-monitor (${bazel_flags[*]})" >&2
slipwayd_build "${bazel_flags[@]}"
slipway=$slipway_bin

bash bench/make_rootfs.sh "$work/rootfs" >&2
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

echo "== starting a private slipwayd" >&2
slipwayd_start "$work/slipway-data" "$run/slipway-state" "$tag" || exit 1
echo "   on $SLIPWAY_HOST, log $slipwayd_log" >&2
"$slipway" import "$work/busybox.tar" busybox >&2

echo "== recording $recorded ended containers, starting $running running ones" >&2
for i in $(seq 1 "$recorded"); do
  "$slipway" run --name "done-$i" busybox true
done
for i in $(seq 1 "$running"); do
  "$slipway" run -d --name "running-$i" busybox sleep 3600 >/dev/null
done
n_all=$("$slipway" ps -aq | wc -l)
n_live=$("$slipway" ps -q | wc -l)
echo "   slipway ps -a: $n_all containers, slipway ps: $n_live" >&2

token=$(cat "$SLIPWAY_TOKEN_FILE")
auth="Authorization: Bearer $token"
ticks=$(getconf CLK_TCK)
cpu_ticks() {  # utime + stime of slipwayd, all threads
  awk '{ print $14 + $15 }' "/proc/$slipwayd_pid/stat"
}

results="$work/results.tsv"
: >"$results"
for endpoint in "/api/v1/containers?all=true" "/api/v1/containers?all=false" "/healthz"; do
  url="$SLIPWAY_HOST$endpoint"
  hdr=(-H "$auth")
  [ "$endpoint" = /healthz ] && hdr=()
  bytes=$(curl -fsS "${hdr[@]}" "$url" | wc -c)
  echo "== wrk -t$wrk_threads -c$wrk_conns -d$wrk_duration --latency GET $endpoint ($bytes-byte body)" >&2
  wrk -t"$wrk_threads" -c"$wrk_conns" -d2s "${hdr[@]}" "$url" >/dev/null  # warm-up
  c0=$(cpu_ticks)
  wrk -t"$wrk_threads" -c"$wrk_conns" -d"$wrk_duration" --latency "${hdr[@]}" "$url" | tee "$work/wrk.out" >&2
  c1=$(cpu_ticks)
  printf '%s\t%s\t%s\t%s\n' "$endpoint" "$bytes" "$(( c1 - c0 ))" "$(base64 -w0 <"$work/wrk.out")" >>"$results"
done

python3 - "$results" "$ticks" "$wrk_duration" "$n_all" "$n_live" "${BENCH_JSON:-}" <<'EOF'
import base64, json, os, re, sys

path, ticks, duration, n_all, n_live, json_out = sys.argv[1:7]
ticks = int(ticks)
secs = float(re.match(r"([\d.]+)", duration).group(1)) * {"s": 1, "m": 60, "h": 3600}.get(duration[-1], 1)


def ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]


rows = []
for line in open(path):
    endpoint, body, cpu, out = line.rstrip("\n").split("\t")
    out = base64.b64decode(out).decode()
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)$", out, re.M)
    rows.append({
        "endpoint": endpoint, "body_bytes": int(body),
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        **{f"p{k}_ms": ms(v) for k, v in pct.items()},
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
        "slipwayd_cpu_percent": 100.0 * int(cpu) / ticks / secs,
    })
print(f"Machine: {os.cpu_count()} CPUs, kernel {os.uname().release}; "
      f"load average {os.getloadavg()[0]:.2f} (1 min) at the end")
print(f"Containers recorded: {n_all} ({n_live} running)")
print()
print("| GET | body bytes | requests/s | p50 ms | p75 ms | p90 ms | p99 ms | non-2xx | slipwayd CPU |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in rows:
    print(f"| `{r['endpoint']}` | {r['body_bytes']} | {r['requests_per_s']:.0f} | {r['p50_ms']:.2f} | "
          f"{r['p75_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} | {r['non_2xx']} | "
          f"{r['slipwayd_cpu_percent']:.0f} % |")
for r in rows:
    if r["non_2xx"] or r["socket_errors"]:
        print(f"WARNING: {r['endpoint']}: {r['non_2xx']} non-2xx answers; socket errors: {r['socket_errors'] or 'none'}")
if json_out:
    with open(json_out, "w") as f:
        json.dump(rows, f, indent=1)
EOF
