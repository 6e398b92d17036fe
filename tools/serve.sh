#!/usr/bin/env bash
# Installs everything, builds and installs Slipway, and starts it with its
# embedded defaults: slipwayd on 127.0.0.1:7780 (SQLite and the image store
# under /var/lib/slipway), plus a local registry on 127.0.0.1:5000 for images
# to be pushed to. Imports a busybox image so that `slipway run busybox ...`
# works at once. Needs root. Stop it with: kill "$(cat /run/slipwayd.pid)".
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh
bazel build //service/daemon:slipwayd //service/cli:slipway
bin=$(bazel info bazel-bin 2>/dev/null)
install -m 0755 "$bin/service/daemon/slipwayd" "$bin/service/daemon/slipway-monitor" \
  "$bin/service/cli/slipway" /usr/local/bin/

health() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" 2>/dev/null; }
wait_healthy() {
  for _ in $(seq 100); do health "$1" && return 0; sleep 0.1; done
  echo "$2 did not come up; see $3" >&2
  return 1
}

# slipwayd's data dir is root's alone (it refuses one that others can open
# and that holds files it did not make), so it is made 0700 before the
# registry's data goes into it.
install -d -m 0700 /var/lib/slipway

# The registry images are pushed to (docker-registry, the distribution
# project's server), with its data next to Slipway's.
mkdir -p /var/lib/slipway/registry /var/log/slipway
if ! health http://127.0.0.1:5000/v2/; then
  cat >/var/lib/slipway/registry/config.yml <<'EOF'
version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/slipway/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
EOF
  setsid docker-registry serve /var/lib/slipway/registry/config.yml \
    >>/var/log/slipway/registry.log 2>&1 </dev/null &
  echo $! >/run/slipway-registry.pid
  wait_healthy http://127.0.0.1:5000/v2/ "the registry" /var/log/slipway/registry.log
fi

if ! health http://127.0.0.1:7780/healthz; then
  setsid slipwayd --log-file /var/log/slipway/slipwayd.log </dev/null >/dev/null 2>>/var/log/slipway/slipwayd.log &
  echo $! >/run/slipwayd.pid
  wait_healthy http://127.0.0.1:7780/healthz slipwayd /var/log/slipway/slipwayd.log
fi

if ! slipway inspect busybox >/dev/null 2>&1; then
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs" "$rootfs.tar"' EXIT
  bash bench/make_rootfs.sh "$rootfs"
  tar -C "$rootfs" -cf "$rootfs.tar" .
  slipway import "$rootfs.tar" busybox
fi

cat <<EOF
slipwayd runs (pid $(cat /run/slipwayd.pid 2>/dev/null || echo "?"), log /var/log/slipway/slipwayd.log),
API on http://127.0.0.1:7780, registry on 127.0.0.1:5000. Try:
  slipway run --rm --memory 64m busybox sh -c 'echo hello from \$(hostname)'
  slipway tag busybox localhost:5000/tools/busybox:1 && slipway push localhost:5000/tools/busybox:1
EOF
