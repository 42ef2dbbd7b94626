#!/usr/bin/env bash
# Server CPU per DynamoDB write: starts a fresh `freshet serve` (BINARY) on a free port, runs
# bench/table_load --op OP (put or batch; get/query after a load) for SECONDS at c=64, and
# prints table_load's line plus the server process's user+system CPU time (from /proc) per
# operation and per item. CPU per item moves less than throughput on a shared machine, so
# alternate two binaries to compare them.
#
# Usage: bench/table_put_cpu.sh BINARY [OP] [SECONDS] [serve args...]
# TABLE_LOAD_BIN overrides the load program (default: build/release/bench/table_load).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=$1; OP=${2:-put}; S=${3:-5}; shift $(( $# < 3 ? $# : 3 ))
L=${TABLE_LOAD_BIN:-$ROOT/build/release/bench/table_load}
D=$(mktemp -d "${TMPDIR:-/tmp}/freshet-table-cpu.XXXXXX")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$B" serve --listen "127.0.0.1:$PORT" --data-dir "$D/data" "$@" > "$D/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
  sleep 0.1
done
EP=http://127.0.0.1:$PORT
"$L" --endpoint "$EP" --op put --create --seconds 0.2 --concurrency 1 > /dev/null
if [ "$OP" = get ] || [ "$OP" = query ]; then
  "$L" --endpoint "$EP" --op load --keys 100000 --partitions 200 --concurrency 8 > /dev/null
fi
cpu() { awk '{print $14+$15}' "/proc/$PID/stat"; }
TICK=$(getconf CLK_TCK)
c0=$(cpu)
out=$("$L" --endpoint "$EP" --op "$OP" --seconds "$S" --concurrency 64)
c1=$(cpu)
ops=$(sed -n 's/.* ops=\([0-9]*\).*/\1/p' <<<"$out")
items=$(sed -n 's/.* items=\([0-9]*\).*/\1/p' <<<"$out")
echo "$out"
echo "server_cpu_us_per_op=$(( (c1 - c0) * 1000000 / TICK / ops )) server_cpu_us_per_item=$(( (c1 - c0) * 1000000 / TICK / items )) load=$(cut -d' ' -f1 /proc/loadavg)"
