# What the pipeline and webhook benches share, sourced after bench_init,
# bench/lib/slipwayd.sh and bench_workdir:
#   pipeline_fixture MAX_RUNS
# builds slipwayd, makes the busybox image with /bin/clock-ns
# (bench/pipelines/clock_ns.c, static: it prints CLOCK_REALTIME, which
# busybox's date cannot), a bare repository $work/repo.git with two branches
# whose one step runs `clock-ns` (latency) and `true` (true), starts a private
# slipwayd with --max-runs MAX_RUNS and imports the image into it.
# Sets latency_commit and true_commit.

pipeline_fixture() {
  local max_runs=$1
  echo "== building slipwayd, slipway, slipway-monitor (${bazel_flags[*]})" >&2
  slipwayd_build "${bazel_flags[@]}"

  echo "== the busybox image, with /bin/clock-ns" >&2
  bash bench/make_rootfs.sh "$work/rootfs" >&2
  gcc -static -O2 -o "$work/rootfs/bin/clock-ns" bench/pipelines/clock_ns.c
  tar -C "$work/rootfs" -cf "$work/busybox.tar" .

  echo "== the repository: branches latency (clock-ns) and true" >&2
  git_() { git -c user.name=bench -c user.email=bench@localhost -c init.defaultBranch=main "$@"; }
  git_ init -q --bare "$work/repo.git"
  git_ init -q "$work/clone"
  local branch command
  for branch in latency true; do
    command=clock-ns
    [ "$branch" = true ] && command=true
    git_ -C "$work/clone" checkout -q -B "$branch"
    printf 'steps:\n  - name: stamp\n    image: busybox\n    commands: ["%s"]\n' "$command" >"$work/clone/.slipway.yml"
    git_ -C "$work/clone" add .slipway.yml
    git_ -C "$work/clone" commit -q -m "$branch"
    git_ -C "$work/clone" push -q "$work/repo.git" "$branch"
  done
  latency_commit=$(git_ -C "$work/repo.git" rev-parse latency)
  true_commit=$(git_ -C "$work/repo.git" rev-parse true)

  echo "== starting a private slipwayd (--max-runs $max_runs)" >&2
  slipwayd_start "$work/slipway-data" "$run/slipway-state" "$tag" --max-runs "$max_runs" || return 1
  echo "   on $SLIPWAY_HOST, log $slipwayd_log" >&2
  "$slipway_bin" import "$work/busybox.tar" busybox >&2
}
