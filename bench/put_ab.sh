#!/bin/bash
# A/B of two freshet binaries in fsync durability: bench/put_ab.sh BINARY LABEL BATCH CONCURRENCY
# usage: fsbench.sh BINARY LABEL BATCH CONCURRENCY
BIN=$1; D=$(mktemp -d /var/tmp/fsb.XXXX)
$BIN serve --listen 127.0.0.1:0 --data-dir $D > $D/out 2>$D/err &
PID=$!
for i in $(seq 50); do grep -q listening $D/out && break; sleep 0.1; done
PORT=$(grep -o '127.0.0.1:[0-9]*' $D/out | head -1 | cut -d: -f2)
$BIN bench put --endpoint http://127.0.0.1:$PORT --stream s --create --shards 4 --record-size 100 --batch $3 --concurrency $4 --duration 8 --json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); l=d['latency_ms']; print('$2 batch=$3 c=$4', round(d['records_per_s']), 'p50', l['p50'], 'p99', l['p99'], 'p99.9', l['p99_9'])"
kill $PID; wait $PID 2>/dev/null; rm -rf $D
