#!/usr/bin/env bash
# The dashboard's first paint with many shards: a server with one stream of SHARDS shards,
# Debian's headless Chromium through playwright-core (tests/compat/dashboard/check.mjs), the
# overview and the streams tab, ROUNDS times each. Prints the first contentful paint and the
# time until the first state was fetched and rendered.
# Usage: bench/dashboard_paint.sh [SHARDS=1000] [ROUNDS=3] [BINARY=build/release/freshet]
set -euo pipefail
SHARDS=${1:-1000}
ROUNDS=${2:-3}
BIN=${3:-build/release/freshet}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
bash "$ROOT/tests/compat/dashboard/setup.sh" >/dev/null
TMP=$(mktemp -d "${TMPDIR:-/tmp}/freshet-paint.XXXXXX")
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$TMP/data" --durability os --shard-limit $((SHARDS + 10)) >"$TMP/serve.log" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$TMP/serve.log" && break; sleep 0.1; done
EP=$(sed -n 's/.*listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$TMP/serve.log" | head -1)
curl -s -o /dev/null -X POST "$EP/" -H 'Content-Type: application/x-amz-json-1.1' \
  -H 'X-Amz-Target: Kinesis_20131202.CreateStream' \
  -H 'Authorization: AWS4-HMAC-SHA256 Credential=t/20250101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0' \
  -H 'X-Amz-Date: 20250101T000000Z' -d "{\"StreamName\":\"wide\",\"ShardCount\":$SHARDS}"
sleep 1
echo "state JSON: $(curl -s "$EP/dashboard/api/state" | wc -c) bytes, $(curl -s -o /dev/null -w '%{time_total}' "$EP/dashboard/api/state") s to fetch"
for tab in overview streams; do
  for r in $(seq "$ROUNDS"); do
    node "$ROOT/tests/compat/dashboard/check.mjs" "$EP" "$tab" "$TMP/$tab.png" 0 "" |
      /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(f'$tab round $r: first contentful paint {d[\"firstContentfulPaintMs\"]:.0f} ms, state rendered after {d[\"loadedMs\"]} ms, errors {len(d[\"errors\"])}')"
  done
done
