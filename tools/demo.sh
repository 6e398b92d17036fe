#!/usr/bin/env bash
# Installs everything, builds slipway, makes a busybox root filesystem and runs
# a command in a fully isolated sandbox on it. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh
bazel build //service/cli:slipway
rootfs=/var/lib/slipway/rootfs/busybox
[ -x "$rootfs/bin/busybox" ] || bash bench/make_rootfs.sh "$rootfs"

exec ./bazel-bin/service/cli/slipway run --rm --memory 64m --cpus 0.5 --pids-limit 64 --timeout 30s \
  --rootfs "$rootfs" sh -c 'echo "hello from $(hostname), pid $$"; ls /sys/class/net; grep Cap /proc/self/status'
