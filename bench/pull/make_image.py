#!/usr/bin/env python3
"""Builds the multi-layer benchmark image as an OCI image layout, by hand.

Usage: make_image.py LAYOUT_DIR TAG BASE_ROOTFS

Five gzip layers (about 60 MB compressed, 190 MB uncompressed) made from real
files of this machine, so that compressibility and the mix of file sizes are
those of a real image rather than of random or zero bytes:

  1. base     the busybox rootfs built by bench/make_rootfs.sh (BASE_ROOTFS)
  2. libs     shared libraries from /usr/lib/x86_64-linux-gnu (big binaries)
  3. python   /usr/lib/python3.11 (thousands of small, very compressible files)
  4. share    /usr/share/{perl,i18n,cmake-3.25,mime} (text, some symlinks)
  5. locale   /usr/share/{locale,man} (.mo catalogues; man pages that are
              already gzipped, i.e. nearly incompressible)

PULL_BENCH_SHAPE=issue17 in the environment makes issue 17's shape instead:
three layers, about 190 MB compressed, two big ones (the base, then about
95 MB each of /usr/lib/x86_64-linux-gnu and of /usr/share), where the
default shape has many more files per compressed MB.

Each source is walked in sorted order and cut at a byte budget, so the same
machine gives the same image. Entries are owned by 0:0 and keep their modes
and mtimes; tar format is pax (as Docker and BuildKit write it); gzip is level
6 with a zero header mtime (as moby's default). The layout is what
`skopeo copy oci:LAYOUT:TAG ...` reads: oci-layout, index.json (the tag as
org.opencontainers.image.ref.name), blobs/sha256/*.

Prints one JSON line describing the layers (digests, compressed and
uncompressed sizes) on stdout.
"""

import hashlib
import json
import os
import stat
import sys
import tarfile
import zlib

MiB = 1 << 20

# (name, [(host dir, byte budget of regular-file content)])
LAYERS = [
    ("libs", [("/usr/lib/x86_64-linux-gnu", 75 * MiB)]),
    ("python", [("/usr/lib/python3.11", 45 * MiB)]),
    ("share", [("/usr/share/perl", 14 * MiB), ("/usr/share/i18n", 10 * MiB),
               ("/usr/share/cmake-3.25", 8 * MiB), ("/usr/share/mime", 4 * MiB)]),
    ("locale", [("/usr/share/locale", 20 * MiB), ("/usr/share/man", 12 * MiB)]),
]

# Issue 17's "190 MB, 3-layer image": the base and two big layers.
ISSUE17_LAYERS = [
    ("libs", [("/usr/lib/x86_64-linux-gnu", 250 * MiB)]),
    ("share", [("/usr/share", 215 * MiB)]),
]
SHAPES = {"default": LAYERS, "issue17": ISSUE17_LAYERS}

GZIP_LEVEL = 6  # moby compresses layers with gzip's default level
CREATED = "2026-01-01T00:00:00Z"


class LayerSink:
    """File-like object tarfile writes to: hashes the tar stream (diff_id),
    gzips it, and hashes and stores the compressed bytes (the blob digest)."""

    def __init__(self, path):
        self.out = open(path, "wb")
        self.diff = hashlib.sha256()
        self.blob = hashlib.sha256()
        # wbits=31: a gzip wrapper; zlib writes a zero mtime and no file name.
        self.z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
        self.raw = 0
        self.packed = 0

    def _emit(self, data):
        if data:
            self.blob.update(data)
            self.out.write(data)
            self.packed += len(data)

    def write(self, data):
        self.diff.update(data)
        self.raw += len(data)
        self._emit(self.z.compress(data))

    def close(self):
        self._emit(self.z.flush())
        self.out.close()


def normalize(info):
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def parent_dirs(tar, seen, relpath, host_root):
    """Adds entries for every parent directory of relpath, as image builders
    do, so each layer is self-contained. Always directories: on a merged-/usr
    host, /bin and /lib are symlinks, which the layer must not copy."""
    parts = relpath.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/".join(parts[:i])
        if d in seen:
            continue
        seen.add(d)
        info = tarfile.TarInfo(d)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        try:
            st = os.stat(os.path.join(host_root, d))
            info.mode, info.mtime = stat.S_IMODE(st.st_mode), int(st.st_mtime)
        except OSError:
            pass
        tar.addfile(normalize(info))


def add_tree(tar, seen, root, budget, arc_prefix=None):
    """Adds root's entries in sorted walk order until the next file would go
    past `budget` bytes of file content. Files bigger than a quarter of the
    budget are skipped (one libLLVM would be the whole layer), as are sockets,
    devices and unreadable files."""
    used = 0
    files = 0
    full = False
    base = arc_prefix if arc_prefix is not None else root.lstrip("/")
    host_root = root[: len(root) - len(base)] if base else root
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        arc_dir = base if rel_dir == "." else f"{base}/{rel_dir}" if base else rel_dir
        if arc_dir:
            parent_dirs(tar, seen, arc_dir + "/x", host_root)
        if arc_dir and arc_dir not in seen:
            seen.add(arc_dir)
            tar.addfile(normalize(tar.gettarinfo(dirpath, arcname=arc_dir)))
        for name in sorted(filenames):
            host = os.path.join(dirpath, name)
            arc = f"{arc_dir}/{name}" if arc_dir else name
            try:
                st = os.lstat(host)
            except OSError:
                continue
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                continue
            if stat.S_ISREG(st.st_mode):
                if st.st_size > budget // 4:
                    continue
                if used + st.st_size > budget:
                    full = True
                    break
                try:
                    with open(host, "rb") as f:
                        info = normalize(tar.gettarinfo(host, arcname=arc, fileobj=f))
                        if info.isreg():
                            tar.addfile(info, f)
                            used += st.st_size
                            files += 1
                        else:  # a hard link to a file already in the layer
                            tar.addfile(info)
                except OSError:
                    continue
            else:
                tar.addfile(normalize(tar.gettarinfo(host, arcname=arc)))
        if full:
            break
    return used, files


def write_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def build_layer(layout, name, fill):
    tmp = os.path.join(layout, "blobs", "sha256", f".tmp-{name}")
    sink = LayerSink(tmp)
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        used, files = fill(tar, set())
    sink.close()
    digest = sink.blob.hexdigest()
    os.rename(tmp, os.path.join(layout, "blobs", "sha256", digest))
    return {
        "name": name,
        "digest": "sha256:" + digest,
        "diff_id": "sha256:" + sink.diff.hexdigest(),
        "size": sink.packed,
        "uncompressed": sink.raw,
        "files": files,
        "file_bytes": used,
    }


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: make_image.py LAYOUT_DIR TAG BASE_ROOTFS")
    layout, tag, base_rootfs = sys.argv[1:]
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)

    shape = os.environ.get("PULL_BENCH_SHAPE", "default")
    if shape not in SHAPES:
        sys.exit(f"make_image.py: PULL_BENCH_SHAPE={shape}: not one of {', '.join(SHAPES)}")
    layers = [build_layer(layout, "base",
                          lambda tar, seen: add_tree(tar, seen, base_rootfs, 1 << 40, arc_prefix=""))]
    for name, sources in SHAPES[shape]:
        def fill(tar, seen, sources=sources):
            used = files = 0
            for root, budget in sources:
                u, n = add_tree(tar, seen, root, budget)
                used += u
                files += n
            return used, files
        layers.append(build_layer(layout, name, fill))

    config = {
        "created": CREATED,
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [l["diff_id"] for l in layers]},
        "history": [{"created": CREATED, "created_by": f"slipway bench/pull layer {l['name']}"}
                    for l in layers],
    }
    config_digest, config_size = write_blob(layout, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": l["digest"], "size": l["size"]} for l in layers],
    }
    manifest_digest, manifest_size = write_blob(layout, json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": manifest_digest, "size": manifest_size,
                       "annotations": {"org.opencontainers.image.ref.name": tag}}],
    }
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(json.dumps({"manifest": manifest_digest, "layers": layers}))


if __name__ == "__main__":
    main()
