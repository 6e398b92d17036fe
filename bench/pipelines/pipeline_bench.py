#!/usr/bin/env python3
"""Times pipelines through a running slipwayd (bench/pipelines/pipeline_bench.sh
sets it up): latency from a trigger accepted to the first step's process
running, with a floor measured the same way, and throughput of a one-step
`true` pipeline.

  pipeline_bench.py SLIPWAY_BIN REPO_URL LATENCY_RUNS THROUGHPUT_RUNS ROUNDS [JSON_OUT]

SLIPWAY_HOST and SLIPWAY_TOKEN_FILE name the daemon (as for the CLI). The
repository has two branches: `latency` (one step running /bin/clock-ns, which
prints CLOCK_REALTIME in ns) and `true` (one step running `true`).
"""
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

FINAL = {"success", "failure", "error", "cancelled", "interrupted"}


class Api:
    def __init__(self):
        self.host = os.environ["SLIPWAY_HOST"].rstrip("/")
        with open(os.environ["SLIPWAY_TOKEN_FILE"]) as f:
            self.token = f.read().strip()

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.host + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def json(self, method, path, body=None, want=200):
        status, raw = self.call(method, path, body)
        if status != want:
            sys.exit(f"{method} {path}: HTTP {status}: {raw[:500]!r}")
        return json.loads(raw) if raw else None


def unix_ms(rfc3339):
    if not rfc3339:
        return None
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000.0


def frames(data):
    """The payload of a multiplexed log stream (stdout and stderr)."""
    out, i = b"", 0
    while i + 8 <= len(data):
        size = int.from_bytes(data[i + 4:i + 8], "big")
        if data[i] in (1, 2):
            out += data[i + 8:i + 8 + size]
        i += 8 + size
    return out


def await_run(api, run_id, poll=0.005, deadline=300):
    until = time.monotonic() + deadline
    while True:
        run = api.json("GET", f"/api/v1/runs/{run_id}")
        if run["status"] in FINAL:
            return run
        if time.monotonic() > until:
            sys.exit(f"run {run_id} did not end: {run}")
        time.sleep(poll)


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def latency(api, n):
    """Trigger accepted (the POST answered 201) -> clock-ns ran in the step."""
    accepted_ms, api_ms, post_ms = [], [], []
    for i in range(n + 3):  # 3 untimed warm-up runs
        t0 = time.time_ns()
        run = api.json("POST", "/api/v1/repos/bench/runs", {"branch": "latency"}, want=201)
        t1 = time.time_ns()
        run = await_run(api, run["id"])
        if run["status"] != "success":
            sys.exit(f"latency run {run['id']} ended {run['status']}: {run.get('error')}")
        status, raw = api.call("GET", f"/api/v1/runs/{run['id']}/steps/stamp/logs")
        stamp = int(frames(raw).split()[0])
        if i < 3:
            continue
        accepted_ms.append((stamp - t1) / 1e6)
        post_ms.append((t1 - t0) / 1e6)
        step = next(s for s in run["steps"] if s["name"] == "stamp")
        api_ms.append(unix_ms(step["started_at"]) - unix_ms(run["queued_at"]))
    return accepted_ms, api_ms, post_ms


def floor(slipway, n):
    """`slipway run --rm busybox clock-ns`: CLI started -> the process ran."""
    out = []
    for i in range(n + 3):
        t0 = time.time_ns()
        p = subprocess.run([slipway, "run", "--rm", "busybox", "clock-ns"], capture_output=True, check=True)
        if i >= 3:
            out.append((int(p.stdout.split()[0]) - t0) / 1e6)
    return out


def throughput(api, runs):
    """`runs` triggers of the `true` pipeline at once; runs per minute from
    the first queued to the last finished (the store's times)."""
    ids = [api.json("POST", "/api/v1/repos/bench/runs", {"branch": "true"}, want=201)["id"] for _ in range(runs)]
    ended = [await_run(api, i, poll=0.05) for i in ids]
    bad = [r for r in ended if r["status"] != "success"]
    if bad:
        sys.exit(f"{len(bad)} throughput runs did not succeed, e.g. {bad[0]}")
    first = min(unix_ms(r["queued_at"]) for r in ended)
    last = max(unix_ms(r["finished_at"]) for r in ended)
    return runs * 60000.0 / (last - first), (last - first) / 1000.0


def main():
    slipway, repo_url = sys.argv[1], sys.argv[2]
    n, m, rounds = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    json_out = sys.argv[6] if len(sys.argv) > 6 else ""
    api = Api()
    api.json("POST", "/api/v1/repos", {"name": "bench", "url": repo_url}, want=201)

    print(f"== latency: {n} runs, one at a time", file=sys.stderr)
    accepted, from_api, post = latency(api, n)
    print(f"== floor: {n} x slipway run --rm busybox clock-ns", file=sys.stderr)
    fl = floor(slipway, n)
    rates, spans = [], []
    for r in range(rounds):
        print(f"== throughput round {r + 1}/{rounds}: {m} runs at once", file=sys.stderr)
        rate, span = throughput(api, m)
        rates.append(rate)
        spans.append(span)

    load = os.getloadavg()
    print(f"Machine: {os.cpu_count()} CPUs, kernel {os.uname().release}; "
          f"load average {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} at the end")
    print()
    print("| measure | n | median ms | p10 ms | p90 ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    rows = [
        ("trigger accepted (POST answered) -> first step's process running", accepted),
        ("the same from the API: step started_at - run queued_at", from_api),
        ("POST /api/v1/repos/bench/runs answered", post),
        ("floor: `slipway run --rm busybox clock-ns`, CLI started -> process running", fl),
    ]
    for name, v in rows:
        print(f"| {name} | {len(v)} | {statistics.median(v):.1f} | {pct(v, 10):.1f} | {pct(v, 90):.1f} |")
    print()
    print(f"| one-step `true` pipeline, max_runs 4 | rounds | runs each | median runs/min | min | max |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| throughput (first queued -> last finished) | {rounds} | {m} | {statistics.median(rates):.0f} | "
          f"{min(rates):.0f} | {max(rates):.0f} |")
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"accepted_ms": accepted, "api_ms": from_api, "post_ms": post, "floor_ms": fl,
                       "runs_per_min": rates, "spans_s": spans}, f, indent=1)


if __name__ == "__main__":
    main()
