#!/usr/bin/env bash
# Usage: bench/cli_start.sh               (needs root: a private slipwayd)
#   ITER=N            timed rounds (default 200)
#   OLD_REV=REV       the commit to compare with (default e03d1af, before issue 17)
#   OLD_SLIPWAY=FILE  an already built old slipway instead of building OLD_REV
#   BAZEL_FLAGS=...   how to build (default "-c opt")
#   BENCH_JSON=FILE   every sample
#
# The CLI's own start (issue 17): `slipway --help`, `slipway version`,
# `slipway ps` and `slipway run --rm busybox true` (busybox from
# bench/make_rootfs.sh) of this tree and of OLD_REV, paired in the same rounds,
# side by side with /bin/true and a trivial C++ program linked with the
# same libstdc++ (bench/cli_start.py). OLD_REV is built from `git archive`
# in the temp dir, in a Bazel workspace of its own, removed at exit (the
# shared disk cache keeps what it compiled).
set -euo pipefail

iter=${ITER:-200}
old_rev=${OLD_REV:-e03d1af}
read -r -a bazel_flags <<<"${BAZEL_FLAGS:--c opt}"
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

. "$repo/bench/lib/common.sh"    # bench_init, bench_workdir, bench_cleanup_dirs
bench_init cli_start.sh "a private slipwayd" python3 bazel curl g++ git
. "$repo/bench/lib/slipwayd.sh"  # slipwayd_build, slipwayd_start, slipwayd_stop

old_workspace=""
cleanup() {
  slipwayd_stop 15
  slipwayd_kill_strays "$work" "$tag"
  if [ -n "$old_workspace" ]; then  # its own Bazel server and output base
    (cd "$old_workspace" && bazel clean --expunge >/dev/null 2>&1 && bazel shutdown >/dev/null 2>&1) || true
  fi
  bench_cleanup_dirs
}
bench_workdir slipway-cli-start 64m

echo "== building slipwayd, slipway, slipway-monitor (${bazel_flags[*]})" >&2
slipwayd_build "${bazel_flags[@]}"
old_bin=${OLD_SLIPWAY:-}
if [ -z "$old_bin" ]; then
  echo "== building slipway at $old_rev" >&2
  old_workspace="$work/old-src"
  mkdir -p "$old_workspace"
  git -C "$repo" archive "$old_rev" | tar -x -C "$old_workspace"
  (cd "$old_workspace" && bazel build "${bazel_flags[@]}" --symlink_prefix=/ //service/cli:slipway >&2)
  cp "$(cd "$old_workspace" && bazel info "${bazel_flags[@]}" bazel-bin)/service/cli/slipway" "$work/slipway-old"
  old_bin="$work/slipway-old"
fi
printf '#include <string>\nint main(int argc, char**) { std::string s(argc, 0x78); return s.size() > 99; }\n' \
  >"$work/floor.cc"
g++ -O2 -o "$work/floor-cxx" "$work/floor.cc"

bash bench/make_rootfs.sh "$work/rootfs" >&2
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

echo "== starting a private slipwayd" >&2
slipwayd_start "$work/slipway-data" "$run/slipway-state" "$tag" || exit 1
"$slipway_bin" import "$work/busybox.tar" busybox >&2

echo "slipway (new): $( (ldd "$slipway_bin" 2>&1 || true) | awk '{print $1}' | tr '\n' ' ')"
echo "slipway ($old_rev): $( (ldd "$old_bin" 2>&1 || true) | awk '{print $1}' | tr '\n' ' ')"
python3 bench/cli_start.py --iter "$iter" --new "$slipway_bin" --old "$old_bin" --old-name "$old_rev" \
  --floor-cxx "$work/floor-cxx" ${BENCH_JSON:+--json "$BENCH_JSON"}
