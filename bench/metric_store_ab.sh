#!/usr/bin/env bash
# What the metric store costs on the put path: the same binary with --metric-store=true and
# --metric-store=false, alternating, one server at a time, PutRecords (100 B x 500, 4 shards,
# concurrency 8) and PutRecord (concurrency 64), fsync durability.
# Usage: bench/metric_store_ab.sh [BINARY] [ROUNDS] [SECONDS]
# Prints one line per run and the mean of each side; JSON of each run in $RESULTS
# (default build/metric-store-ab).
set -euo pipefail
BIN=${1:-build/release/freshet}
ROUNDS=${2:-3}
SECS=${3:-8}
RESULTS=${RESULTS:-build/metric-store-ab}
mkdir -p "$RESULTS"
rm -f "$RESULTS/cpu.txt"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/freshet-msab.XXXXXX")
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

run() {  # $1 label (on|off) $2 round
  local label=$1 r=$2 store=true
  [ "$label" = off ] && store=false
  rm -rf "$TMP/data"
  # Emptied here, not by the child's redirection: the wait below could otherwise find the
  # previous server's "listening on" before the new server truncates the file.
  : >"$TMP/serve.log"
  "$BIN" serve --listen 127.0.0.1:0 --data-dir "$TMP/data" --metric-store "$store" >"$TMP/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 300); do grep -q 'listening on' "$TMP/serve.log" && break; sleep 0.1; done
  local port
  port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/serve.log" | head -1)
  [ -n "$port" ] || { echo "server did not start:" >&2; cat "$TMP/serve.log" >&2; exit 1; }
  "$BIN" bench put --endpoint "http://127.0.0.1:$port" --stream s --create --shards 4 --batch 500 \
    --concurrency 8 --duration "$SECS" --json >"$RESULTS/$label-put500-$r.json" 2>/dev/null
  "$BIN" bench put --endpoint "http://127.0.0.1:$port" --stream s --batch 1 --concurrency 64 \
    --threads 2 --duration "$SECS" --json >"$RESULTS/$label-put1-$r.json" 2>/dev/null
  # CPU time (clock ticks) of the sampler thread and of the whole server during the runs.
  /usr/bin/python3 - "$PID" "$label" "$r" >>"$RESULTS/cpu.txt" <<'PY'
import glob, sys
pid, label, r = sys.argv[1:4]
def ticks(stat):
    f = open(stat).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])  # utime + stime
total = ticks(f"/proc/{pid}/stat")
sampler = sum(ticks(t + "/stat") for t in glob.glob(f"/proc/{pid}/task/*")
              if open(t + "/comm").read().strip() == "metric-sampler")
print(label, r, sampler, total)
PY
  kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""
}

for r in $(seq "$ROUNDS"); do
  run on "$r"
  run off "$r"
done
/usr/bin/python3 - "$RESULTS" "$ROUNDS" <<'PY'
import json, sys
res, rounds = sys.argv[1], int(sys.argv[2])
def get(label, kind, r):
    d = json.load(open(f"{res}/{label}-{kind}-{r}.json"))
    return d["records_per_s"] if kind == "put500" else d["requests"] / d["seconds"]
for kind, what in (("put500", "PutRecords 500 x 100 B, records/s"), ("put1", "PutRecord c=64, requests/s")):
    means = {}
    for label in ("on", "off"):
        v = [get(label, kind, r) for r in range(1, rounds + 1)]
        means[label] = sum(v) / len(v)
        print(f"{what:38} store {label:3}: " + "  ".join(f"{x:,.0f}" for x in v) + f"  mean {means[label]:,.0f}")
    print(f"{what:38} on/off: {means['on'] / means['off'] * 100 - 100:+.1f}%")
for line in open(f"{res}/cpu.txt"):
    label, r, sampler, total = line.split()
    if label == "on":
        print(f"round {r}: metric-sampler thread {int(sampler) / 100:.2f} s CPU of the server's "
              f"{int(total) / 100:.2f} s ({int(sampler) / max(int(total), 1) * 100:.2f}%)")
PY
