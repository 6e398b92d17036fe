#!/usr/bin/env python3
"""Times a pipeline step from its dependency's end to its first process,
through a running slipwayd (bench/pipelines/step_gap_bench.sh sets it up).

  step_gap_bench.py REPO_URL STEPS RUNS [JSON_OUT]

SLIPWAY_HOST and SLIPWAY_TOKEN_FILE name the daemon (as for the CLI). The
repository's branch `chain` has STEPS steps s00, s01, ..., each waiting for
the one before, each running `clock-ns` twice (CLOCK_REALTIME in ns: its
first process and its last).
"""
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline_bench import Api, await_run, frames, pct, unix_ms  # noqa: E402


def chain(api, steps):
    """One run of the chain: the gaps (ms) between each step's last stamp and
    the next step's first, from the stamps and from the store's times."""
    run = api.json("POST", "/api/v1/repos/bench/runs", {"branch": "chain"}, want=201)
    run = await_run(api, run["id"], poll=0.02)
    if run["status"] != "success":
        sys.exit(f"run {run['id']} ended {run['status']}: {run.get('error')}")
    stamps = []
    for i in range(steps):
        _, raw = api.call("GET", f"/api/v1/runs/{run['id']}/steps/s{i:02d}/logs")
        first, last = (int(x) for x in frames(raw).split()[:2])
        stamps.append((first, last))
    gaps = [(stamps[i][0] - stamps[i - 1][1]) / 1e6 for i in range(1, steps)]
    by_name = {s["name"]: s for s in run["steps"]}
    store = []
    for i in range(1, steps):
        a, b = by_name[f"s{i - 1:02d}"], by_name[f"s{i:02d}"]
        store.append(unix_ms(b["started_at"]) - unix_ms(a["finished_at"]))
    per_step = (stamps[-1][1] - stamps[0][0]) / 1e6 / (steps - 1)
    return gaps, store, per_step


def main():
    repo_url, steps, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    json_out = sys.argv[4] if len(sys.argv) > 4 else ""
    api = Api()
    api.json("POST", "/api/v1/repos", {"name": "bench", "url": repo_url}, want=201)
    gaps, store, per_step = [], [], []
    for r in range(runs + 1):  # 1 untimed warm-up run
        print(f"== run {r}/{runs} of the {steps}-step chain" + (" (warm-up)" if r == 0 else ""), file=sys.stderr)
        g, s, p = chain(api, steps)
        if r == 0:
            continue
        gaps += g
        store += s
        per_step.append(p)

    load = os.getloadavg()
    print(f"Machine: {os.cpu_count()} CPUs, kernel {os.uname().release}; "
          f"load average {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} at the end")
    print()
    print(f"{runs} runs of a {steps}-step chain")
    print()
    print("| measure | n | median ms | p10 ms | p90 ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    rows = [
        ("dependency's last process -> step's first process (clock-ns stamps)", gaps),
        ("the same from the store: step started_at - need's finished_at", store),
        ("first stamp of s00 -> last stamp of the last step, per step", per_step),
    ]
    for name, v in rows:
        print(f"| {name} | {len(v)} | {statistics.median(v):.2f} | {pct(v, 10):.2f} | {pct(v, 90):.2f} |")
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"gap_ms": gaps, "store_gap_ms": store, "per_step_ms": per_step}, f, indent=1)


if __name__ == "__main__":
    main()
