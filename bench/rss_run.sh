#!/usr/bin/env bash
# Sustained PutRecords load against a fresh Freshet server while sampling the server's
# resident memory and the size of its data directory: memory must stay flat (and under
# 300 MiB) while the log grows.
#
# Usage: bench/rss_run.sh [--minutes M] [--concurrency C] [--out FILE]
#   --minutes M      load duration (default 10)
#   --concurrency C  PutRecords requests in flight (default 8; fewer writes less per minute,
#                    for a disk that cannot hold M minutes at full speed)
#   --out FILE   samples as TSV: seconds, rss_kib, data_dir_kib (default build/rss-run.tsv)
#
# Loopback only; the server runs on a free port with a temporary data directory and is
# stopped by PID when the script exits.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FRESHET="$ROOT/build/release/freshet"
MINUTES=10
CONCURRENCY=8
OUT="$ROOT/build/rss-run.tsv"
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES=$2; shift ;;
    --concurrency) CONCURRENCY=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "rss_run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/freshet-rss.XXXXXX")
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

"$FRESHET" serve --listen 127.0.0.1:0 --data-dir "$TMP/data" >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
URL=""
for _ in $(seq 100); do
  URL=$(grep -o 'http://[0-9.:]*' "$TMP/server.out" 2>/dev/null || true)
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { echo "rss_run.sh: server did not start" >&2; cat "$TMP/server.err" >&2; exit 1; }

SECONDS_TOTAL=$((MINUTES * 60))
"$FRESHET" bench put --endpoint "$URL" --stream rss --create --shards 4 --record-size 100 \
  --batch 500 --concurrency "$CONCURRENCY" --duration "$SECONDS_TOTAL" --json >"$TMP/bench.json" 2>"$TMP/bench.err" &
BENCH_PID=$!

printf 'seconds\trss_kib\tdata_dir_kib\n' >"$OUT"
START=$(date +%s)
MAX_RSS=0
while kill -0 "$BENCH_PID" 2>/dev/null; do
  now=$(( $(date +%s) - START ))
  rss=$(ps -o rss= -p "$SERVER_PID" | tr -d ' ')
  data=$(du -sk "$TMP/data" 2>/dev/null | cut -f1)
  printf '%s\t%s\t%s\n' "$now" "$rss" "$data" >>"$OUT"
  [ "$rss" -gt "$MAX_RSS" ] && MAX_RSS=$rss
  # A periodic progress line: long work shows where it is.
  printf '[rss %4ds/%ds] server RSS %6d KiB (max %6d), data %8d KiB\n' \
    "$now" "$SECONDS_TOTAL" "$rss" "$MAX_RSS" "$data" >&2
  # Guard the machine: the log grows by tens of MB/s. Stop early rather than fill the disk.
  free_kib=$(df -Pk "$TMP" | awk 'NR==2{print $4}')
  if [ "$free_kib" -lt $((10 * 1024 * 1024)) ]; then
    echo "rss_run.sh: less than 10 GiB free on the data disk; stopping the load early" >&2
    kill -TERM "$BENCH_PID" 2>/dev/null || true
  fi
  sleep 10
done
wait "$BENCH_PID" || { echo "rss_run.sh: bench failed" >&2; tail -5 "$TMP/bench.err" >&2; exit 1; }
tail -1 "$TMP/bench.json"
FIRST=$(awk 'NR==3{print $2}' "$OUT")
LAST=$(tail -1 "$OUT" | cut -f2)
echo "server RSS: first sample after 10 s ${FIRST} KiB, last ${LAST} KiB, max ${MAX_RSS} KiB; samples in $OUT"
