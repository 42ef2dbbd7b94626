#!/usr/bin/env bash
# The tweet pipeline end to end under load: `freshet up` on a copy of examples/tweets.yaml
# whose producer sends N tweets (1% malformed) as fast as the node takes them, timed from
# /metrics until the stream holds all N (produced) and until Firehose has delivered all N to
# the bucket as GZIP objects (delivered). Prints the rates, the delivery lag at the end, the
# server's peak RSS, and the server's CPU time (user + system, all threads) per tweet from the
# start to the end of the run: a measure the machine's other load distorts far less than the
# rates (it includes the in-process producer; with --split the producer is not in it).
#
#   bench/pipeline_bench.sh [N]            # producer in process (default N = 1,000,000)
#   bench/pipeline_bench.sh N --split      # the 1-vCPU target: server pinned to core 0
#                                          # (taskset -c 0), `freshet produce` over HTTP on core 1
#   bench/pipeline_bench.sh N --rate R     # sustained: the producer at R tweets/s
#   bench/pipeline_bench.sh N --split --rate R   # both: the 1-vCPU target at a set rate
#
# Every run prints the worst IteratorAge of the mappings and DataFreshness seen (sampled every
# 0.2 s), the bounds of issue 15 (< 5 s and <= interval + 2 s), and when both mappings (the
# extract into the table and the trend window) had been invoked with all N records
# (InvokedEventCount, which counts a retried record again, so that time is a lower bound).
#
# FRESHET_BINARY picks the binary (default build/release/freshet), FRESHET_PIPELINE the file
# (default examples/tweets.yaml; a variant of it measures what one part costs). Durability is
# fsync, as shipped. The machine's other load skews the numbers: say so when recording them.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
[ $# -gt 0 ] && shift
MODE=""
RATE=0
while [ $# -gt 0 ]; do
  case $1 in
    --split) MODE=--split; shift ;;
    --rate) RATE=${2:?--rate needs tweets/s}; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
BIN=${FRESHET_BINARY:-build/release/freshet}
work=$(mktemp -d /tmp/freshet-pipeline-bench.XXXXXX)
trap 'kill $up_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

# The example with: the producer at full speed for N records with 4 senders; 1 s buffering.
sed -e 's/interval_seconds: 60/interval_seconds: 1/' \
    -e "s/rate: 1000 /rate: $RATE /" \
    -e "s/seed: 42/seed: 42\n    count: $N\n    senders: 4/" \
    "${FRESHET_PIPELINE:-examples/tweets.yaml}" > "$work/tweets.yaml"
extra=()
pin=()
if [ "$MODE" = "--split" ]; then
  extra=(--no-producers)
  pin=(taskset -c 0)
fi

"${pin[@]}" "$BIN" up "$work/tweets.yaml" --listen 127.0.0.1:0 --data-dir "$work/data" \
  "${extra[@]}" > "$work/up.log" 2> "$work/up.err" &
up_pid=$!
for _ in $(seq 1 200); do
  # (up.log may not exist yet: the shell that starts the server makes it)
  endpoint=$(sed -n 's/^freshet: listening on \(http:[^ ]*\).*/\1/p' "$work/up.log" 2>/dev/null || true)
  [ -n "$endpoint" ] && break
  sleep 0.1
done
[ -n "$endpoint" ] || { cat "$work/up.log" "$work/up.err"; exit 1; }
# The server's CPU time (user + system, every thread, those ended included) in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' /proc/$up_pid/stat; }
cpu0=$(cpu_ticks)
t0=$(date +%s.%N)
if [ "$MODE" = "--split" ]; then
  taskset -c 1 "$BIN" produce --endpoint "$endpoint" --stream tweets --count "$N" --rate "$RATE" \
    --malformed 0.01 --shape mixed --seed 42 --concurrency 4 --quiet > "$work/produce.log" &
fi

# One scrape of /metrics per sample ($work/metrics), read by the helpers below: rendering
# every series costs the server CPU, so the loop asks once, not once per number.
scrape() { curl -s "$endpoint/metrics" > "$work/metrics"; }
# Sums of a metric's series whose labels contain $2 (Prometheus text).
metric() {
  awk -v name="$1" -v label="$2" \
    'index($0, name) == 1 && index($0, label) > 0 { s += $NF } END { printf "%d\n", s }' "$work/metrics"
}
# The largest value of a metric's series (Prometheus text).
metric_max() {
  awk -v name="$1" \
    'index($0, name) == 1 && $NF + 0 > m { m = $NF + 0 } END { printf "%.3f\n", m }' "$work/metrics"
}
# The smallest per-mapping InvokedEventCount (Prometheus text; 0 until every mapping has one).
invoked_min() {
  awk 'index($0, "freshet_lambda_InvokedEventCount_total{") == 1 { n++; if (n == 1 || $NF + 0 < m) m = $NF + 0 }
       END { printf "%d\n", (n >= 2 ? m : 0) }' "$work/metrics"
}
produced_at=""
delivered_at=""
processed_at=""
max_age=0
max_fresh=0
while :; do
  now=$(date +%s.%N)
  scrape
  stored=$(metric freshet_shard_tip_offset 'stream="tweets"')
  delivered=$(metric freshet_firehose_DeliveryToS3_Records 'tweets-archive')
  age=$(metric_max 'freshet_lambda_IteratorAge_seconds{')
  fresh=$(metric_max 'freshet_firehose_DeliveryToS3_DataFreshness_seconds{')
  max_age=$(awk -v a="$age" -v b="$max_age" 'BEGIN { print (a > b ? a : b) }')
  max_fresh=$(awk -v a="$fresh" -v b="$max_fresh" 'BEGIN { print (a > b ? a : b) }')
  if [ -z "$produced_at" ] && [ "$stored" -ge "$N" ]; then produced_at=$now; fi
  invoked=$(invoked_min)
  if [ -z "$delivered_at" ] && [ "$delivered" -ge "$N" ]; then delivered_at=$now; fi
  if [ -z "$processed_at" ] && [ "$invoked" -ge "$N" ]; then processed_at=$now; fi
  if [ -n "$delivered_at" ] && [ -n "$processed_at" ]; then break; fi
  if awk -v a="$now" -v b="$t0" 'BEGIN { exit !(a - b > 180) }'; then
    echo "timed out: stored $stored, delivered $delivered, mappings invoked with $invoked of $N"; exit 1
  fi
  sleep 0.2
done
rss=$(awk '/VmHWM/ { print $2 }' /proc/$up_pid/status)
# CPU per live thread, summed by name with a trailing "/N" or digits cut ("m:tweets-extr/3"
# and "rocksdb:low0" count as "m:tweets-extr" and "rocksdb:low"): where the run's CPU went.
# Threads that ended (the in-process producer's) are only in the process's total.
threads=$(for t in /proc/$up_pid/task/*; do
  name=$(cat "$t/comm" 2>/dev/null) || continue
  ticks=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$t/stat" 2>/dev/null) || continue
  echo "$name $ticks"
done | awk '{ n = $1; sub(/\/[0-9]+$/, "", n); sub(/[0-9]+$/, "", n); s[n] += $2 }
  END { for (n in s) if (s[n] > 0) printf "%s %d\n", n, s[n] }' | sort -k2 -rn)
cpu=$(( $(cpu_ticks) - cpu0 ))
hz=$(getconf CLK_TCK)
label="in-process producer"
if [ "$MODE" = "--split" ]; then label="--split: server on core 0, producer over HTTP on core 1"; fi
if [ "$RATE" != 0 ]; then label="$label at $RATE tweets/s"; fi
awk -v n="$N" -v t0="$t0" -v p="$produced_at" -v d="$delivered_at" -v m="$processed_at" -v rss="$rss" -v age="$max_age" -v fresh="$max_fresh" -v mode="$label" -v cpu="$cpu" -v hz="$hz" 'BEGIN {
  printf "pipeline bench (%s): %d tweets, 1%% malformed\n", mode, n
  printf "  produced into stream tweets: %.2f s, %.0f tweets/s\n", p - t0, n / (p - t0)
  printf "  delivered to s3://tweets-archive (GZIP): %.2f s, %.0f tweets/s end to end\n", d - t0, n / (d - t0)
  printf "  delivery finished %.2f s after the last tweet was stored\n", d - p
  printf "  both mappings invoked with all %d: %.2f s, %.0f tweets/s (%.2f s after the last was stored)\n", n, m - t0, n / (m - t0), m - p
  printf "  server peak RSS: %.0f MiB\n", rss / 1024
  printf "  server CPU until both were done: %.2f s, %.1f us per tweet\n", cpu / hz, cpu / hz * 1e6 / n
  printf "  worst IteratorAge of the mappings: %.2f s; worst DataFreshness: %.2f s\n", age, fresh
}'
echo "$threads" | awk -v hz="$(getconf CLK_TCK)" -v n="$N" '
  NF == 2 { t += $2; line = line sprintf(" %s %.1f,", $1, $2 / hz * 1e6 / n) }
  END { sub(/,$/, "", line); printf "  CPU by thread (us per tweet; live threads, %.1f in all):%s\n", t / hz * 1e6 / n, line }'
