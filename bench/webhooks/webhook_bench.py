#!/usr/bin/env python3
"""Times webhooks through a running slipwayd (bench/webhooks/webhook_bench.sh
sets it up): a signed GitHub push delivery to the first step's process
running, and the answer latency of a burst of deliveries beside a floor
(GET /api/v1/info) measured in the same run.

  webhook_bench.py REPO_URL LATENCY_COMMIT TRUE_COMMIT RUNS BURST CONCURRENCY [JSON_OUT]

SLIPWAY_HOST and SLIPWAY_TOKEN_FILE name the daemon; its webhook address is
the same (--webhook-listen's default). The repository's branch `latency`
(at LATENCY_COMMIT) runs /bin/clock-ns, `true` (at TRUE_COMMIT) runs `true`.
"""
import concurrent.futures
import hashlib
import hmac
import http.client
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipelines"))
from pipeline_bench import Api, await_run, frames, pct  # noqa: E402

SECRET = "bench-webhook-secret"
ZERO = "0" * 40


def push_body(branch, commit, n):
    """A GitHub push event (the fields GitHub sends that Slipway reads, and
    the usual rest), as bytes."""
    repo = {"id": 1, "name": "app", "full_name": "bench/app", "private": False,
            "owner": {"login": "bench", "id": 1}, "html_url": "https://github.com/bench/app",
            "clone_url": "https://github.com/bench/app.git", "ssh_url": "git@github.com:bench/app.git",
            "default_branch": "main"}
    head = {"id": commit, "tree_id": "e" * 40, "distinct": True, "message": f"change {n}\n",
            "timestamp": "2026-12-07T13:00:00Z", "url": f"https://github.com/bench/app/commit/{commit}",
            "author": {"name": "bench", "email": "bench@localhost", "username": "bench"},
            "committer": {"name": "bench", "email": "bench@localhost", "username": "bench"},
            "added": [], "removed": [], "modified": [".slipway.yml"]}
    return json.dumps({"ref": f"refs/heads/{branch}", "before": ZERO, "after": commit, "created": True,
                       "deleted": False, "forced": False, "base_ref": None, "compare": "",
                       "commits": [head], "head_commit": head, "repository": repo,
                       "pusher": {"name": "bench", "email": "bench@localhost"},
                       "sender": {"login": "bench", "id": 1, "type": "User"}}).encode()


def delivery(body, delivery_id=None):
    return body, {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/bench",
                  "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
                  "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}


class Endpoint:
    def __init__(self, host):
        u = urllib.parse.urlsplit(host)
        self.host, self.port = u.hostname, u.port

    def request(self, method, path, body=None, headers=None):
        """A request on a connection of its own (as a forge sends each
        delivery): (status, body, ns taken)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        t0 = time.perf_counter_ns()
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        t1 = time.perf_counter_ns()
        conn.close()
        return r.status, data, t1 - t0


def latency(api, ep, commit, n):
    """POST sent -> clock-ns ran in the run's first step; and the answer."""
    from_sent, from_answer, answer = [], [], []
    for i in range(n + 3):  # 3 untimed warm-up deliveries
        body, headers = delivery(push_body("latency", commit, i))
        t0 = time.time_ns()
        status, data, took = ep.request("POST", "/hooks/github", body, headers)
        t1 = time.time_ns()
        if status not in (201, 202):
            sys.exit(f"delivery {i}: HTTP {status}: {data[:300]!r}")
        run = await_run(api, json.loads(data)["run"]["id"])
        if run["status"] != "success":
            sys.exit(f"latency run {run['id']} ended {run['status']}: {run.get('error')}")
        _, raw = api.call("GET", f"/api/v1/runs/{run['id']}/steps/stamp/logs")
        stamp = int(frames(raw).split()[0])
        if i < 3:
            continue
        from_sent.append((stamp - t0) / 1e6)
        from_answer.append((stamp - t1) / 1e6)
        answer.append(took / 1e6)
    return from_sent, from_answer, answer


def info_floor(ep, token, n):
    out = []
    for _ in range(n):
        status, _, took = ep.request("GET", "/api/v1/info", headers={"Authorization": "Bearer " + token})
        if status != 200:
            sys.exit(f"GET /api/v1/info: HTTP {status}")
        out.append(took / 1e6)
    return out


def burst(api, ep, token, commit, count, concurrency):
    """`count` deliveries, `concurrency` in flight; every fifth a replay of
    an earlier one. GET /api/v1/info runs one after another meanwhile."""
    sends, firsts = [], []
    for i in range(count):
        if i % 5 == 4:
            sends.append(sends[i - 2])  # a replay: same id, same body
        else:
            sends.append(delivery(push_body("true", commit, i)))
            firsts.append(i)
    answers = [None] * count
    info_ms, stop = [], threading.Event()

    def probe():
        while not stop.is_set():
            status, _, took = ep.request("GET", "/api/v1/info", headers={"Authorization": "Bearer " + token})
            if status != 200:
                sys.exit(f"GET /api/v1/info during the burst: HTTP {status}")
            info_ms.append(took / 1e6)

    def send(i):
        body, headers = sends[i]
        answers[i] = ep.request("POST", "/hooks/github", body, headers)

    prober = threading.Thread(target=probe)
    prober.start()
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(send, range(count)))
    span = time.perf_counter() - t0
    stop.set()
    prober.join()
    queued = sum(1 for s, _, _ in answers if s in (201, 202))
    duplicates = sum(1 for s, _, _ in answers if s == 200)
    bad = [(s, d[:200]) for s, d, _ in answers if s not in (200, 201, 202)]
    if bad:
        sys.exit(f"{len(bad)} deliveries refused, e.g. {bad[0]}")
    if queued != len(firsts):
        sys.exit(f"{queued} runs queued for {len(firsts)} distinct deliveries")
    # Let the runs (most cancelled by the next push of the branch) end.
    until = time.monotonic() + 300
    while True:
        info = api.json("GET", "/api/v1/info")
        if info.get("runs_running", 0) == 0 and info.get("runs_queued", 0) == 0:
            break
        if time.monotonic() > until:
            sys.exit(f"burst runs still going after 300 s: {info}")
        time.sleep(0.1)
    return [t / 1e6 for _, _, t in answers], info_ms, queued, duplicates, span


def main():
    repo_url, latency_commit, true_commit = sys.argv[1], sys.argv[2], sys.argv[3]
    n, count, concurrency = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    json_out = sys.argv[7] if len(sys.argv) > 7 else ""
    api = Api()
    ep = Endpoint(api.host)
    api.json("POST", "/api/v1/repos", {"name": "bench", "url": repo_url, "forge": "github",
                                       "full_name": "bench/app", "webhook_secret": SECRET}, want=201)

    print(f"== latency: {n} deliveries, one at a time", file=sys.stderr)
    from_sent, from_answer, answer = latency(api, ep, latency_commit, n)
    print("== floor: GET /api/v1/info, idle", file=sys.stderr)
    idle_info = info_floor(ep, api.token, 100)
    print(f"== burst: {count} deliveries, {concurrency} at a time", file=sys.stderr)
    burst_ms, burst_info, queued, duplicates, span = burst(api, ep, api.token, true_commit, count, concurrency)

    load = os.getloadavg()
    print(f"Machine: {os.cpu_count()} CPUs, kernel {os.uname().release}; "
          f"load average {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} at the end")
    print()
    print("| measure | n | median ms | p10 ms | p90 ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, v in [
        ("delivery POSTed → first step's process running", from_sent),
        ("delivery answered → first step's process running", from_answer),
        ("delivery answered (one at a time)", answer),
    ]:
        print(f"| {name} | {len(v)} | {statistics.median(v):.1f} | {pct(v, 10):.1f} | {pct(v, 90):.1f} |")
    print()
    print(f"Burst: {count} deliveries ({queued} queued a run, {duplicates} replays answered 200), "
          f"{concurrency} in flight, sent in {span:.2f} s.")
    print()
    print("| measure | n | median ms | p99 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, v in [
        ("webhook answered, during the burst", burst_ms),
        ("floor: GET /api/v1/info during the burst", burst_info),
        ("floor: GET /api/v1/info, idle", idle_info),
    ]:
        print(f"| {name} | {len(v)} | {statistics.median(v):.1f} | {pct(v, 99):.1f} | {max(v):.1f} |")
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"from_sent_ms": from_sent, "from_answer_ms": from_answer, "answer_ms": answer,
                       "idle_info_ms": idle_info, "burst_ms": burst_ms, "burst_info_ms": burst_info}, f, indent=1)


if __name__ == "__main__":
    main()
