#!/usr/bin/env bash
# One run of a put load against a fresh server in fsync durability, for alternating A/B runs
# of two binaries (the client is the same binary):
#   bench/put_ab.sh BINARY LABEL BATCH CONCURRENCY
# Prints: LABEL batch=B c=C records/s p50 p99 p99.9 (ms).
set -euo pipefail
BIN=$1 LABEL=$2 BATCH=$3 CONC=$4
TMP=$(mktemp -d /var/tmp/freshet-put-ab.XXXXXX)
. "$(dirname "${BASH_SOURCE[0]}")/lib_server.sh"
trap 'stop_quietly; rm -rf "$TMP"' EXIT
start "$BIN"
"$BIN" bench put --endpoint "http://127.0.0.1:$PORT" --stream s --create --shards 4 \
  --record-size 100 --batch "$BATCH" --concurrency "$CONC" --duration 8 --json 2>/dev/null |
  /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); l=d['latency_ms']; print('$LABEL batch=$BATCH c=$CONC', round(d['records_per_s']), 'p50', l['p50'], 'p99', l['p99'], 'p99.9', l['p99_9'])"
