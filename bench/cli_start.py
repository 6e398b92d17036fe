#!/usr/bin/env python3
"""The CLI's own start: slipway (this tree) vs slipway (an older build) vs floors.

Driven by bench/cli_start.sh, which builds both CLIs and starts a private
slipwayd. Times, interleaved in one process, the wall time of one whole
invocation from before fork to after exit (time.perf_counter_ns around
subprocess.run) of

  slipway --help     no request: exec, dynamic loading, the command tree
  slipway version    one request (GET /api/v1/version)
  slipway ps         one request (GET /api/v1/containers)
  slipway run --rm busybox true
                     two requests (create, attach) and a sandbox: what the
                     CLI's start and its connections weigh in a whole run;
                     each is followed by a 0.1 s pause, so that the sandbox
                     pool's refill (50 ms after a hand-over) is not timed

for the new and the old binary, plus two floors: /bin/true, and a trivial
C++ program linked with the same libstdc++ (bench/cli_start.sh compiles it).
Every command runs once per round, the order rotated every round; the new
and the old run of a command are paired within a round, so the paired
difference (new - old) is reported too, with how often new was slower.
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_start import Tool, summarize  # noqa: E402

COMMANDS = [["--help"], ["version"], ["ps"], ["run", "--rm", "busybox", "true"]]
REFILL_PAUSE_S = 0.1  # after each `run`: the pool refills 50 ms after a hand-over


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iter", type=int, default=200, help="timed rounds (every command once a round)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed runs per command first")
    ap.add_argument("--new", required=True, help="slipway built from this tree")
    ap.add_argument("--old", required=True, help="slipway built from the older commit")
    ap.add_argument("--old-name", default="old", help="what to call the old build in the tables")
    ap.add_argument("--floor-cxx", required=True, help="a trivial C++ program (libstdc++ linked)")
    ap.add_argument("--json", help="also write every sample here")
    args = ap.parse_args()
    if args.iter < 2:
        ap.error("--iter must be at least 2")
    n = args.iter

    tools = [Tool("/bin/true", lambda i: ["/bin/true"], n),
             Tool("trivial C++ (libstdc++)", lambda i: [args.floor_cxx], n)]
    pairs = []
    for cmd in COMMANDS:
        new = Tool(f"new: slipway {' '.join(cmd)}", lambda i, c=cmd: [args.new] + c, n)
        old = Tool(f"{args.old_name}: slipway {' '.join(cmd)}", lambda i, c=cmd: [args.old] + c, n)
        tools += [new, old]
        pairs.append((" ".join(cmd), new, old))

    for tool in tools:
        for _ in range(args.warmup):
            tool.run_once(timed=False)

    load_before = os.getloadavg()
    started = time.monotonic()
    for i in range(n):
        k = i % len(tools)
        for tool in tools[k:] + tools[:k]:
            tool.run_once()
            if " run " in tool.name:
                time.sleep(REFILL_PAUSE_S)
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()

    print(f"Machine: {os.cpu_count()} CPUs, kernel {os.uname().release}")
    print(f"Rounds: {n} (after {args.warmup} untimed warm-up runs each), every command once a round, "
          "order rotated each round")
    print(f"Load average (1/5/15 min): {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f} before, "
          f"{load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f} after ({elapsed:.0f} s of timing)")
    print()
    print("| command | runs | median ms | p10 ms | p90 ms | mean ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for t in tools:
        s = summarize(t.samples_ms)
        print(f"| {t.name} | {s['runs']} | {s['median']:.2f} | {s['p10']:.2f} | {s['p90']:.2f} | {s['mean']:.2f} |")
    floor = statistics.median(tools[1].samples_ms)
    print()
    print(f"| command | new median ms | {args.old_name} median ms | new / {args.old_name} | "
          "paired diff median ms | new slower in | new - C++ floor ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, new, old in pairs:
        diffs = [a - b for a, b in zip(new.samples_ms, old.samples_ms)]
        mn, mo = statistics.median(new.samples_ms), statistics.median(old.samples_ms)
        slower = sum(d > 0 for d in diffs)
        print(f"| {name} | {mn:.2f} | {mo:.2f} | {mn / mo:.2f} | {statistics.median(diffs):+.2f} | "
              f"{slower} / {len(diffs)} | {mn - floor:+.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({t.name: t.samples_ms for t in tools}, f)


if __name__ == "__main__":
    main()
