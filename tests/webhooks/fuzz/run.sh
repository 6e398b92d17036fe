#!/bin/sh
# Fuzzes ParseDelivery with libFuzzer (Debian's clang, ASan + UBSan), seeded
# with tests/webhooks/payloads. Usage (from the repository root):
#   tests/webhooks/fuzz/run.sh [seconds]      default 60
# Crashes are written to $OUT (default /tmp/slipway-webhooks-fuzz).
set -eu
seconds=${1:-60}
out=${OUT:-/tmp/slipway-webhooks-fuzz}
mkdir -p "$out/corpus"
for f in tests/webhooks/payloads/*/*.json; do
  # One seed per forge byte: the fuzzer's first byte picks forge and event.
  for b in 0 1 2 3 4 5 6 7; do
    name=$(basename "$(dirname "$f")")_$(basename "$f" .json)_$b
    { printf "\\$(printf %03o "$b")"; cat "$f"; } > "$out/corpus/$name"
  done
done
clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
  tests/webhooks/fuzz/forge_event_fuzzer.cc webhooks/forge_event.cc webhooks/github_event.cc \
  webhooks/gitea_event.cc webhooks/gitlab_event.cc webhooks/payload_json.cc webhooks/git_ref.cc \
  webhooks/signature.cc engine/base/ascii.cc engine/base/status.cc -lcrypto -o "$out/forge_event_fuzzer"
cd "$out"
exec ./forge_event_fuzzer -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=1024 -jobs=1 \
  -artifact_prefix="$out/" corpus
