# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables are for the sourcing script
# Sourced by the benchmarks that go through the daemon (bench/daemon_start.sh,
# bench/api_read.sh): builds slipwayd, slipway and slipway-monitor, and
# starts and stops a private slipwayd that touches nothing of the machine's
# own (/var/lib/slipway, /run/slipway, port 7780, the `slipway` cgroups).
#
#   . bench/lib/slipwayd.sh
#   slipwayd_build -c opt                 # sets slipwayd_bin slipway_bin monitor_bin
#   slipwayd_start DATA_DIR STATE_DIR CGROUP_PARENT [EXTRA_SLIPWAYD_ARGS...] || exit 1
#   "$slipway_bin" ps                     # SLIPWAY_HOST and SLIPWAY_TOKEN_FILE are exported
#   ...
#   slipwayd_stop                         # in the caller's EXIT trap; a no-op if not started
#   cleanup() { slipwayd_cleanup; }       # or all of it: stop, strays, $work and cgroups removed
#
# slipwayd listens on a free 127.0.0.1 port, logs to DATA_DIR/../slipwayd.log
# and keeps its token in DATA_DIR/control.token. Removing the directories and
# cgroups is the caller's job (after slipwayd_stop).

slipwayd_pid=""
slipwayd_bin=""
slipway_bin=""
monitor_bin=""
slipwayd_log=""

# slipwayd_build [BAZEL_FLAGS...]: builds the three binaries. The work
# tree's bazel-* symlinks are left alone (--symlink_prefix=/): other people
# may be using them, and -c opt would repoint bazel-bin.
slipwayd_build() {
  bazel build "$@" --symlink_prefix=/ \
    //service/daemon:slipwayd //service/cli:slipway //engine/runtime:slipway-monitor >&2 || return 1
  local bin
  bin=$(bazel info "$@" bazel-bin 2>/dev/null) || return 1
  slipwayd_bin="$bin/service/daemon/slipwayd"
  slipway_bin="$bin/service/cli/slipway"
  monitor_bin="$bin/engine/runtime/slipway-monitor"
}

# slipwayd_start DATA_DIR STATE_DIR CGROUP_PARENT [EXTRA_SLIPWAYD_ARGS...]
slipwayd_start() {
  local data_dir=$1 state_dir=$2 cgroup_parent=$3 port _
  shift 3
  mkdir -p "$data_dir"
  data_dir=$(cd "$data_dir" && pwd)
  slipwayd_log="$(dirname "$data_dir")/slipwayd.log"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  export SLIPWAY_HOST="http://127.0.0.1:$port"
  export SLIPWAY_TOKEN_FILE="$data_dir/control.token"
  "$slipwayd_bin" --listen "127.0.0.1:$port" --data-dir "$data_dir" --state-dir "$state_dir" \
    --cgroup-parent "$cgroup_parent" --monitor-binary "$monitor_bin" --log-file "$slipwayd_log" "$@" \
    2>>"$slipwayd_log" &
  slipwayd_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "$SLIPWAY_HOST/healthz" >/dev/null 2>&1 && [ -s "$SLIPWAY_TOKEN_FILE" ] && return 0
    kill -0 "$slipwayd_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "slipwayd did not start: $(tail -n 5 "$slipwayd_log" 2>/dev/null)" >&2
  slipwayd_stop 5
  return 1
}

# slipwayd_stop [SECONDS]: first force-removes every container (slipwayd
# would leave running sandboxes to their monitors, to be adopted by the next
# slipwayd), then SIGTERM, wait up to SECONDS (default 15), SIGKILL.
slipwayd_stop() {
  local pid=$slipwayd_pid tries=$(( ${1:-15} * 10 )) _ ids
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  ids=$(timeout 30 "$slipway_bin" ps -aq 2>/dev/null) || true
  # shellcheck disable=SC2086  # one id a word
  [ -z "$ids" ] || timeout 60 "$slipway_bin" rm -f $ids >/dev/null 2>&1 || true
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 "$tries"); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# slipwayd_kill_strays WORKDIR CGROUP_PREFIX: SIGKILL, by pid, what this run
# left behind: processes whose command line names WORKDIR (monitors, which
# outlive slipwayd by design; a containerd of a dockerd that died hard) and
# processes still in a cgroup whose name starts with CGROUP_PREFIX (the
# cgroup parents the caller gave the tools: only this run's containers can
# be in them), in every hierarchy.
slipwayd_kill_strays() {
  local workdir=$1 prefix=$2 f pid
  for pid in $(grep -lsF -- "$workdir/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    if [ "$pid" != "$$" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -name cgroup.procs -path "*/${prefix}*" 2>/dev/null |
    while read -r f; do
      while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$f"
    done
}

# slipwayd_cleanup: the whole `cleanup` (bench_workdir's EXIT trap calls it)
# of a bench whose only peer is the private slipwayd: slipwayd stopped, what
# it left killed by pid, $work and the $tag* cgroups removed.
slipwayd_cleanup() {
  slipwayd_stop 15
  slipwayd_kill_strays "$work" "$tag"  # monitors left behind, anything still in our cgroups
  bench_cleanup_dirs  # unmount below $work, remove it, remove the $tag* cgroups
}
