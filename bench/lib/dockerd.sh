# shellcheck shell=bash
# shellcheck disable=SC2034,SC2120  # the variables and optional arguments are for the sourcing script
# Sourced by the benchmarks (bench/runtime_start.sh, bench/daemon_start.sh,
# bench/pull/pull_bench.sh): starts and stops a private Docker engine that
# touches nothing of the machine's own (/var/lib/docker, /run/docker.sock,
# iptables, docker0).
#
#   . bench/lib/dockerd.sh
#   if dockerd_start DATA_ROOT RUN_DIR [EXTRA_DOCKERD_ARGS...]; then
#     "$docker_bin" -H "$docker_host" ...
#   else
#     echo "docker skipped: $docker_skip"
#   fi
#   ...
#   dockerd_stop          # in the caller's EXIT trap; a no-op if not started
#
# DATA_ROOT is dockerd's --data-root (images, layers, containers). RUN_DIR
# holds everything else: the API socket (docker.sock), the pid file, the exec
# root (exec/, where containerd's sockets and container state live) and the
# log (dockerd.log). Keep RUN_DIR short: unix socket paths below it are
# limited to 108 bytes. Both are created if missing; removing them is the
# caller's job (after dockerd_stop, and after unmounting anything a dockerd
# that died hard left mounted below them).
#
# Sets, for the caller:
#   dockerd_pid   the pid of the dockerd started (stopped by dockerd_stop)
#   docker_bin    the docker client to use: Debian's /usr/bin/docker if it
#                 exists (the same release as Debian's dockerd), else PATH's
#   docker_host   unix://RUN_DIR/docker.sock, for `docker -H`
#   docker_skip   why not, when dockerd_start returned 1
#
# A failure is never fatal (dockerd_start returns 1 and says why in
# docker_skip): a benchmark then skips docker and says so. Only the dockerd
# started here is ever stopped, by its pid.

dockerd_pid=""
docker_bin=""
docker_host=""
docker_skip=""

# dockerd_start DATA_ROOT RUN_DIR [EXTRA_DOCKERD_ARGS...]
dockerd_start() {
  local data_root=$1 run_dir=$2
  shift 2
  docker_skip=""
  if ! command -v dockerd >/dev/null; then
    docker_skip="dockerd not installed (apt-get install -y docker.io)"
    return 1
  fi
  # Prefer Debian's client, the same release as Debian's dockerd.
  docker_bin=/usr/bin/docker
  [ -x "$docker_bin" ] || docker_bin=$(command -v docker) || {
    docker_skip="docker client not installed"
    return 1
  }
  mkdir -p "$data_root" "$run_dir/exec"
  data_root=$(cd "$data_root" && pwd)
  run_dir=$(cd "$run_dir" && pwd)
  docker_host="unix://$run_dir/docker.sock"
  # No iptables rules, no docker0 bridge: containers run with --network none.
  dockerd --iptables=false --ip-masq=false --bridge=none \
    --data-root "$data_root" --exec-root "$run_dir/exec" --pidfile "$run_dir/docker.pid" \
    -H "$docker_host" "$@" >"$run_dir/dockerd.log" 2>&1 &
  dockerd_pid=$!
  local _
  for _ in $(seq 1 300); do
    "$docker_bin" -H "$docker_host" version >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! "$docker_bin" -H "$docker_host" version >/dev/null 2>&1; then
    docker_skip="dockerd did not start: $(tail -n 3 "$run_dir/dockerd.log" | tr '\n' ' ')"
    dockerd_stop
    return 1
  fi
}

# dockerd_stop [SECONDS]: SIGTERM (dockerd then stops its own containerd and
# unmounts its layers), wait up to SECONDS (default 15), then SIGKILL.
dockerd_stop() {
  local pid=$dockerd_pid tries=$(( ${1:-15} * 10 )) _
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 "$tries"); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
