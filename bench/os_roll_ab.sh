#!/bin/bash
# A/B of two freshet binaries in --durability os: usage bench/os_roll_ab.sh BINARY LABEL
# (the client is the same binary). Prints records/s, latency percentiles and segments rolled.
BIN=$1; D=$(mktemp -d /var/tmp/osb.XXXX)
$BIN serve --listen 127.0.0.1:0 --data-dir $D --durability os > $D/out 2>$D/err &
PID=$!
for i in $(seq 50); do grep -q listening $D/out && break; sleep 0.1; done
PORT=$(grep -o '127.0.0.1:[0-9]*' $D/out | head -1 | cut -d: -f2)
$BIN bench put --endpoint http://127.0.0.1:$PORT --stream s --create --shards 1 --record-size 1000 --batch 500 --concurrency 8 --duration 12 --json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); print('$2', round(d['records_per_s']), d['latency_ms'])"
echo "segments: $(find $D/logs -name '*.log' | wc -l)"
kill $PID; wait $PID 2>/dev/null; rm -rf $D
