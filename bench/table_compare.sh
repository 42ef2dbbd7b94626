#!/usr/bin/env bash
# Runs bench/table_load's DynamoDB workloads against Freshet, dynalite (npm, bench/peers) and
# moto's server (python3 -m moto.server), one server at a time, and prints a table.
#
# Usage: bench/table_compare.sh [--quick] [--no-freshet] [--no-dynalite] [--no-moto] [--results DIR]
#   --quick   3 s per workload instead of 10 s
# FRESHET_BIN and TABLE_LOAD_BIN override the binaries (default: build/release).
# Every server listens on 127.0.0.1 on a free port and is stopped by PID when the script ends.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
FRESHET=${FRESHET_BIN:-$ROOT/build/release/freshet}
LOAD=${TABLE_LOAD_BIN:-$ROOT/build/release/bench/table_load}
PEERS="$ROOT/bench/peers"
RESULTS="$ROOT/build/table-compare-results"
SECONDS_PER=10
USE_DYNALITE=1
USE_MOTO=1
USE_FRESHET=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) SECONDS_PER=3 ;;
    --no-dynalite) USE_DYNALITE=0 ;;
    --no-moto) USE_MOTO=0 ;;
    --no-freshet) USE_FRESHET=0 ;;
    --results) RESULTS=$2; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "table_compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$RESULTS"
log() { printf '[table_compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/freshet-table-compare.XXXXXX")
SERVER_PID=""
stop_server() {
  local pid=$SERVER_PID
  [ -n "$pid" ] || return 0
  SERVER_PID=""
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
trap 'stop_server; rm -rf "$TMP"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 200); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# name -> "put batch get query" items/s
declare -A RESULT
run_workloads() {
  local name=$1 port=$2 keys=$3 partitions=$4
  local ep="http://127.0.0.1:$port" out
  out=$("$LOAD" --endpoint "$ep" --op put --create --seconds "$SECONDS_PER" --concurrency 64 2>"$RESULTS/$name-put.err" || true)
  echo "$out" > "$RESULTS/$name-put.txt"; log "$name put: $out"
  local put=$(sed -n 's/.*items_per_s=\([0-9]*\).*errors=\([0-9]*\).*/\1 (errors \2)/p' <<<"$out")
  out=$("$LOAD" --endpoint "$ep" --op batch --seconds "$SECONDS_PER" --concurrency 64 2>"$RESULTS/$name-batch.err" || true)
  echo "$out" > "$RESULTS/$name-batch.txt"; log "$name batch: $out"
  local batch=$(sed -n 's/.*items_per_s=\([0-9]*\).*errors=\([0-9]*\).*/\1 (errors \2)/p' <<<"$out")
  out=$("$LOAD" --endpoint "$ep" --op load --keys "$keys" --partitions "$partitions" --concurrency 8 2>"$RESULTS/$name-load.err" || true)
  log "$name load: $out"
  out=$("$LOAD" --endpoint "$ep" --op get --keys "$keys" --seconds "$SECONDS_PER" --concurrency 64 2>"$RESULTS/$name-get.err" || true)
  echo "$out" > "$RESULTS/$name-get.txt"; log "$name get: $out"
  local get=$(sed -n 's/.*ops_per_s=\([0-9]*\).*errors=\([0-9]*\).*/\1 (errors \2)/p' <<<"$out")
  out=$("$LOAD" --endpoint "$ep" --op query --partitions "$partitions" --seconds "$SECONDS_PER" --concurrency 64 2>"$RESULTS/$name-query.err" || true)
  echo "$out" > "$RESULTS/$name-query.txt"; log "$name query: $out"
  local query=$(sed -n 's/.*ops_per_s=\([0-9]*\).*errors=\([0-9]*\).*/\1 (errors \2)/p' <<<"$out")
  RESULT[$name]="$put|$batch|$get|$query"
}

# ---- Freshet (fsync durability, the default)
if [ "$USE_FRESHET" = 1 ]; then
  port=$(free_port)
  "$FRESHET" serve --listen "127.0.0.1:$port" --data-dir "$TMP/freshet" >"$RESULTS/freshet.log" 2>&1 &
  SERVER_PID=$!
  wait_port "$port" || { log "freshet did not start"; exit 1; }
  run_workloads freshet "$port" 100000 200
  stop_server
fi

# ---- dynalite (in memory)
if [ "$USE_DYNALITE" = 1 ]; then
  if [ ! -d "$PEERS/node_modules/dynalite" ]; then
    log "installing bench/peers (npm ci)"
    (cd "$PEERS" && timeout 600 npm ci --no-audit --no-fund --loglevel=error) || USE_DYNALITE=0
  fi
fi
if [ "$USE_DYNALITE" = 1 ]; then
  port=$(free_port)
  (cd "$PEERS" && exec node -e "require('dynalite')({createTableMs: 0, deleteTableMs: 0, updateTableMs: 0}).listen($port, '127.0.0.1')") >"$RESULTS/dynalite.log" 2>&1 &
  SERVER_PID=$!
  if wait_port "$port"; then run_workloads dynalite "$port" 10000 20; else log "dynalite did not start"; fi
  stop_server
fi

# ---- moto server (in memory)
if [ "$USE_MOTO" = 1 ] && python3 -c "import moto.server" 2>/dev/null; then
  port=$(free_port)
  python3 -m moto.server -H 127.0.0.1 -p "$port" >"$RESULTS/moto.log" 2>&1 &
  SERVER_PID=$!
  if wait_port "$port"; then run_workloads moto "$port" 5000 20; else log "moto did not start"; fi
  stop_server
elif [ "$USE_MOTO" = 1 ]; then
  log "python3 cannot import moto.server: moto skipped"
fi

{
  printf '%-10s | %-22s | %-22s | %-22s | %-22s\n' server "PutItem items/s c=64" "BatchWrite items/s" "GetItem /s c=64" "Query(100) /s c=64"
  for n in freshet dynalite moto; do
    [ -n "${RESULT[$n]:-}" ] || continue
    IFS='|' read -r a b c d <<<"${RESULT[$n]}"
    printf '%-10s | %-22s | %-22s | %-22s | %-22s\n' "$n" "$a" "$b" "$c" "$d"
  done
} | tee "$RESULTS/table.txt"
