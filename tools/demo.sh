#!/usr/bin/env bash
# Installs everything, builds slipway, makes a local busybox image (from
# Debian's busybox-static) and runs a command in a fully isolated sandbox on
# it. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh
bazel build //service/cli:slipway
slipway="$(bazel info bazel-bin 2>/dev/null)/service/cli/slipway"

if ! "$slipway" images | grep -qE '^busybox +local '; then
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs" "$rootfs.tar"' EXIT
  bash bench/make_rootfs.sh "$rootfs"
  tar -C "$rootfs" -cf "$rootfs.tar" .
  "$slipway" import "$rootfs.tar" busybox:local
fi

exec "$slipway" run --rm --memory 64m --cpus 0.5 --pids-limit 64 --timeout 30s busybox:local \
  sh -c 'echo "hello from $(hostname), pid $$"; ls /sys/class/net; grep Cap /proc/self/status'
