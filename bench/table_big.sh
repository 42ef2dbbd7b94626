#!/usr/bin/env bash
# Issue 11's large-table targets: a 10-million-item table serves in under 500 MiB and the
# server starts on it in under 1 s, after a clean stop and after a kill -9.
#
# Usage: bench/table_big.sh [--items N] [--dir DIR] [--seconds S]
#   --items N    items in table "big" (pk S, sk N; 200 bytes each), default 10000000
#   --dir DIR    where the server's data lives; kept, and reused if it already holds the table
#                (default: a temporary directory, removed at the end)
#   --seconds S  length of the GetItem and PutItem loads, default 10
# FRESHET_BIN, TABLE_FILL_BIN and TABLE_LOAD_BIN override the binaries (default: build/release).
#
# Steps (each prints one line):
#  1. fill: bench/table_fill writes the items straight into DIR/data/tables (synced batches of
#     1,000), unless the table is there already;
#  2. clean start: `freshet serve` on DIR/data; the time from exec to the first DescribeTable
#     answered, ItemCount and the server's RSS;
#  3. reads: table_load GetItem of random keys among all items at concurrency 16; RSS after;
#  4. kill -9 start: PutItem load, kill -9 in the middle of it, start again; the same times,
#     and the server's log line for the recount of ItemCount (it runs after the start).
# Every server listens on 127.0.0.1 on a free port; every wait is bounded.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FRESHET=${FRESHET_BIN:-$ROOT/build/release/freshet}
FILL=${TABLE_FILL_BIN:-$ROOT/build/release/bench/table_fill}
LOAD=${TABLE_LOAD_BIN:-$ROOT/build/release/bench/table_load}
ITEMS=10000000
DIR=""
SECS=10
while [ $# -gt 0 ]; do
  case "$1" in
    --items) ITEMS=$2; shift ;;
    --dir) DIR=$2; shift ;;
    --seconds) SECS=$2; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "table_big.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
KEEP=1
if [ -z "$DIR" ]; then
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/freshet-table-big.XXXXXX")
  KEEP=0
fi
mkdir -p "$DIR/data"
log() { printf '[table_big %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

PID=""
cleanup() {
  # A clean stop (SIGTERM, then SIGKILL after 30 s), so that a kept DIR starts clean next time.
  if [ -n "$PID" ]; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  if [ "$KEEP" = 0 ]; then rm -rf "$DIR"; fi
}
trap cleanup EXIT

PORT=""
call() {  # call OPERATION JSON: one DynamoDB request; prints the body, fails on non-200
  curl -sf -X POST "http://127.0.0.1:$PORT/" \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H "X-Amz-Target: DynamoDB_20120810.$1" \
    -H 'X-Amz-Date: 20250101T000000Z' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=t/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0' \
    -d "$2"
}
item_count() { call DescribeTable '{"TableName":"big"}' | sed -n 's/.*"ItemCount":\([0-9]*\).*/\1/p'; }
rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status"; }

# Starts the server on DIR/data and prints the milliseconds from exec to the first answered
# DescribeTable of "big".
start_server() {
  local log_file=$DIR/serve.log t0 t1
  : >"$log_file"
  t0=$(date +%s%N)
  "$FRESHET" serve --listen 127.0.0.1:0 --data-dir "$DIR/data" >"$log_file" 2>&1 &
  PID=$!
  PORT=""
  for _ in $(seq 3000); do
    if [ -z "$PORT" ]; then
      PORT=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log_file" | head -1)
    fi
    if [ -n "$PORT" ] && call DescribeTable '{"TableName":"big"}' >/dev/null 2>&1; then
      t1=$(date +%s%N)
      START_MS=$(( (t1 - t0) / 1000000 ))
      return 0
    fi
    sleep 0.005
  done
  echo "server did not answer: $(tail -3 "$log_file")" >&2
  exit 1
}

if [ ! -d "$DIR/data/tables" ]; then
  log "fill: $ITEMS items into $DIR/data/tables"
  "$FILL" --dir "$DIR/data/tables" --items "$ITEMS" --item-size 200 --sort-key --no-reopen
fi

start_server
sleep 0.3  # the store logs a recount just after the start if the last stop was not clean
if grep -q 'recount' "$DIR/serve.log"; then how="start (the last stop was unclean)"; else how="clean start"; fi
log "$how: ${START_MS} ms to the first DescribeTable; ItemCount $(item_count); RSS $(rss_mib) MiB"
"$LOAD" --endpoint "http://127.0.0.1:$PORT" --op get --table big --keys "$ITEMS" \
  --seconds "$SECS" --concurrency 16
log "after ${SECS} s of GetItem: RSS $(rss_mib) MiB"

"$LOAD" --endpoint "http://127.0.0.1:$PORT" --op put --table big --seconds "$SECS" \
  --concurrency 16 --item-size 200 >/dev/null 2>&1 &
LOAD_PID=$!
sleep $(( SECS / 2 ))
log "kill -9 during a PutItem load; RSS before: $(rss_mib) MiB"
kill -KILL "$PID"
wait "$PID" 2>/dev/null || true
wait "$LOAD_PID" 2>/dev/null || true
PID=""
start_server
first=$(item_count)
log "start after kill -9: ${START_MS} ms to the first DescribeTable; ItemCount $first (approximate until the recount ends); RSS $(rss_mib) MiB"
for _ in $(seq 600); do
  if grep -q 'recounted after an unclean shutdown' "$DIR/serve.log"; then break; fi
  sleep 0.5
done
log "$(grep -o 'item counts recounted.*' "$DIR/serve.log" || echo 'no recount line in the log')"
log "ItemCount $(item_count); RSS $(rss_mib) MiB"
