#!/usr/bin/env bash
# Does control-plane or segment work show as a latency spike on the data plane? (issue 9)
# One binary, three conditions, alternating, a fresh server each run, the same load each time
# (PutRecord of 100-byte records at concurrency 16 into a 4-shard stream for 6 s):
#   base   64 MiB segments (no roll during the run), nothing else happening;
#   churn  the same, while another client creates a stream every 100 ms (catalog fsyncs,
#          new log directories);
#   roll   --segment-mib 1: every shard rolls about once a second (seal, index files, the
#          next segment's creation and directory fsync).
# Prints p50/p99/p99.9/max per run and the medians per condition.
# Usage: bench/spike_ab.sh BINARY [ROUNDS]
set -euo pipefail
BIN=$1
ROUNDS=${2:-3}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/freshet-spike.XXXXXX")
. "$(dirname "${BASH_SOURCE[0]}")/lib_server.sh"
cleanup() {
  stop_quietly
  rm -rf "$TMP"
}
trap cleanup EXIT
load() {  # label round
  "$BIN" bench put --endpoint "http://127.0.0.1:$PORT" --stream s --create --shards 4 --batch 1 \
    --concurrency 16 --duration 6 --json >"$TMP/$1-$2.json" 2>/dev/null
}
for r in $(seq "$ROUNDS"); do
  start "$BIN"; load base "$r"; stop
  start "$BIN"; churn "$PORT" 8 & cp=$!; load churn "$r"; wait "$cp" || true; stop
  start "$BIN" --segment-mib 1; load roll "$r"; segs=$(find "$TMP/data" -name '*.log' | wc -l); stop
  echo "round $r: roll run left $segs segment files"
done
/usr/bin/python3 - "$TMP" "$ROUNDS" <<'PY'
import json, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
print(f"{'run':10} {'req/s':>8} {'p50':>6} {'p99':>6} {'p99.9':>6} {'max':>7}  (ms)")
agg = {}
for r in range(1, rounds + 1):
    for c in ("base", "churn", "roll"):
        d = json.load(open(f"{tmp}/{c}-{r}.json"))
        l = d.get("latency_ms", {})
        row = (d["requests"] / d["seconds"], l.get("p50", 0), l.get("p99", 0), l.get("p99_9", 0), l.get("max", 0))
        agg.setdefault(c, []).append(row)
        print(f"{c+' '+str(r):10} {row[0]:8,.0f} {row[1]:6.2f} {row[2]:6.2f} {row[3]:6.2f} {row[4]:7.2f}")
for c, rows in agg.items():
    med = [statistics.median(x[i] for x in rows) for i in range(5)]
    print(f"median {c:5} {med[0]:8,.0f} {med[1]:6.2f} {med[2]:6.2f} {med[3]:6.2f} {med[4]:7.2f}")
PY
