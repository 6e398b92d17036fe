#!/usr/bin/env python3
"""Where the time of `slipway run --rm IMAGE true` through slipwayd goes.

Reads `perf script` output of system-wide perf recordings made by
bench/daemon_breakdown.sh and keeps only the process tree of the private
slipwayd and of the shell that ran the CLI (ROOTS: their pids), followed
through sched_process_fork, so other work on the machine is left out.

  timeline FILE ROOTS   per-run phases, from tracepoints only (exec, fork,
                        exit, cgroup_attach_task, connect, recvfrom): cheap
                        enough not to change what it measures
  offcpu FILE ROOTS N   time spent blocked in the kernel, per run (N runs),
                        by process, system call and kernel wait chain, from
                        sched_switch with call graphs; waits for another
                        process (poll, epoll, wait4, futex, sleep) left out
"""

import collections
import re
import statistics
import sys

HEADER = re.compile(r"^\s*(\S.*?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$")
FORK = re.compile(r"pid=(\d+) child_comm=.* child_pid=(\d+)")
TRUE_EXEC = re.compile(r"filename=\S*/true\b")  # the command, wherever $PATH found it


def read_events(path, with_stacks=False):
    """[(ms, event, fields, comm, pid, tid, stack)]; stack: innermost first."""
    events, cur = [], None
    with open(path, errors="replace") as f:
        for line in f:
            m = HEADER.match(line)
            if m:
                comm, pid, tid, _cpu, t, name, rest = m.groups()
                cur = (float(t) * 1000, name, rest, comm.strip(), int(pid), int(tid), [])
                events.append(cur)
            elif with_stacks and cur is not None and line.strip():
                parts = line.split()
                if len(parts) >= 2:
                    cur[6].append(parts[1].split("+")[0])
    return events


def process_tree(events, roots):
    """The pids and tids descended from `roots` (processes or threads of them)."""
    tgid = {e[5]: e[4] for e in events}
    ours = set(roots)
    for _t, name, rest, _comm, _pid, _tid, _st in events:
        if name == "sched:sched_process_fork":
            m = FORK.search(rest)
            if m and tgid.get(int(m.group(1)), int(m.group(1))) in ours:
                ours.add(int(m.group(2)))
    return ours, {tid for tid, pid in tgid.items() if pid in ours} | ours


PHASES = [
    ("CLI start: exec to first connect", "cli_exec", "connect0"),
    ("POST /containers (create), round trip", "connect0", "recv0"),
    ("attach sent to slipway-monitor exec'd (queue, threads, spawn)", "recv0", "mon_exec"),
    ("slipway-monitor: exec, daemonize, cgroups, to clone of the sandbox", "mon_exec", "sandbox_fork"),
    ("sandbox joins its cgroups (cgroup.procs writes)", "sandbox_fork", "cg_last"),
    ("  of which the first write (an RCU grace period)", "sandbox_fork", "cg_first"),
    ("namespaces, mounts, seccomp, to exec of the command", "cg_last", "cmd_exec"),
    ("the command runs (/bin/true)", "cmd_exec", "cmd_exit"),
    ("slipway-monitor: reap, statistics, clean-up, result, exit", "cmd_exit", "mon_exit"),
    ("slipwayd: end recorded, final frame received by the CLI", "mon_exit", "recv_last"),
    ("CLI exit", "recv_last", "cli_exit"),
]

# A warm start (slipwayd's sandbox pool): no monitor is exec'd for the run; a
# pooled one, possibly started before the recording, gets the spec and its
# waiting init execs the command. Such runs are split here instead.
POOLED_PHASES = [
    ("CLI start: exec to first connect", "cli_exec", "connect0"),
    ("POST /containers (create), round trip", "connect0", "recv0"),
    ("attach sent to the command exec'd (queue, threads, hand-over, root, seccomp)", "recv0", "cmd_exec"),
    ("the command runs (/bin/true)", "cmd_exec", "cmd_exit"),
    ("slipway-monitor: reap, statistics, clean-up, result, exit", "cmd_exit", "mon_exit"),
    ("slipwayd: end recorded, final frame received by the CLI", "mon_exit", "recv_last"),
    ("CLI exit", "recv_last", "cli_exit"),
]


def cmd_timeline(path, roots):
    events = read_events(path)
    ours, tids = process_tree(events, roots)
    runs, cur = [], None
    for t, name, rest, comm, pid, tid, _st in events:
        if cur is not None and "mon_exec" not in cur:
            # A pooled start: its monitor may predate the recording (outside
            # the tree), so the command is known by its name, the monitor by
            # its comm.
            if name == "sched:sched_process_exec" and TRUE_EXEC.search(rest) and "cmd_exec" not in cur:
                cur["cmd_exec"], cur["pooled_pid"] = t, pid
                continue
            if name == "sched:sched_process_exit" and pid == cur.get("pooled_pid") and tid == pid:
                cur["cmd_exit"] = t
                continue
            if name == "sched:sched_process_exit" and comm.startswith("slipway-monito") and "cmd_exit" in cur \
                    and tid == pid:
                cur.setdefault("mon_exit", t)
                continue
        if pid not in ours and tid not in tids:
            continue
        if name == "sched:sched_process_exec" and "/service/cli/slipway" in rest:
            cur = {"cli_exec": t, "cli": pid, "recv": [], "connect": [], "mon_forks": []}
            runs.append(cur)
        elif cur is None:
            continue
        elif name == "syscalls:sys_enter_connect" and pid == cur["cli"]:
            cur["connect"].append(t)
        elif name == "syscalls:sys_exit_recvfrom" and pid == cur["cli"]:
            cur["recv"].append(t)
        elif name == "sched:sched_process_exec" and "slipway-monitor" in rest:
            cur["mon_exec"] = t
        elif name == "sched:sched_process_fork" and comm.startswith("slipway-monito"):
            cur["mon_forks"].append(t)  # the daemonizing fork, then the sandbox's clone
            if len(cur["mon_forks"]) == 2:
                cur["sandbox_pid"] = int(FORK.search(rest).group(2))
        elif name == "cgroup:cgroup_attach_task" and comm.startswith("slipway-monito"):
            cur.setdefault("cg_first", t)
            cur["cg_last"] = t
        elif name == "sched:sched_process_exec" and pid == cur.get("sandbox_pid"):
            cur["cmd_exec"] = t
        elif name == "sched:sched_process_exit" and pid == cur.get("sandbox_pid") and tid == pid:
            cur["cmd_exit"] = t
        elif name == "sched:sched_process_exit" and comm.startswith("slipway-monito") and "cmd_exit" in cur:
            cur.setdefault("mon_exit", t)
        elif name == "sched:sched_process_exit" and pid == cur["cli"] and tid == pid:
            cur["cli_exit"] = t
    tables = {"cold": collections.defaultdict(list), "pooled": collections.defaultdict(list)}
    for r in runs:
        # A monitor exec'd after the command is the pool's refill, not this start's.
        kind = "pooled" if "pooled_pid" in r and ("mon_exec" not in r or r["mon_exec"] > r["cmd_exec"]) else "cold"
        needed = ("cmd_exec", "cmd_exit", "mon_exit", "cli_exit")
        if kind == "cold":
            needed += ("mon_exec", "cg_first")
            if len(r["mon_forks"]) < 2:
                continue
            r["sandbox_fork"] = r["mon_forks"][1]
        if len(r["connect"]) < 2 or len(r["recv"]) < 3 or not all(k in r for k in needed):
            continue
        r.update(connect0=r["connect"][0], recv0=r["recv"][0])
        # The final frame: the first read after the monitor has exited.
        after = [x for x in r["recv"] if x > r["mon_exit"]]
        if not after:
            continue
        r["recv_last"] = after[0]
        table = tables[kind]
        for label, a, b in (POOLED_PHASES if kind == "pooled" else PHASES):
            table[label].append(r[b] - r[a])
        table["TOTAL: CLI exec to CLI exit"].append(r["cli_exit"] - r["cli_exec"])
    phases, pooled = tables["cold"], tables["pooled"]
    complete = len(phases["TOTAL: CLI exec to CLI exit"])
    complete_pooled = len(pooled["TOTAL: CLI exec to CLI exit"])
    print(f"{complete} complete cold runs and {complete_pooled} complete pooled runs "
          f"(of {len(runs)} CLI executions seen)")
    for title, table, n in (("cold starts (a monitor spawned)", phases, complete),
                            ("warm starts (a pooled monitor)", pooled, complete_pooled)):
        if n < 2:
            continue
        print(f"\n{title}, {n} runs\n")
        print("| phase | median ms | p10 ms | p90 ms | mean ms |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for label, v in table.items():
            q = statistics.quantiles(v, n=10, method="inclusive")
            print(f"| {label} | {statistics.median(v):.2f} | {q[0]:.2f} | {q[8]:.2f} | {statistics.fmean(v):.2f} |")


# Blocking that is only waiting for another process of the tree.
IDLE = ("do_epoll_wait", "poll_schedule_timeout", "do_sys_poll", "do_wait", "futex_", "do_nanosleep",
        "signalfd_read", "hrtimer_nanosleep", "do_select", "inet_csk_accept", "pipe_read", "anon_pipe_read",
        "unix_stream_read", "tcp_recvmsg", "sk_wait_data")
SKIP = {"__schedule", "schedule", "schedule_timeout", "wait_for_completion", "__wait_for_common",
        "wait_for_common", "io_schedule", "schedule_preempt_disabled", "preempt_schedule",
        "__cond_resched", "schedule_hrtimeout_range", "schedule_hrtimeout_range_clock"}


def cmd_offcpu(path, roots, nruns):
    events = read_events(path, with_stacks=True)
    _ours, tids = process_tree(events, roots)
    switch = re.compile(r"prev_comm=(.*?) prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> "
                        r"next_comm=(.*?) next_pid=(\d+)")
    out_at, total, count = {}, collections.defaultdict(float), collections.Counter()
    for t, name, rest, _comm, _pid, _tid, stack in events:
        if name != "sched:sched_switch":
            continue
        m = switch.search(rest)
        if not m:
            continue
        prev, state, nxt = int(m.group(2)), m.group(3), int(m.group(5))
        if prev in tids and not state.startswith("R"):
            frames = [f for f in stack if f not in SKIP and not f.startswith(("[", "__traceiter", "perf_"))]
            chain, syscall = [], ""
            for f in frames:
                if f.startswith(("__x64_sys_", "__do_sys_", "__se_sys_")):
                    syscall = f.replace("__x64_sys_", "").replace("__do_sys_", "").replace("__se_sys_", "")
                    break
                if f.startswith(("do_syscall", "entry_SYSCALL")):
                    break
                chain.append(f)
            out_at[prev] = (t, (m.group(1), syscall, " < ".join(chain[:5])))
        if nxt in out_at:
            t0, key = out_at.pop(nxt)
            total[key] += t - t0
            count[key] += 1
    print(f"Blocked in the kernel, per run ({nruns} runs); waits for other processes left out")
    print("| ms per run | times per run | process | system call | kernel wait (innermost first) |")
    print("| ---: | ---: | --- | --- | --- |")
    shown = 0
    for key, ms in sorted(total.items(), key=lambda kv: -kv[1]):
        if any(any(i in f for i in IDLE) for f in key[2].split(" < ")[:2]) or ms / nruns < 0.05:
            continue
        print(f"| {ms / nruns:.2f} | {count[key] / nruns:.1f} | {key[0]} | {key[1]} | {key[2]} |")
        shown += 1
        if shown == 15:
            break


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("timeline", "offcpu"):
        sys.exit(__doc__)
    roots = {int(x) for x in sys.argv[3].split(",")}
    if sys.argv[1] == "timeline":
        cmd_timeline(sys.argv[2], roots)
    else:
        cmd_offcpu(sys.argv[2], roots, int(sys.argv[4]))


if __name__ == "__main__":
    main()
