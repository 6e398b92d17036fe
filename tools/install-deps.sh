#!/usr/bin/env bash
# Installs everything Slipway needs to build, run and test on Debian 12, as root.
set -euo pipefail

packages=(
  # Build (libc6-dev's libc.a links hello-world static; dpkg-dev's dpkg-shlibdeps
  # computes the package's Depends)
  bazel-bootstrap g++ libc6-dev dpkg-dev
  # Libraries (docs/dependencies.md says why each is here)
  libseccomp-dev libarchive-dev libssl-dev libsqlitecpp-dev libsqlite3-dev libgit2-dev
  libpistache-dev libcpp-httplib-dev nlohmann-json3-dev libyaml-cpp-dev libfmt-dev libcli11-dev
  zlib1g-dev libzstd-dev libpugixml-dev libisal-dev
  # The dashboard's JavaScript libraries, compiled into slipwayd (docs/dashboard.md)
  libjs-ansi-up libjs-chart.js
  # Tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev busybox-static iproute2 python3
  # Pipeline tests: real repositories (git CLI, git daemon, git http-backend under python3's
  # CGI server); ssh-keygen for known_hosts files
  git openssh-client
  # Registry client tests: a real registry, skopeo to cross-check, htpasswd -B, openssl for token certs
  docker-registry skopeo apache2-utils openssl
  # Test report samples written by the tools themselves (tests/pipelines/testdata/junit/README.md)
  python3-pytest cmake
  # Build compatibility tests and benchmarks: the reference builder
  buildah
  # Dashboard tests: a real browser, headless
  chromium chromium-driver python3-selenium
  # Package tests: systemd-analyze verify on the unit, readelf on the binaries, lintian
  systemd binutils lintian
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
