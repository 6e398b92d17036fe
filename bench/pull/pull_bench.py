#!/usr/bin/env python3
"""Pull + unpack benchmark: slipway vs skopeo+umoci (vs docker), side by side.

Driven by bench/pull/pull_bench.sh, which builds slipway and the image, starts
the registry and (when it can) a private dockerd, and pushes the image.

Each timed sample is the wall time of whole CLI invocations, from before fork
to after exit, into an empty store: what a CI job waits for on a fresh runner.
  slipway        `slipway pull IMAGE`, through a private slipwayd started
                 (untimed) on an empty data dir for that sample alone, and
                 stopped (untimed) after it (bench/pull/slipwayd_ctl.sh);
                 gzip inflated by ISA-L's igzip
  slipway (zlib) the same, slipwayd with SLIPWAY_GZIP_INFLATER=zlib
  skopeo+umoci   `skopeo copy docker://IMAGE oci:NEW:tag` + `umoci unpack`
  docker         `docker pull IMAGE`, after rmi + image prune -af
The tools run round-robin within each iteration, and the order rotates every
iteration, so a noisy moment hits every tool alike. Before each sample, and
untimed, the previous sample's files are removed and `sync` flushes every
dirty page, so no tool pays for another's writeback. The registry's blob
files stay in the page cache throughout (the same for every tool).

Besides the plain time, each sample also records the time until a `sync -f`
of the stores' filesystem right after the tool returns has finished: slipway fsyncs its
blobs and syncfs'es each snapshot before it returns, while umoci and dockerd
leave their writes in the page cache, so the plain figure alone would charge
slipway alone for durability.

The bound: `gzip -dc` (GNU gzip, one process, one core) over all of the
image's layer blobs as stored in the OCI layout, output to /dev/null; the
same with one `gzip -dc` per layer, all at once (every core: issue 17's
target is slipway at most 1.3x this); and Python's zlib, all timed in
the round-robin like a tool; plus `gzip -dc` of each layer alone (median of
--bound-reps, before the loop) for the per-layer table.

MB is 10^6 bytes throughout; throughput is compressed input bytes per second.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

MB = 1e6


def percentile(xs, p):
    """Linear interpolation between closest ranks (numpy's default)."""
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def sync(path=None):
    """`sync`, or with a path `sync -f` (syncfs): that filesystem only, so the
    timed flush does not also wait for other users' writes elsewhere."""
    subprocess.run(["sync", "-f", path] if path else ["sync"], check=True)


def remove(path):
    if os.path.lexists(path):
        shutil.rmtree(path)


def run_checked(cmd, what, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"{what} failed (exit {p.returncode}): {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p


def timed(cmd, what):
    """Runs cmd; returns (seconds, stdout)."""
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"{what} failed (exit {p.returncode}): {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return t, p.stdout


def load_layers(layout):
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    mdesc = index["manifests"][0]
    blob = lambda d: os.path.join(layout, "blobs", *d.split(":"))
    with open(blob(mdesc["digest"])) as f:
        manifest = json.load(f)
    names = {}
    try:
        with open(os.path.join(layout, "bench-layers.json")) as f:
            names = {l["digest"]: l for l in json.load(f)["layers"]}
    except OSError:
        pass
    layers = []
    for i, l in enumerate(manifest["layers"]):
        info = names.get(l["digest"], {})
        layers.append({
            "name": info.get("name", f"layer{i}"),
            "digest": l["digest"],
            "size": l["size"],
            "uncompressed": info.get("uncompressed"),
            "files": info.get("files"),
            "path": blob(l["digest"]),
        })
    return layers


# ---- the bound ----

def t_gzip(paths):
    t0 = time.monotonic()
    subprocess.run(["gzip", "-dc", *paths], stdout=subprocess.DEVNULL, check=True)
    return time.monotonic() - t0


def t_gzip_parallel(paths):
    """One `gzip -dc` per layer, all at once: the cores share them out."""
    t0 = time.monotonic()
    procs = [subprocess.Popen(["gzip", "-dc", p], stdout=subprocess.DEVNULL) for p in paths]
    for p in procs:
        if p.wait() != 0:
            sys.exit("gzip -dc failed")
    return time.monotonic() - t0


def t_zlib(paths):
    import zlib
    t0 = time.monotonic()
    for path in paths:
        d = zlib.decompressobj(31)
        with open(path, "rb") as f:
            while chunk := f.read(1 << 16):
                d.decompress(chunk)
        d.flush()
    return time.monotonic() - t0


def gzip_per_layer(layers, reps):
    """Median seconds of `gzip -dc` of each layer alone (for the per-layer table)."""
    t_gzip([l["path"] for l in layers])  # warm the page cache
    return [statistics.median(t_gzip([l["path"]]) for _ in range(reps)) for l in layers]


class Bound:
    """A pseudo-tool in the round-robin, so the bound sees the same moments
    of machine noise as the tools: one process decompressing every layer, one
    after the other, to nowhere."""

    def __init__(self, name, fn, layers):
        self.name, self.fn, self.paths = name, fn, [l["path"] for l in layers]

    def prepare(self, d):
        pass

    def run(self):
        return self.fn(self.paths), {}

    def clean(self):
        pass


# ---- the tools ----

class Slipway:
    """`slipway pull` through slipwayd. Every sample gets a slipwayd of its
    own on an empty data dir (the store), started in prepare() and stopped
    in clean(), so only the pull itself is timed; the registry is on
    loopback, which slipwayd pulls from over plain http. `env` goes into
    slipwayd's environment: SLIPWAY_GZIP_INFLATER=zlib for the fallback."""

    def __init__(self, args, layers, name="slipway", env=""):
        self.name, self.slipwayd_env = name, env
        self.bin, self.image, self.layers = args.slipway, args.image, layers
        self.state_root, self.cgroup_parent = args.slipway_state_root, args.slipway_cgroup_parent
        self.phases = []  # per sample: {layer name: (download start, download end, done)}, offsets
        self.samples = 0
        self.env = None
        # Starts and stops slipwayd through bench/lib/slipwayd.sh, on request;
        # stops it too if this process dies (its stdin then closes).
        self.ctl = subprocess.Popen(
            ["bash", os.path.join(os.path.dirname(os.path.abspath(__file__)), "slipwayd_ctl.sh"),
             args.slipwayd, args.slipway, args.slipway_monitor],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def _ctl(self, request):
        self.ctl.stdin.write(request + "\n")
        self.ctl.stdin.flush()
        answer = self.ctl.stdout.readline().split()
        if not answer or answer[0] != "ok":
            sys.exit(f"slipwayd_ctl.sh {request}: {' '.join(answer) or 'no answer'}")
        return answer[1:]

    def prepare(self, d):
        self.dir = os.path.join(d, "slipway")  # the data dir: images, snapshots, database
        self.samples += 1
        self.state = os.path.join(self.state_root, str(self.samples))
        host, token_file = self._ctl(f"start {self.slipwayd_env} {self.dir} {self.state} {self.cgroup_parent}")
        self.env = dict(os.environ, SLIPWAY_HOST=host, SLIPWAY_TOKEN_FILE=token_file)

    def run(self):
        # stderr is not a tty, so slipway prints one line per phase change of
        # each blob ("<12 hex>: downloading|unpacking|done ..."), unbuffered:
        # stamping the lines as they arrive splits the time into download and
        # unpack per layer without touching the engine.
        by_prefix = {l["digest"].split(":")[1][:12]: l["name"] for l in self.layers}
        stamps = {}
        t0 = time.monotonic()
        p = subprocess.Popen([self.bin, "pull", self.image], env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        err = []
        for line in p.stderr:
            now = time.monotonic() - t0
            err.append(line)
            prefix, _, rest = line.partition(": ")
            phase = rest.split(" ", 1)[0].strip()
            if prefix in by_prefix:
                stamps.setdefault(by_prefix[prefix], {}).setdefault(phase, now)
        out = p.stdout.read()
        rc = p.wait()
        t = time.monotonic() - t0
        if rc != 0:
            sys.exit(f"slipway pull failed (exit {rc}):\n{out}{''.join(err)}")
        snaps = [n for n in os.listdir(os.path.join(self.dir, "snapshots")) if not n.startswith("tmp-")]
        if len(snaps) != len(self.layers):
            sys.exit(f"slipway pull: {len(snaps)} snapshots, expected {len(self.layers)}")
        stamps["_exit"] = {"exit": t}
        self.phases.append(stamps)
        return t, {}

    def clean(self):
        self._ctl("stop")
        remove(self.dir)
        remove(self.state)

    def close(self):
        self.ctl.stdin.close()
        self.ctl.wait()


class SkopeoUmoci:
    name = "skopeo+umoci"

    def __init__(self, args, layers):
        self.image = args.image

    def prepare(self, d):
        self.oci = os.path.join(d, "oci")
        self.bundle = os.path.join(d, "bundle")

    def run(self):
        t_copy, _ = timed(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                           f"docker://{self.image}", f"oci:{self.oci}:bench"], "skopeo copy")
        t_unpack, _ = timed(["umoci", "unpack", "--image", f"{self.oci}:bench", self.bundle], "umoci unpack")
        return t_copy + t_unpack, {"skopeo copy": t_copy, "umoci unpack": t_unpack}

    def clean(self):
        remove(self.oci)
        remove(self.bundle)


class Docker:
    name = "docker"

    def __init__(self, args, layers):
        self.cmd = [args.docker_bin, "-H", args.docker_host]
        self.root = args.docker_root
        self.image = args.image
        self.nlayers = len(layers)

    def prepare(self, d):
        # Cold store: the image and every layer gone. rmi removes the image
        # and its layers (nothing else references them); prune -af catches
        # anything left. dockerd keeps only its digest -> diff_id cache,
        # which saves no download once the layers are gone: every run must
        # show one "Pull complete" per layer, checked below.
        subprocess.run(self.cmd + ["rmi", "-f", self.image], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        run_checked(self.cmd + ["image", "prune", "-af"], "docker image prune")
        left = run_checked(self.cmd + ["images", "-qa"], "docker images").stdout.split()
        layer_dirs = [n for n in os.listdir(os.path.join(self.root, "overlay2")) if n != "l"] \
            if os.path.isdir(os.path.join(self.root, "overlay2")) else []
        if left or layer_dirs:
            sys.exit(f"docker: store not empty before a run: images {left}, layer dirs {layer_dirs}")

    def run(self):
        t, out = timed(self.cmd + ["pull", self.image], "docker pull")
        complete = out.count("Pull complete")
        if complete != self.nlayers:
            sys.exit(f"docker pull: {complete} layers pulled, expected {self.nlayers}:\n{out}")
        return t, {}

    def clean(self):
        pass  # the next prepare() removes the image


# ---- report ----

def row(name, xs, mb):
    med = statistics.median(xs)
    return (f"| {name} | {len(xs)} | {med:.2f} | {percentile(xs, 10):.2f} | {percentile(xs, 90):.2f} "
            f"| {mb / med:.1f} |")


def slipway_profile(tool, layers, per_layer, gzip_total):
    """Median per-layer seconds from the phase stamps. A layer unpacks while
    it downloads: "downloading" is its download's start, "unpacking" the
    moment its last byte was in, "done" its snapshot's; so the unpack's
    tail is what it still took after the download."""
    lines = []
    names = [l["name"] for l in layers]
    ok = [s for s in tool.phases if all(n in s and {"downloading", "unpacking", "done"} <= s[n].keys()
                                        for n in names)]
    if not ok:
        return ["(no phase stamps parsed from slipway's progress lines)"]
    med = lambda f: statistics.median(f(s) for s in ok)
    lines.append("| layer | compressed MB | files | download s | download + unpack s | unpack's tail s "
                 "| gzip -dc s | gzip -dc MB/s |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for i, l in enumerate(layers):
        n = l["name"]
        dl = med(lambda s: s[n]["unpacking"] - s[n]["downloading"])
        both = med(lambda s: s[n]["done"] - s[n]["downloading"])
        tail = med(lambda s: s[n]["done"] - s[n]["unpacking"])
        g = per_layer[i]
        lines.append(f"| {n} | {l['size'] / MB:.1f} | {l['files'] or ''} | {dl:.2f} | {both:.2f} | {tail:.2f} | "
                     f"{g:.2f} | {l['size'] / MB / g:.1f} |")
    first_dl = med(lambda s: min(s[n]["downloading"] for n in names))
    last_dl = med(lambda s: max(s[n]["unpacking"] for n in names))
    last_done = med(lambda s: max(s[n]["done"] for n in names))
    exit_t = med(lambda s: s["_exit"]["exit"])
    lines.append("")
    lines.append(f"slipway timeline (medians, s from launch): first layer download starts {first_dl:.2f} "
                 f"(store open, manifest, config); last download ends {last_dl:.2f}; last unpack ends "
                 f"{last_done:.2f}; exit {exit_t:.2f} (gzip -dc of all layers: {gzip_total:.2f} s).")
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--layout", required=True)
    ap.add_argument("--slipway", required=True, help="the slipway CLI")
    ap.add_argument("--slipwayd", required=True)
    ap.add_argument("--slipway-monitor", required=True)
    ap.add_argument("--slipway-state-root", required=True,
                    help="each sample's slipwayd gets a new state dir below it")
    ap.add_argument("--slipway-cgroup-parent", required=True)
    ap.add_argument("--docker-host")
    ap.add_argument("--docker-bin", default="docker")
    ap.add_argument("--docker-root")
    ap.add_argument("--docker-skip-reason")
    ap.add_argument("--bound-reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="leave skopeo+umoci out (the slowest peer)")
    ap.add_argument("--json")
    args = ap.parse_args()

    layers = load_layers(args.layout)
    total = sum(l["size"] for l in layers)
    mb = total / MB
    os.makedirs(args.workdir, exist_ok=True)

    print(f"== gzip -dc of each layer ({mb:.1f} MB in all)", file=sys.stderr)
    per_layer = gzip_per_layer(layers, args.bound_reps)

    tools = [Slipway(args, layers), Slipway(args, layers, "slipway (zlib)", "SLIPWAY_GZIP_INFLATER=zlib")]
    if not args.quick:
        tools.append(SkopeoUmoci(args, layers))
    if args.docker_host:
        tools.append(Docker(args, layers))
    bounds = [Bound("gzip -dc", t_gzip, layers), Bound("gzip -dc parallel", t_gzip_parallel, layers),
              Bound("zlib", t_zlib, layers)]
    tools += bounds
    samples = {t.name: [] for t in tools}
    durable = {t.name: [] for t in tools}
    parts = {t.name: {} for t in tools}

    load_start = os.getloadavg()
    for it in range(args.runs):
        k = it % len(tools)
        for tool in tools[k:] + tools[:k]:
            d = os.path.join(args.workdir, f"{it}")
            os.makedirs(d, exist_ok=True)
            tool.prepare(d)
            sync()
            t0 = time.monotonic()
            t, split = tool.run()
            sync(args.workdir)
            durable[tool.name].append(time.monotonic() - t0)
            samples[tool.name].append(t)
            for key, v in split.items():
                parts[tool.name].setdefault(key, []).append(v)
            tool.clean()
            remove(d)
        print(f"   iteration {it + 1}/{args.runs}: " +
              ", ".join(f"{n} {samples[n][-1]:.2f}s" for n in samples), file=sys.stderr)
    for t in tools:
        if isinstance(t, Slipway):
            t.close()  # the slipwayd_ctl.sh helpers (no slipwayd is running by now)

    uname = platform.uname()
    print(f"\nPull + unpack of {args.image}: {len(layers)} gzip layers, {mb:.1f} MB compressed, "
          f"{sum(l['uncompressed'] or 0 for l in layers) / MB:.1f} MB uncompressed, "
          f"{sum(l['files'] or 0 for l in layers)} files")
    print(f"Machine: {os.cpu_count()} cores, Linux {uname.release}, store on "
          f"{subprocess.run(['findmnt', '-no', 'FSTYPE', '-T', args.workdir], capture_output=True, text=True).stdout.strip() or '?'}; "
          f"{args.runs} interleaved iterations; load average {load_start[0]:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after (1-minute)\n")
    print("| tool | runs | median s | p10 | p90 | MB/s (compressed) |")
    print("|---|---|---|---|---|---|")
    real = [t for t in tools if not isinstance(t, Bound)]
    for t in real:
        print(row(t.name, samples[t.name], mb))
    print(row("bound: `gzip -dc` of all layers, 1 core", samples["gzip -dc"], mb))
    print(row("bound: `gzip -dc` of each layer, all at once", samples["gzip -dc parallel"], mb))
    print(row("(Python zlib inflate of all layers, 1 core)", samples["zlib"], mb))
    g = statistics.median(samples["gzip -dc"])
    med = {n: statistics.median(xs) for n, xs in samples.items()}
    par = med["gzip -dc parallel"]
    print("\nRatios of medians (issue 17's targets: slipway <= 1.3x the parallel `gzip -dc`, "
          "docker >= 3x slipway):\n")
    print("| tool | / parallel gzip -dc | / 1-core gzip -dc | docker / tool |")
    print("|---|---|---|---|")
    for t in real:
        dk = f"{med['docker'] / med[t.name]:.2f}" if "docker" in med else "n/a"
        print(f"| {t.name} | {med[t.name] / par:.2f} | {med[t.name] / g:.2f} | {dk} |")
    two = max(max(per_layer), sum(per_layer) / 2)
    print(f"\nA perfect split of `gzip -dc` over 2 cores would take {two:.2f} s ({mb / two:.1f} MB/s): "
          f"max(largest layer {max(per_layer):.2f} s, all layers / 2 = {sum(per_layer) / 2:.2f} s).")
    if args.docker_skip_reason:
        print(f"\ndocker skipped: {args.docker_skip_reason}")

    print("\nUntil the data is on disk (the tool, then `sync -f` of the stores' filesystem):\n")
    print("| tool | runs | median s | p10 | p90 | MB/s (compressed) |")
    print("|---|---|---|---|---|---|")
    for t in real:
        print(row(t.name + " + sync", durable[t.name], mb))

    for t in real:
        for key, xs in parts[t.name].items():
            print(f"\n{t.name}: {key} median {statistics.median(xs):.2f} s "
                  f"(p10 {percentile(xs, 10):.2f}, p90 {percentile(xs, 90):.2f})", end="")
    print("\n")
    print("\n".join(slipway_profile(tools[0], layers, per_layer, g)))

    if args.json:
        for b in bounds:
            del durable[b.name]
        with open(args.json, "w") as f:
            json.dump({"image": args.image, "layers": [{k: v for k, v in l.items() if k != "path"} for l in layers],
                       "samples": samples, "durable": durable, "parts": parts, "gzip_per_layer": per_layer,
                       "slipway_phases": tools[0].phases}, f, indent=1)


if __name__ == "__main__":
    main()
