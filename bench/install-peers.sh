#!/usr/bin/env bash
# Installs, as root on Debian 12, what the benchmarks compare slipway with and
# drive it by, if it is missing. Called at the top of every bench/*.sh entry
# script; nothing is done (no apt-get at all) when everything is installed.
#   docker.io podman runc          the peers (runtime_start.sh, daemon_start.sh)
#   skopeo umoci docker-registry   the pull peers and the local registry (pull/pull_bench.sh)
#   wrk                            api_read.sh's load generator
#   linux-perf                     daemon_breakdown.sh's and step_gap_bench.sh's tracer
#   hyperfine                      ad-hoc timings (docs/performance.md)
#   busybox-static python3         every bench's rootfs (make_rootfs.sh) and driver
set -euo pipefail

packages=(
  docker.io podman runc
  skopeo umoci docker-registry
  wrk linux-perf hyperfine
  busybox-static python3
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
