#!/usr/bin/env python3
"""Container start-up through the daemon: slipway vs docker vs podman vs runc.

Driven by bench/daemon_start.sh, which builds slipwayd, starts a private
slipwayd (its sandbox pool on) and, optionally, a second one with
--sandbox-pool-size 0, a private dockerd, sets up a private podman store and
a runc bundle, and imports the same busybox rootfs into all of them. This
times, interleaved in one process, the wall time of one whole command from
before fork to after exit (time.perf_counter_ns around subprocess.run):

  sandbox_run        bench/runtime/sandbox_run --rootfs ROOTFS -- true
                       (the runtime alone, in one process: the floor the
                       issue 17 target of 1.3x refers to)
  slipway            slipway run --rm busybox true    (via slipwayd, pool on)
  slipway (pool 0)   the same via a slipwayd with --sandbox-pool-size 0
  runc               runc run (bundle on ROOTFS, as bench/runtime_start.sh)
  docker             docker run --rm --network none busybox true (via dockerd)
  podman             podman --runtime runc run --rm --network none
                       --ulimit nproc=1024:1024 --ulimit nofile=1024:1024 busybox true
                       (no daemon: podman + conmon + runc)

plus `ROOTFS/bin/busybox true` with no container at all (the driver's own
fork/exec/wait). Every tool runs once per round; the order
rotates every round, so a noisy moment on the machine hits every tool alike.
A few untimed warm-up runs per tool come first.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_start import Tool, cgroup_layout, summarize, version  # noqa: E402

TARGET_MEDIAN_MS = 15.0
TARGET_DOCKER_RATIO = 25.0     # issue 17: docker / slipway >= 25
TARGET_FLOOR_RATIO = 1.3       # issue 17: slipway / sandbox_run <= 1.3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iter", type=int, default=200, help="timed rounds (every tool once a round)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed runs per tool first")
    ap.add_argument("--rootfs", required=True, help="the busybox rootfs (for the no-container floor)")
    ap.add_argument("--slipway", required=True, help="the slipway CLI")
    ap.add_argument("--slipway-host", required=True, help="SLIPWAY_HOST, http://127.0.0.1:PORT")
    ap.add_argument("--slipway-token-file", required=True, help="SLIPWAY_TOKEN_FILE")
    ap.add_argument("--slipway-image", default="busybox")
    ap.add_argument("--slipway-nopool-host", help="SLIPWAY_HOST of a slipwayd with --sandbox-pool-size 0")
    ap.add_argument("--slipway-nopool-token-file", help="its SLIPWAY_TOKEN_FILE")
    ap.add_argument("--sandbox-run", help="bench/runtime/sandbox_run; omit to skip the runtime floor")
    ap.add_argument("--sandbox-run-state-dir", help="its --state-dir")
    ap.add_argument("--sandbox-run-cgroup-parent", help="its --cgroup-parent")
    ap.add_argument("--runc-bundle", help="a runc bundle on ROOTFS (bench/runtime_start.py bundle); omit to skip runc")
    ap.add_argument("--runc-root", help="runc's --root")
    ap.add_argument("--runc-skip-reason", default="")
    ap.add_argument("--docker-host", help="unix://... of the private dockerd; omit to skip docker")
    ap.add_argument("--docker-bin", default="docker")
    ap.add_argument("--docker-image", default="busybox")
    ap.add_argument("--docker-skip-reason", default="")
    ap.add_argument("--podman", help="JSON list: podman and its global options (--root ...); omit to skip")
    ap.add_argument("--podman-env", default="{}", help="JSON object: extra environment for podman")
    ap.add_argument("--podman-run-args", default="[]", help="JSON list: options for `podman run` (--cgroup-parent ...)")
    ap.add_argument("--podman-image", default="busybox")
    ap.add_argument("--podman-skip-reason", default="")
    ap.add_argument("--json", help="also write every sample here")
    args = ap.parse_args()
    if args.iter < 2:
        ap.error("--iter must be at least 2")

    n = args.iter
    slipway_env = dict(os.environ, SLIPWAY_HOST=args.slipway_host, SLIPWAY_TOKEN_FILE=args.slipway_token_file)
    tools = [Tool("no container (exec only)", lambda i: [os.path.join(args.rootfs, "bin/busybox"), "true"], n)]
    if args.sandbox_run:
        tools.append(Tool(
            "sandbox_run",
            lambda i: [args.sandbox_run, "--state-dir", args.sandbox_run_state_dir, "--cgroup-parent",
                       args.sandbox_run_cgroup_parent, "--rootfs", args.rootfs, "--", "true"], n))
    tools.append(Tool("slipway", lambda i: [args.slipway, "run", "--rm", args.slipway_image, "true"], n,
                      env=slipway_env))
    if args.slipway_nopool_host:
        nopool_env = dict(os.environ, SLIPWAY_HOST=args.slipway_nopool_host,
                          SLIPWAY_TOKEN_FILE=args.slipway_nopool_token_file)
        tools.append(Tool("slipway (pool 0)", lambda i: [args.slipway, "run", "--rm", args.slipway_image, "true"],
                          n, env=nopool_env))
    tag = f"slipway-dstart-{os.getpid()}"
    if args.runc_bundle:
        # `runc run` deletes the container when it exits: deletion is timed,
        # as slipway's --rm is.
        tools.append(Tool("runc", lambda i: ["runc", "--root", args.runc_root, "run", "--bundle", args.runc_bundle,
                                             f"{tag}-{i}"], n))
    if args.docker_host:
        tools.append(Tool(
            "docker",
            lambda i: [args.docker_bin, "-H", args.docker_host, "run", "--rm", "--network", "none",
                       args.docker_image, "true"], n))
    podman = json.loads(args.podman) if args.podman else None
    if podman:
        podman_env = dict(os.environ, **json.loads(args.podman_env))
        podman_run_args = json.loads(args.podman_run_args)
        tools.append(Tool(
            "podman",
            lambda i: podman + ["run"] + podman_run_args + ["--rm", "--network", "none",
                                "--ulimit", "nproc=1024:1024", "--ulimit", "nofile=1024:1024",
                                args.podman_image, "true"], n, env=podman_env))

    for tool in tools:
        for _ in range(args.warmup):
            tool.run_once(timed=False)

    load_before = os.getloadavg()
    started = time.monotonic()
    for i in range(n):
        k = i % len(tools)
        for tool in tools[k:] + tools[:k]:
            tool.run_once()
        if (i + 1) % 50 == 0:
            print(f"  {i + 1}/{n} rounds, {time.monotonic() - started:.0f} s", file=sys.stderr)
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()

    stats = {t.name: summarize(t.samples_ms) for t in tools}
    lines = [
        f"Machine: {os.cpu_count()} CPUs, kernel {os.uname().release}, cgroups {cgroup_layout()}",
        "Versions: " + "; ".join(
            [f"{version(['runc', '--version'])}"]
            + ([f"docker {version([args.docker_bin, '-H', args.docker_host, 'version', '--format', '{{.Server.Version}}'])}"]
               if args.docker_host else [])
            + ([version(podman + ["--version"])] if podman else [])),
        f"Rounds: {n} (after {args.warmup} untimed warm-up runs per tool), every tool once a round, "
        "order rotated each round",
    ]
    if not args.runc_bundle:
        lines.append(f"runc: skipped ({args.runc_skip_reason or 'no bundle'})")
    if not args.docker_host:
        lines.append(f"docker: skipped ({args.docker_skip_reason or 'no engine'})")
    if not podman:
        lines.append(f"podman: skipped ({args.podman_skip_reason or 'not set up'})")
    lines += [
        "Times: wall ms from fork to exit of the whole command (container created, started, waited for, "
        "removed); slipway and sandbox_run without limits, runc with bench/runtime_start.py's bundle",
        f"Load average (1/5/15 min): {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f} before, "
        f"{load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f} after ({elapsed:.0f} s of timing)",
        "",
        "| tool | runs | median ms | p10 ms | p90 ms | mean ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, s in stats.items():
        lines.append(f"| {name} | {s['runs']} | {s['median']:.2f} | {s['p10']:.2f} | "
                     f"{s['p90']:.2f} | {s['mean']:.2f} |")
    lines.append("")
    sw = stats["slipway"]["median"]
    for name in ("slipway", "slipway (pool 0)", "runc"):
        if name in stats and "sandbox_run" in stats:
            lines.append(f"{name} / sandbox_run (median): {stats[name]['median'] / stats['sandbox_run']['median']:.2f}x")
    for peer in ("docker", "podman", "runc", "slipway (pool 0)"):
        if peer in stats:
            lines.append(f"{peer} / slipway (median): {stats[peer]['median'] / sw:.2f}x")
    if "sandbox_run" in stats:
        floor = sw / stats["sandbox_run"]["median"]
        lines.append(f"target: slipway / sandbox_run <= {TARGET_FLOOR_RATIO:g}: "
                     f"{'met' if floor <= TARGET_FLOOR_RATIO else 'MISSED'} ({floor:.2f}x)")
    lines.append(f"target: slipway median <= {TARGET_MEDIAN_MS:g} ms: "
                 f"{'met' if sw <= TARGET_MEDIAN_MS else 'MISSED'} ({sw:.2f} ms)")
    if "docker" in stats:
        ratio = stats["docker"]["median"] / sw
        lines.append(f"target: docker / slipway >= {TARGET_DOCKER_RATIO:g}: "
                     f"{'met' if ratio >= TARGET_DOCKER_RATIO else 'MISSED'} ({ratio:.1f}x)")
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"stats": stats, "samples_ms": {t.name: t.samples_ms for t in tools},
                       "load_before": load_before, "load_after": load_after}, f)


if __name__ == "__main__":
    main()
