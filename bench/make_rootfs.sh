#!/usr/bin/env bash
# Usage: bench/make_rootfs.sh DIR
#
# Builds a minimal busybox root filesystem in DIR from Debian's busybox-static
# (apt-get install busybox-static): /bin/busybox, one symlink per applet, a
# root user and group, and the empty mount points the runtime mounts over.
# The same tree serves slipway (--rootfs DIR), runc (bundle/rootfs) and docker
# (imported as an image), so every tool starts the very same binary.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
busybox=/bin/busybox

# The static build matters: the rootfs has no libc, so a dynamically linked
# busybox (Debian's `busybox` package) would not run inside it. ldd fails on
# a static binary.
if [ ! -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
  echo "$busybox is missing or not static: apt-get install -y busybox-static" >&2
  exit 1
fi

mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root}
chmod 1777 "$dir/tmp"
chmod 0700 "$dir/root"

# Copy (not link) the binary: the rootfs must not depend on the host's file.
install -m 0755 "$busybox" "$dir/bin/busybox"

# `busybox --list-full` gives each applet's conventional path (bin/sh,
# usr/bin/env, sbin/ip, ...). Every link points at /bin/busybox by absolute
# path, which resolves inside the sandbox's root.
"$busybox" --list-full | while read -r applet; do
  case "$applet" in
    ""|bin/busybox) continue ;;  # never replace the binary with a link to itself
  esac
  mkdir -p "$dir/$(dirname "$applet")"
  ln -sfn /bin/busybox "$dir/$applet"
done

cat >"$dir/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$dir/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF

echo "busybox rootfs ready in $dir ($("$busybox" --list | wc -l) applets)"
