#!/usr/bin/env python3
"""Sandbox start-up benchmark: slipway's runtime vs runc (vs docker), side by side.

Driven by bench/runtime_start.sh, which builds bench/runtime/sandbox_run (the
runtime alone, no daemon: "slipway" below), the rootfs and (when it can) a
private dockerd. Two sub-commands:

  bundle  write a runc bundle (config.json) that matches slipway's sandbox
  run     time start-to-exit of /bin/true under every tool, interleaved

Each timed sample is the wall time of one whole CLI invocation, from before
fork to after the tool has exited (so it includes the tool's own exec, its
teardown and, for runc and docker, container deletion): what a CI step waits
for. The tools run round-robin within each iteration, and the order rotates
every iteration, so a noisy moment on the machine hits every tool alike
rather than one tool's whole series.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

# Docker's default capability set, which slipway grants too (docs/runtime.md).
DOCKER_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

# The limits every tool is given: --memory 64m --cpus 1 --pids-limit 64
# (docker), the same in the runc bundle and on sandbox_run's command line.
MEMORY_BYTES = 64 * 1024 * 1024  # and no swap
CPU_PERIOD_US = 100000  # sandbox_run's (the runtime's) period too
CPU_QUOTA_US = CPU_PERIOD_US  # one CPU
CPU_MILLIS = 1000 * CPU_QUOTA_US // CPU_PERIOD_US
PIDS_LIMIT = 64


def seccomp_profile(seccomp_cc):
    """An OCI seccomp section equivalent to slipway's default filter.

    The syscall names are read from engine/runtime/seccomp.cc, so runc
    compiles the same allow-list (plus the same personality, clone, clone3
    and socket rules) that slipway does: without it runc would skip the
    libseccomp compilation that slipway pays for, and the comparison would
    flatter runc.
    """
    with open(seccomp_cc) as f:
        src = f.read()
    names = []
    for array in ("kAllowedSyscalls", "kPtraceSyscalls"):
        m = re.search(array + r"\[\]\s*=\s*\{(.*?)\};", src, re.S)
        if not m:
            sys.exit(f"cannot find {array} in {seccomp_cc}")
        names += re.findall(r'"([a-z0-9_]+)"', m.group(1))
    if len(names) < 300:
        sys.exit(f"only {len(names)} syscall names parsed from {seccomp_cc}")
    clone_ns_mask = 0x7E020000  # CLONE_NEW{NS,UTS,IPC,USER,PID,NET,CGROUP}
    rules = [{"names": names, "action": "SCMP_ACT_ALLOW"}]
    for persona in (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF):
        rules.append({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": persona, "op": "SCMP_CMP_EQ"}]})
    rules.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                  "args": [{"index": 0, "value": clone_ns_mask, "valueTwo": 0,
                            "op": "SCMP_CMP_MASKED_EQ"}]})
    rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})  # ENOSYS
    rules.append({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                  "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]})  # not AF_VSOCK
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,  # EPERM
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": rules,
    }


def cmd_bundle(args):
    """Turns `runc spec`'s config.json into slipway's sandbox, as near as OCI allows."""
    path = os.path.join(args.bundle, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    proc = cfg["process"]
    proc["terminal"] = False  # no console socket: stdio is inherited, like slipway's
    proc["args"] = ["/bin/true"]
    proc["noNewPrivileges"] = True
    proc["capabilities"] = {k: list(DOCKER_CAPS) for k in ("bounding", "effective", "permitted")}
    # Absolute, so the bundle needs no rootfs/ copy. Writable like slipway's
    # overlay (runc writes straight into it; /bin/true writes nothing).
    cfg["root"] = {"path": os.path.abspath(args.rootfs), "readonly": False}
    linux = cfg["linux"]
    linux["namespaces"] = [{"type": t} for t in ("pid", "mount", "uts", "ipc", "network", "cgroup")]
    linux["cgroupsPath"] = args.cgroups_path
    linux["resources"] = {
        "devices": [{"allow": False, "access": "rwm"}],  # runc then adds the default devices
        "memory": {"limit": MEMORY_BYTES, "swap": MEMORY_BYTES},  # no swap, as slipway
        "cpu": {"quota": CPU_QUOTA_US, "period": CPU_PERIOD_US},  # one CPU
        "pids": {"limit": PIDS_LIMIT},
    }
    linux["seccomp"] = seccomp_profile(args.seccomp_source)
    # slipway does not mount the cgroup filesystem inside the sandbox; on a
    # v1/hybrid host runc's mount is a tmpfs plus one bind per hierarchy.
    # Dropped so runc does no more work than slipway.
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    print(f"runc bundle: {path} ({len(cfg['linux']['seccomp']['syscalls'][0]['names'])} syscall names)")


class Tool:
    def __init__(self, name, make_cmd, runs, env=None):
        self.name = name
        self.make_cmd = make_cmd  # iteration number -> argv
        self.runs = runs
        self.env = env
        self.samples_ms = []
        self.seq = 0

    def run_once(self, timed=True):
        self.seq += 1
        argv = self.make_cmd(self.seq)
        t0 = time.perf_counter_ns()
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=self.env)
        elapsed_ms = (time.perf_counter_ns() - t0) / 1e6
        if p.returncode != 0:
            sys.exit(f"{self.name}: `{' '.join(argv)}` exited {p.returncode}:\n"
                     f"{p.stderr.decode(errors='replace')}")
        if timed:
            self.samples_ms.append(elapsed_ms)

    def due(self, i, total):
        # Spread `runs` samples evenly over `total` iterations (docker gets
        # fewer runs, but from the whole span of the benchmark).
        return (i + 1) * self.runs // total > i * self.runs // total


def summarize(samples):
    q = statistics.quantiles(samples, n=10, method="inclusive")
    return {"runs": len(samples), "median": statistics.median(samples),
            "p10": q[0], "p90": q[8], "mean": statistics.fmean(samples)}


def cgroup_layout():
    fstypes = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fstype = line.split(" - ", 1)[1].split()[0]
            if fstype in ("cgroup", "cgroup2"):
                fstypes.add(fstype)
    if fstypes == {"cgroup", "cgroup2"}:
        return "hybrid (v1 controllers + cgroup2 without controllers)"
    return "v2" if fstypes == {"cgroup2"} else "v1"


def version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
        return out.strip().splitlines()[0] if out.strip() else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def sandbox_run_argv(binary, args):
    """bench/runtime/sandbox_run: start, wait and remove one sandbox."""
    return [binary, "--state-dir", args.slipway_state_dir, "--cgroup-parent", args.slipway_cgroup_parent,
            "--rootfs", args.rootfs, "--memory", str(MEMORY_BYTES), "--cpus-millis", str(CPU_MILLIS),
            "--pids", str(PIDS_LIMIT), "--", "/bin/true"]


def old_cli_argv(binary, args):
    """A one-shot `slipway` CLI from before it became slipwayd's client (state
    dir and cgroup parent from SLIPWAY_STATE_DIR and SLIPWAY_CGROUP_PARENT)."""
    return [binary, "run", "--rm", "--memory", "64m", "--cpus", "1", "--pids-limit", "64",
            "--rootfs", args.rootfs, "/bin/true"]


def cmd_run(args):
    runs = args.runs
    tag = f"slipway-bench-{os.getpid()}"
    tools = [
        # The floor: the same busybox exec'd with no sandbox at all, so the
        # driver's own fork/exec/wait cost is visible.
        Tool("no sandbox (exec only)",
             lambda n: [os.path.join(args.rootfs, "bin/busybox"), "true"], runs),
        Tool("slipway", lambda n: sandbox_run_argv(args.slipway, args), runs),
    ]
    # Other builds to compare against (e.g. an older commit), the same
    # sandbox: another sandbox_run, or an old one-shot CLI.
    old_cli_env = dict(os.environ,
                       SLIPWAY_STATE_DIR=args.slipway_state_dir,
                       SLIPWAY_CGROUP_PARENT=args.slipway_cgroup_parent)
    for alt in args.slipway_alt:
        label, _, path = alt.partition("=")
        if os.path.basename(path) == "sandbox_run":
            tools.append(Tool(f"slipway ({label})", lambda n, path=path: sandbox_run_argv(path, args), runs))
        else:
            tools.append(Tool(f"slipway ({label})", lambda n, path=path: old_cli_argv(path, args), runs,
                              env=old_cli_env))
    tools += [
        # `runc run` deletes the container when it exits (unless --keep), so
        # deletion is inside the timing, as slipway's --rm teardown is.
        Tool("runc",
             lambda n: ["runc", "--root", args.runc_root, "run", "--bundle", args.runc_bundle,
                        f"{tag}-{n}"], runs),
    ]
    if args.docker_host:
        tools.append(Tool(
            "docker",
            lambda n: [args.docker_bin, "-H", args.docker_host, "run", "--rm", "--network", "none",
                       "--memory", "64m", "--cpus", "1", "--pids-limit", "64",
                       args.docker_image, "/bin/true"],
            min(runs, args.docker_runs)))

    # Warm-up, untimed: page cache, first cgroup directories, dockerd's image
    # metadata. A CI host is warm too.
    for tool in tools:
        for _ in range(args.warmup):
            tool.run_once(timed=False)

    load_before = os.getloadavg()[0]
    started = time.monotonic()
    for i in range(runs):
        k = i % len(tools)
        for tool in tools[k:] + tools[:k]:
            if tool.due(i, runs):
                tool.run_once()
        if (i + 1) % 50 == 0:
            print(f"  {i + 1}/{runs} iterations, {time.monotonic() - started:.0f} s", file=sys.stderr)

    stats = {t.name: summarize(t.samples_ms) for t in tools}
    lines = []
    lines.append(f"Machine: {os.cpu_count()} CPUs, kernel {platform.release()}, cgroups {cgroup_layout()}")
    lines.append(f"Versions: {version(['runc', '--version'])}"
                 + (f"; docker {version([args.docker_bin, '-H', args.docker_host, 'version', '--format', '{{.Server.Version}}'])}"
                    if args.docker_host else ""))
    lines.append(f"Iterations: {runs} (after {args.warmup} untimed warm-up runs per tool), "
                 "tools interleaved round-robin, order rotated each iteration")
    if args.docker_host:
        lines.append(f"docker: {stats['docker']['runs']} runs only (it is ~10x slower), "
                     "spread evenly over the iterations")
    else:
        lines.append(f"docker: skipped ({args.docker_skip_reason or 'no engine'})")
    lines.append("Times: wall ms from fork to exit of the whole CLI, teardown and deletion included; "
                 "slipway is the runtime alone (bench/runtime/sandbox_run), no daemon")
    # The figures only mean something on an otherwise idle machine: a build
    # running alongside doubles them. The load average says whether it was.
    lines.append(f"Load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
                 f"({time.monotonic() - started:.0f} s of timing)")
    lines.append("")
    lines.append("| tool | runs | median ms | p10 ms | p90 ms | mean ms |")
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, s in stats.items():
        lines.append(f"| {name} | {s['runs']} | {s['median']:.2f} | {s['p10']:.2f} | "
                     f"{s['p90']:.2f} | {s['mean']:.2f} |")
    lines.append("")
    sw = stats["slipway"]["median"]
    lines.append(f"slipway / runc (median): {sw / stats['runc']['median']:.2f}")
    if "docker" in stats:
        lines.append(f"slipway / docker (median): {sw / stats['docker']['median']:.2f}")
    lines.append(f"target: slipway median <= 10 ms: {'met' if sw <= 10 else 'MISSED'} ({sw:.2f} ms); "
                 f"<= 0.5 x runc: {'met' if sw <= 0.5 * stats['runc']['median'] else 'MISSED'}")
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"stats": stats, "samples_ms": {t.name: t.samples_ms for t in tools}}, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    b = sub.add_parser("bundle", help="edit a `runc spec` config.json to match slipway's sandbox")
    b.add_argument("--bundle", required=True)
    b.add_argument("--rootfs", required=True)
    b.add_argument("--cgroups-path", required=True)
    b.add_argument("--seccomp-source", required=True, help="engine/runtime/seccomp.cc")
    b.set_defaults(func=cmd_bundle)

    r = sub.add_parser("run", help="time the tools")
    r.add_argument("--runs", type=int, default=200)
    r.add_argument("--warmup", type=int, default=5)
    r.add_argument("--slipway-state-dir", required=True, help="the runtime's state directory")
    r.add_argument("--rootfs", required=True)
    r.add_argument("--slipway", required=True, help="bench/runtime/sandbox_run")
    r.add_argument("--slipway-cgroup-parent", required=True)
    r.add_argument("--slipway-alt", action="append", default=[], metavar="LABEL=PATH",
                   help="another sandbox_run (by file name) or old one-shot slipway CLI to time "
                        "alongside (repeatable)")
    r.add_argument("--runc-bundle", required=True)
    r.add_argument("--runc-root", required=True)
    r.add_argument("--docker-host", help="unix://... of the private dockerd; omit to skip docker")
    r.add_argument("--docker-bin", default="docker")
    r.add_argument("--docker-image")
    r.add_argument("--docker-runs", type=int, default=50)
    r.add_argument("--docker-skip-reason", default="")
    r.add_argument("--json", help="also write every sample here")
    r.set_defaults(func=cmd_run)

    args = ap.parse_args()
    if args.cmd == "run" and args.runs < 2:
        ap.error("--runs must be at least 2")
    args.func(args)


if __name__ == "__main__":
    main()
