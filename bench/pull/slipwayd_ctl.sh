#!/usr/bin/env bash
# Usage: bench/pull/slipwayd_ctl.sh SLIPWAYD_BIN SLIPWAY_BIN MONITOR_BIN
#
# bench/pull/pull_bench.py's handle on slipwayd: it runs this script with
# pipes on stdin and stdout and, for every sample, starts a private slipwayd
# on an empty data dir, then stops it, through bench/lib/slipwayd.sh. One
# request a line, one answer a line:
#   start [NAME=VALUE...] DATA_DIR STATE_DIR CGROUP_PARENT [EXTRA_SLIPWAYD_ARGS...]
#         -> "ok SLIPWAY_HOST SLIPWAY_TOKEN_FILE", or "error" (the reason on stderr)
#         NAME=VALUE: in slipwayd's environment (SLIPWAY_GZIP_INFLATER=zlib)
#   stop  -> "ok" (a no-op when none is running)
# (Arguments are split on white space: no spaces in paths.) When stdin closes
# (the driver has finished, or died), the slipwayd still running is stopped
# and the script exits. slipwayd is this script's child: it is stopped by pid.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/slipwayd.sh"  # slipwayd_start, slipwayd_stop
slipwayd_bin=$1 slipway_bin=$2 monitor_bin=$3

trap 'slipwayd_stop 15' EXIT
trap 'exit 130' INT TERM

while read -r request rest; do
  case $request in
    start)
      read -r -a args <<<"$rest"
      envs=()
      while [ ${#args[@]} -gt 0 ] && [[ ${args[0]} == *=* ]]; do envs+=("${args[0]}"); args=("${args[@]:1}"); done
      for kv in "${envs[@]}"; do export "${kv?}"; done
      # slipwayd's stdout away from the pipe: the driver reads only answers.
      if slipwayd_start "${args[@]}" >/dev/null; then
        echo "ok $SLIPWAY_HOST $SLIPWAY_TOKEN_FILE"
      else
        echo error
      fi
      for kv in "${envs[@]}"; do unset "${kv%%=*}"; done
      ;;
    stop)
      slipwayd_stop 15
      slipwayd_pid=""
      echo ok
      ;;
    *)
      echo "slipwayd_ctl.sh: unknown request: $request" >&2
      echo error
      ;;
  esac
done
