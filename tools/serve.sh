#!/usr/bin/env bash
# Installs everything, builds the Debian package and installs it (as
# docs/install.md says), and makes sure slipwayd runs: the package's
# postinst starts the systemd unit where systemd runs; elsewhere (a
# container) slipwayd is started here, as the unit's ExecStart line does.
# Plus a local registry on 127.0.0.1:5000 for images to be pushed to, and a
# busybox image so that `slipway run busybox ...` works at once;
# `slipway run hello-world` works from the package alone. Needs root.
# Without systemd, stop it with: kill "$(cat /run/slipwayd.pid)".
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh
bazel build //packaging:deb
version=$(sed -n 's/^VERSION = "\(.*\)"$/\1/p' packaging/version.bzl)
deb="$(bazel info bazel-bin 2>/dev/null)/packaging/slipway_${version}_amd64.deb"
# apt-get resolves Depends (the runtime libraries, already here with their
# -dev packages); --reinstall makes a rebuilt package of the same version count.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "$deb"
for old in /usr/local/bin/slipway /usr/local/bin/slipwayd /usr/local/bin/slipway-monitor; do
  [[ -e "$old" ]] && echo "note: $old (from an older serve.sh) comes first in PATH; remove it" >&2
done

health() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" 2>/dev/null; }
wait_healthy() {
  for _ in $(seq 100); do health "$1" && return 0; sleep 0.1; done
  echo "$2 did not come up; see $3" >&2
  return 1
}

# The registry images are pushed to (docker-registry, the distribution
# project's server), with its data next to Slipway's (postinst made
# /var/lib/slipway root's, 0700).
mkdir -p /var/lib/slipway/registry /var/log/slipway
if ! health http://127.0.0.1:5000/v2/; then
  cat >/var/lib/slipway/registry/config.yml <<'YAML'
version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/slipway/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
YAML
  setsid docker-registry serve /var/lib/slipway/registry/config.yml \
    >>/var/log/slipway/registry.log 2>&1 </dev/null &
  echo $! >/run/slipway-registry.pid
  wait_healthy http://127.0.0.1:5000/v2/ "the registry" /var/log/slipway/registry.log
fi

if ! health http://127.0.0.1:7780/healthz; then
  if [[ -d /run/systemd/system ]]; then
    systemctl start slipway.service
    log="journalctl -u slipway"
  else
    setsid /usr/sbin/slipwayd --config /etc/slipway/slipway.yaml --log-file /var/log/slipway/slipwayd.log \
      </dev/null >/dev/null 2>>/var/log/slipway/slipwayd.log &
    echo $! >/run/slipwayd.pid
    log=/var/log/slipway/slipwayd.log
  fi
  wait_healthy http://127.0.0.1:7780/healthz slipwayd "$log"
fi

if ! slipway inspect busybox >/dev/null 2>&1; then
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs" "$rootfs.tar"' EXIT
  bash bench/make_rootfs.sh "$rootfs"
  tar -C "$rootfs" -cf "$rootfs.tar" .
  slipway import "$rootfs.tar" busybox
fi

cat <<MSG
slipway $(dpkg-query -W -f='${Version}' slipway) is installed and slipwayd runs (API on http://127.0.0.1:7780),
registry on 127.0.0.1:5000. Try:
  slipway run hello-world
  slipway info
  slipway run --rm --memory 64m busybox sh -c 'echo hello from \$(hostname)'
  slipway tag busybox localhost:5000/tools/busybox:1 && slipway push localhost:5000/tools/busybox:1
MSG
