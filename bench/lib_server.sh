# Shared by the bench/*.sh A/B scripts: start and stop one `freshet serve` on a free loopback
# port, and a control-plane churn load. Source it after setting TMP (a scratch directory):
#   . "$(dirname "${BASH_SOURCE[0]}")/lib_server.sh"
#   start BINARY [serve flags...]   sets PID and PORT; data in $TMP/data, log in $TMP/serve.log
#   stop                            SIGTERM, wait
#   churn PORT SECONDS              CreateStream every 100 ms (run it in the background)
# Every wait is bounded; the caller's EXIT trap should call stop_quietly.

PID=""
PORT=""

start() {
  local bin=$1
  shift
  rm -rf "$TMP/data"
  "$bin" serve --listen 127.0.0.1:0 --data-dir "$TMP/data" "$@" >"$TMP/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    if grep -q 'listening on' "$TMP/serve.log"; then break; fi
    sleep 0.1
  done
  PORT=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/serve.log" | head -1)
  [ -n "$PORT" ] || { echo "server did not start: $(tail -3 "$TMP/serve.log")" >&2; exit 1; }
}

stop() {
  kill -TERM "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}

stop_quietly() {
  if [ -n "$PID" ]; then stop; fi
}

# Signatures are parsed, not verified, so a SigV4-shaped header is enough.
churn() {
  local port=$1 secs=$2 i=0
  local end=$(( $(date +%s) + secs ))
  while [ "$(date +%s)" -lt "$end" ]; do
    curl -s -o /dev/null -X POST "http://127.0.0.1:$port/" \
      -H 'Content-Type: application/x-amz-json-1.1' \
      -H 'X-Amz-Target: Kinesis_20131202.CreateStream' \
      -H 'Authorization: AWS4-HMAC-SHA256 Credential=t/20250101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0' \
      -d "{\"StreamName\":\"churn$i\",\"ShardCount\":1}" || true
    i=$((i + 1))
    sleep 0.1
  done
}
