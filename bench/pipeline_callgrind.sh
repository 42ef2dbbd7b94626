#!/usr/bin/env bash
# The tweet pipeline under callgrind: instruction counts per function, which the machine's
# other load does not change (wall-clock rates and even CPU times do).
#
#   bench/pipeline_callgrind.sh [N] [OUT]   # default N = 40,000 tweets, OUT = callgrind.pipeline.out
#
# Runs `freshet up` under valgrind --tool=callgrind on a copy of examples/tweets.yaml whose
# producer sends N tweets (1% malformed) in process as fast as it can (4 senders), with the
# delivery stream's interval cut to 1 s, and stops the server (SIGTERM, so callgrind writes
# its file) once both mappings have been invoked with all N records and Firehose has
# delivered all N. Compare two binaries (FRESHET_BINARY=...) with
#   callgrind_annotate --inclusive=yes OUT | grep -E 'PROGRAM TOTALS|ExtractFunction::invoke|...'
# The run takes a few minutes; counts that depend on time (the /metrics scrapes, once a
# second here; a window that closes at a minute boundary, ShardRunner::close_window; the
# checkpoints written once a second) grow with the run's length under valgrind, so compare
# per-record functions, not the totals alone.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-40000}
OUT=${2:-callgrind.pipeline.out}
BIN=${FRESHET_BINARY:-build/release/freshet}
work=$(mktemp -d /tmp/freshet-pipeline-cg.XXXXXX)
trap 'kill $up_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
sed -e 's/interval_seconds: 60/interval_seconds: 1/' -e "s/rate: 1000 /rate: 0 /" \
    -e "s/seed: 42/seed: 42\n    count: $N\n    senders: 4/" \
    "${FRESHET_PIPELINE:-examples/tweets.yaml}" > "$work/tweets.yaml"
valgrind --tool=callgrind --callgrind-out-file="$OUT" "$BIN" up "$work/tweets.yaml" \
  --listen 127.0.0.1:0 --data-dir "$work/data" > "$work/up.log" 2> "$work/up.err" &
up_pid=$!
endpoint=""
for _ in $(seq 1 600); do
  endpoint=$(sed -n 's/^freshet: listening on \(http:[^ ]*\).*/\1/p' "$work/up.log" 2>/dev/null || true)
  [ -n "$endpoint" ] && break
  sleep 0.5
done
[ -n "$endpoint" ] || { cat "$work/up.log" "$work/up.err"; exit 1; }
invoked=0
delivered=0
for _ in $(seq 1 1800); do
  curl -s "$endpoint/metrics" > "$work/metrics" || true
  invoked=$(awk 'index($0, "freshet_lambda_InvokedEventCount_total{") == 1 { n++; if (n == 1 || $NF + 0 < m) m = $NF + 0 }
                 END { printf "%d\n", (n >= 2 ? m : 0) }' "$work/metrics")
  delivered=$(awk 'index($0, "freshet_firehose_DeliveryToS3_Records") == 1 && index($0, "tweets-archive") > 0 { s += $NF }
                   END { printf "%d\n", s }' "$work/metrics")
  if [ "$invoked" -ge "$N" ] && [ "$delivered" -ge "$N" ]; then break; fi
  sleep 1
done
kill -TERM "$up_pid"
wait "$up_pid" || true
echo "both mappings invoked with $invoked, $delivered delivered; callgrind output in $OUT"
[ "$invoked" -ge "$N" ] && [ "$delivered" -ge "$N" ]
