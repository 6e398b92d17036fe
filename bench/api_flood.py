#!/usr/bin/env python3
"""The flood of issue 11 against a running slipwayd on 127.0.0.1 (bench/api_flood.sh
starts one): IDLE connections opened and held by processes of their own (each
process holds at most 10,000: the open-file limit), and UPLOADERS clients
streaming BODY_BYTES bodies to POST /api/v1/containers, none with the token.
Meanwhile, every half second, GET /healthz and `slipway ps` (with the token)
are timed, and slipwayd's CPU is sampled every second. Stops by itself after
DURATION seconds, and stops what it started (by pid). Prints one JSON object.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"  # never anything else


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def hold_idle(port, count, seconds, report_fd):
    """Child process: opens `count` idle connections, holds them, then says
    how many the server had closed meanwhile."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks, failed = [], 0
    start = time.time()
    for _ in range(count):
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect((HOST, port))
            socks.append(s)
        except OSError:
            failed += 1
            s.close()
    opened_in = time.time() - start
    time.sleep(max(0.0, seconds - opened_in))
    still_open = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1) != b"":
                still_open += 1
        except BlockingIOError:
            still_open += 1
        except OSError:
            pass
    os.write(report_fd, json.dumps({"opened": len(socks), "failed": failed, "opened_in_s": round(opened_in, 2),
                                    "still_open_at_end": still_open}).encode())
    os._exit(0)


def uploader(port, body_bytes, stop, stats):
    head = (f"POST /api/v1/containers HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {body_bytes}\r\n\r\n").encode()
    piece = b"a" * (256 << 10)
    while not stop.is_set():
        s = socket.socket()
        s.settimeout(5)
        sent = 0
        try:
            s.connect((HOST, port))
            s.sendall(head)
            while sent < body_bytes and not stop.is_set():  # as a hostile client: never waits for an answer
                s.sendall(piece)
                sent += len(piece)
        except OSError:
            pass
        answer = b""
        try:
            answer = s.recv(4096)
        except OSError:
            pass
        s.close()
        with stats["lock"]:
            stats["uploads"] += 1
            stats["body_bytes_sent"] += sent
            if answer.startswith(b"HTTP/1.1 413"):
                stats["answered_413"] += 1


def healthz(port):
    start = time.time()
    try:
        s = socket.create_connection((HOST, port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        ok = s.recv(64).startswith(b"HTTP/1.1 200")
        s.close()
    except OSError:
        ok = False
    return time.time() - start, ok


PS_ERRORS = []


def ps(slipway):
    start = time.time()
    try:
        r = subprocess.run([slipway, "ps"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
        ok = r.returncode == 0
        if not ok:
            PS_ERRORS.append(r.stderr.decode(errors="replace").strip()[:300])
    except subprocess.TimeoutExpired:
        ok = False
        PS_ERRORS.append("timed out after 30 s")
    return time.time() - start, ok


def summary(samples):
    xs = sorted(t for t, _ in samples)
    if not xs:
        return {}
    return {"n": len(xs), "failed": sum(1 for _, ok in samples if not ok), "p50_ms": round(xs[len(xs) // 2] * 1000, 1),
            "p99_ms": round(xs[min(len(xs) - 1, int(len(xs) * 0.99))] * 1000, 1), "max_ms": round(xs[-1] * 1000, 1)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--slipway", required=True)
    p.add_argument("--idle", type=int, default=20000)
    p.add_argument("--per-process", type=int, default=10000)
    p.add_argument("--uploaders", type=int, default=8)
    p.add_argument("--body-bytes", type=int, default=10_000_000)
    p.add_argument("--duration", type=float, default=30)
    a = p.parse_args()

    deadline = time.time() + a.duration
    children = []  # (pid, read end of its report pipe)
    left = a.idle
    while left > 0:
        n = min(left, a.per_process)
        left -= n
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            hold_idle(a.port, n, a.duration, w)
        os.close(w)
        children.append((pid, r))

    stop = threading.Event()
    stats = {"lock": threading.Lock(), "uploads": 0, "body_bytes_sent": 0, "answered_413": 0}
    threads = [threading.Thread(target=uploader, args=(a.port, a.body_bytes, stop, stats), daemon=True)
               for _ in range(a.uploaders)]
    for t in threads:
        t.start()

    health, listing, cores, fds = [], [], [], []
    cpu_start, t_start = cpu_seconds(a.pid), time.time()
    last_cpu, last_t = cpu_start, t_start
    turn = 0
    try:
        while time.time() < deadline:
            if turn % 2 == 0:
                health.append(healthz(a.port))
            else:
                listing.append(ps(a.slipway))
            turn += 1
            time.sleep(0.5)
            now = time.time()
            if now - last_t >= 1:
                c = cpu_seconds(a.pid)
                cores.append((c - last_cpu) / (now - last_t))
                last_cpu, last_t = c, now
                fds.append(descriptors(a.pid))
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
        reports = []
        for pid, r in children:
            os.waitpid(pid, 0)
            data = os.read(r, 4096)
            os.close(r)
            reports.append(json.loads(data) if data else {"error": "no report"})
    elapsed = time.time() - t_start
    print(json.dumps({
        "idle_connections": {"asked": a.idle, "processes": reports},
        "uploads": {"clients": a.uploaders, "body_bytes": a.body_bytes, "done": stats["uploads"],
                    "answered_413": stats["answered_413"], "body_bytes_sent": stats["body_bytes_sent"]},
        "healthz": summary(health),
        "slipway_ps": summary(listing),
        "slipway_ps_errors": PS_ERRORS,
        "slipwayd_cores": {"mean": round((cpu_seconds(a.pid) - cpu_start) / elapsed, 3),
                           "max_1s": round(max(cores), 3) if cores else None},
        "slipwayd_fds_max": max(fds) if fds else None,
        "duration_s": round(elapsed, 1),
    }, indent=2))


if __name__ == "__main__":
    sys.exit(main())
