#!/usr/bin/env bash
# Issue 15's cold-start target: from starting scripts/run.sh on a fresh clone (packages already
# installed, no build directory, ccache off) to the dashboard answering 200. Prints a line every
# 5 s while it waits, then the wall time, the compile CPU summed from build/run/.ninja_log's
# compiles (their wall times: CPU on an otherwise idle machine) and the five longest compiles.
#
#   bench/cold_start.sh [COMMIT]     # default HEAD of this repository
#
# The machine's other load lengthens the wall time: say what it was when recording a number.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$repo" rev-parse "${1:-HEAD}")
work=$(mktemp -d /tmp/freshet-cold.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap 'kill $run_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

git clone -q "$repo" "$work/src"
git -C "$work/src" checkout -q "$commit"
echo "cold start of $(git -C "$work/src" rev-parse --short HEAD) (load $(cut -d' ' -f1-3 /proc/loadavg))"
t0=$(date +%s.%N)
# exec: run.sh execs the server in turn, so $run_pid ends up being the server, which the trap stops.
(cd "$work/src" && FRESHET_LISTEN=127.0.0.1:$port FRESHET_DATA_DIR=$work/data CCACHE_DISABLE=1 \
  exec scripts/run.sh > "$work/run.log" 2>&1) &
run_pid=$!
code=000
for i in $(seq 1 1200); do  # at most 600 s
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null || true)
  [ "$code" = 200 ] && break
  kill -0 $run_pid 2>/dev/null || { echo "scripts/run.sh ended:"; tail -20 "$work/run.log"; exit 1; }
  [ $((i % 10)) -eq 0 ] && echo "  $((i / 2)) s: $(grep -c 'Building' "$work/run.log" || true) compiles started"
  sleep 0.5
done
t1=$(date +%s.%N)
[ "$code" = 200 ] || { echo "no dashboard after 600 s"; exit 1; }
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "  dashboard answered 200 after %.1f s\n", b - a }'
awk 'NR > 1 && $4 ~ /\.o$/ { s += ($2 - $1) / 1000 } END { printf "  compiles: %.1f s in all\n", s }' \
  "$work/src/build/run/.ninja_log"
awk 'NR > 1 && $4 ~ /\.o$/ { printf "%8.1f s  %s\n", ($2 - $1) / 1000, $4 }' \
  "$work/src/build/run/.ninja_log" | sort -rn | head -5
echo "  (load $(cut -d' ' -f1-3 /proc/loadavg))"
