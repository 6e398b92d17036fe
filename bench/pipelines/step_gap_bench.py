#!/usr/bin/env python3
"""Times a pipeline step from its dependency's end to its first process,
through a running slipwayd (bench/pipelines/step_gap_bench.sh sets it up).

  step_gap_bench.py REPO_URL STEPS RUNS SLIPWAYD_LOG [JSON_OUT [SCHED_DATA]]

SLIPWAY_HOST and SLIPWAY_TOKEN_FILE name the daemon (as for the CLI). The
repository's branch `chain` has STEPS steps s00, s01, ..., each waiting for
the one before, each running `clock-ns` twice (CLOCK_REALTIME in ns: its
first process and its last). SLIPWAYD_LOG is the daemon's event log: its
container.created/started/exited lines (ms) split each gap in three.
With SCHED_DATA and perf installed, the timed runs are also traced with the
kernel's exec and exit events (SchedTrace): the gap to the step's first
process itself, without its shell's start and the fork of its first
command, which the clock-ns stamps hold (2-4 ms on the hosts measured).
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline_bench import Api, await_run, frames, pct, unix_ms  # noqa: E402


def container_events(log_path):
    """{container name: {event: unix ms}} from slipwayd's event log."""
    ids, out = {}, {}
    with open(log_path) as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            ev = e.get("event", "")
            if not ev.startswith("container."):
                continue
            if ev == "container.created":
                ids[e["id"]] = e.get("name", "")
            name = ids.get(e.get("id"))
            if name:
                out.setdefault(name, {})[ev] = unix_ms(e["time"])
                if ev == "container.started":
                    out[name]["staged"] = bool(e.get("staged"))
                    out[name]["pid"] = e.get("pid")
    return out


class SchedTrace:
    """The kernel's own times of every process exec and exit, system-wide
    (`perf record` of sched:sched_process_exec and sched:sched_process_exit,
    CLOCK_MONOTONIC): for the gap without the step's shell in it, from the
    dependency's init exiting to the step's init exec'ing its command. None
    without perf (Debian's linux-perf) or when it cannot record."""

    def __init__(self, path):
        self.path = path
        self.proc = subprocess.Popen(
            ["perf", "record", "-q", "-a", "-k", "mono", "-o", path,
             "-e", "sched:sched_process_exec,sched:sched_process_exit"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)  # perf opens its events before the first run
        if self.proc.poll() is not None:
            raise OSError("perf record exited at once")

    def events(self):
        """Stops recording; {pid: {"exec": [s, ...], "exit": [s, ...]}}."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        out = subprocess.run(["perf", "script", "-i", self.path, "-F", "pid,time,event"],
                             capture_output=True, text=True, check=True).stdout
        by_pid = {}
        for line in out.splitlines():
            f = line.split()
            if len(f) < 3:
                continue
            kind = "exec" if "sched_process_exec" in f[2] else "exit"
            by_pid.setdefault(int(f[0]), {"exec": [], "exit": []})[kind].append(float(f[1].rstrip(":")))
        return by_pid


def start_sched_trace(path):
    if not shutil.which("perf"):
        return None
    try:
        return SchedTrace(path)
    except OSError:
        return None


def exact_gaps(by_pid, pairs):
    """For each (dependency's init pid, step's init pid): the step's first
    exec after the dependency's init exited, minus that exit (ms)."""
    gaps = []
    for a, b in pairs:
        ends = by_pid.get(a, {}).get("exit", [])
        if not ends:
            continue
        execs = [t for t in by_pid.get(b, {}).get("exec", []) if t >= ends[0]]
        if execs:
            gaps.append((execs[0] - ends[0]) * 1e3)
    return gaps


def chain(api, steps, log_path):
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
    # The gap in three, from the event log (ms): the dependency's last
    # process -> its container recorded exited (its sandbox's end and
    # teardown, the monitor's exit); -> the step's container started (the
    # executor, the start queue, the sandbox's start up to the monitor's
    # ready line); -> the step's first process (its /bin/sh to clock-ns).
    ev = container_events(log_path)
    parts = {"ended": [], "started": [], "first": [], "created_ahead": 0, "staged": 0, "pids": []}
    for i in range(1, steps):
        a, b = ev.get(f"run{run['id']}-s{i - 1:02d}", {}), ev.get(f"run{run['id']}-s{i:02d}", {})
        if not all(k in a for k in ("container.exited",)) or "container.started" not in b:
            continue
        parts["ended"].append(a["container.exited"] - stamps[i - 1][1] / 1e6)
        parts["started"].append(b["container.started"] - a["container.exited"])
        parts["first"].append(stamps[i][0] / 1e6 - b["container.started"])
        if b.get("container.created", float("inf")) <= a["container.exited"]:
            parts["created_ahead"] += 1
        if b.get("staged"):
            parts["staged"] += 1
        if a.get("pid") and b.get("pid"):
            parts["pids"].append((a["pid"], b["pid"]))
    return gaps, store, per_step, parts


def main():
    repo_url, steps, runs, log_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    json_out = sys.argv[5] if len(sys.argv) > 5 else ""
    sched_path = sys.argv[6] if len(sys.argv) > 6 else ""
    api = Api()
    api.json("POST", "/api/v1/repos", {"name": "bench", "url": repo_url}, want=201)
    gaps, store, per_step = [], [], []
    parts = {"ended": [], "started": [], "first": [], "created_ahead": 0, "staged": 0}
    pids = []
    trace = None
    for r in range(runs + 1):  # 1 untimed warm-up run
        print(f"== run {r}/{runs} of the {steps}-step chain" + (" (warm-up)" if r == 0 else ""), file=sys.stderr)
        g, s, p, q = chain(api, steps, log_path)
        if r == 0:
            trace = start_sched_trace(sched_path) if sched_path else None
            continue
        pids += q["pids"]
        gaps += g
        store += s
        per_step.append(p)
        for k in ("ended", "started", "first"):
            parts[k] += q[k]
        parts["created_ahead"] += q["created_ahead"]
        parts["staged"] += q["staged"]

    exact = exact_gaps(trace.events(), pids) if trace else []
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
        ("dependency's init exited -> step's init exec'd its command (kernel sched events)", exact),
        ("the same from the store: step started_at - need's finished_at", store),
        ("first stamp of s00 -> last stamp of the last step, per step", per_step),
        ("  part: dependency's last process -> its container exited (event log)", parts["ended"]),
        ("  part: dependency's container exited -> step's container started (event log)", parts["started"]),
        ("  part: step's container started -> its first process (event log)", parts["first"]),
    ]
    for name, v in rows:
        if v:
            print(f"| {name} | {len(v)} | {statistics.median(v):.2f} | {pct(v, 10):.2f} | {pct(v, 90):.2f} |")
    print()
    print(f"steps whose container was created before their dependency's exited: "
          f"{parts['created_ahead']} of {len(gaps)}")
    print(f"steps started from a sandbox staged ahead (container.started \"staged\"): "
          f"{parts['staged']} of {len(gaps)}")
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"gap_ms": gaps, "exact_gap_ms": exact, "store_gap_ms": store, "per_step_ms": per_step, "parts_ms": parts}, f,
                      indent=1)


if __name__ == "__main__":
    main()
