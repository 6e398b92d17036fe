#!/usr/bin/env bash
# Installs what the tests need and runs every test. Needs root: the tests use
# real namespaces, mounts and cgroups.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh

set +e
bazel test //... 2>&1 | tee /tmp/slipway-test.log
status=${PIPESTATUS[0]}
set -e

# One plain closing line for CI, counted from Bazel's per-target summary.
passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' /tmp/slipway-test.log || true)
failed=$(grep -cE '^//[^ ]+ +(FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD)' /tmp/slipway-test.log || true)
echo "${passed} passed, ${failed} failed"
exit "$status"
