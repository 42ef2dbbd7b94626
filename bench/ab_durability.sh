#!/usr/bin/env bash
# A/B of two freshet binaries on the put path, alternating, one server at a time:
#   1. PutRecord, 100-byte records, concurrency 64 (requests/s, p99)
#   2. PutRecords, 100 B x 500 (records/s, p99)
#   3. PutRecord at concurrency 16 while another client creates a stream every 100 ms
#      (control-plane fsyncs under load): p99 and p99.9, to see whether control-plane work
#      shows up as a latency spike on the data plane.
# Usage: bench/ab_durability.sh OLD_BINARY NEW_BINARY [ROUNDS]
# Prints one line per run and the JSON of each run into $RESULTS (default build/ab-results).
set -euo pipefail
OLD=$1
NEW=$2
ROUNDS=${3:-2}
RESULTS=${RESULTS:-build/ab-results}
mkdir -p "$RESULTS"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/freshet-ab.XXXXXX")
. "$(dirname "${BASH_SOURCE[0]}")/lib_server.sh"
cleanup() {
  stop_quietly
  rm -rf "$TMP"
}
trap cleanup EXIT

run() {  # $1 label $2 binary $3 round
  local label=$1 bin=$2 r=$3 ep
  start "$bin"
  ep="http://127.0.0.1:$PORT"
  "$bin" bench put --endpoint "$ep" --stream s --create --shards 4 --batch 1 --concurrency 64 \
    --threads 2 --duration 6 --json >"$RESULTS/$label-put1-$r.json" 2>/dev/null
  "$bin" bench put --endpoint "$ep" --stream s --batch 500 --concurrency 8 --duration 6 --json \
    >"$RESULTS/$label-put500-$r.json" 2>/dev/null
  churn "$PORT" 7 &
  local churn_pid=$!
  "$bin" bench put --endpoint "$ep" --stream s --batch 1 --concurrency 16 --duration 6 --json \
    >"$RESULTS/$label-churn-$r.json" 2>/dev/null
  wait "$churn_pid" || true
  stop
  /usr/bin/python3 - "$RESULTS" "$label" "$r" <<'PY'
import json, sys
res, label, r = sys.argv[1:4]
def load(kind):
    return json.load(open(f"{res}/{label}-{kind}-{r}.json"))
p1, p500, ch = load("put1"), load("put500"), load("churn")
def lat(d):
    l = d.get("latency_ms") or d.get("latency") or {}
    return l
print(f"{label:4} round {r}: PutRecord c=64 {p1['requests']/p1['seconds']:,.0f} req/s p99 {lat(p1).get('p99', 0):.2f} ms | "
      f"PutRecords x500 {p500['records_per_s']:,.0f} rec/s p99 {lat(p500).get('p99', 0):.2f} ms | "
      f"c=16 with CreateStream every 100 ms: p99 {lat(ch).get('p99', 0):.2f} p99.9 {lat(ch).get('p99_9', 0):.2f} ms")
PY
}

for r in $(seq "$ROUNDS"); do
  run old "$OLD" "$r"
  run new "$NEW" "$r"
done
