#!/usr/bin/env bash
# One run in --durability os with 1,000-byte records into one shard (segments roll often), for
# alternating A/B runs of two binaries: bench/os_roll_ab.sh BINARY LABEL
# Prints records/s, latency percentiles and the number of segments rolled.
set -euo pipefail
BIN=$1 LABEL=$2
TMP=$(mktemp -d /var/tmp/freshet-os-ab.XXXXXX)
. "$(dirname "${BASH_SOURCE[0]}")/lib_server.sh"
trap 'stop_quietly; rm -rf "$TMP"' EXIT
start "$BIN" --durability os
"$BIN" bench put --endpoint "http://127.0.0.1:$PORT" --stream s --create --shards 1 \
  --record-size 1000 --batch 500 --concurrency 8 --duration 12 --json 2>/dev/null |
  /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print('$LABEL', round(d['records_per_s']), d['latency_ms'])"
echo "segments: $(find "$TMP/data/logs" -name '*.log' | wc -l)"
