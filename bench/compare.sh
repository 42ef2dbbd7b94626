#!/usr/bin/env bash
# Run the same `freshet bench` workloads against Freshet and against peer Kinesis
# implementations (kinesalite from npm; moto's server if it is already installed), one server
# at a time, and print a side-by-side table. Raw JSON of every run goes to the results dir.
#
# Usage: bench/compare.sh [--quick] [--results DIR] [--no-moto] [--no-kinesalite]
#   --quick          short durations (smoke run, about 25 s)
#   --results DIR    where raw JSON, logs and table.txt go (default build/compare-results)
#
# Only loopback traffic: every server listens on 127.0.0.1 on a free port, and is stopped by
# PID when the script exits. Every wait is bounded.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=/usr/bin/python3
FRESHET="$ROOT/build/release/freshet"
PEERS="$ROOT/bench/peers"
RESULTS="$ROOT/build/compare-results"
QUICK=0
USE_MOTO=1
USE_KINESALITE=1

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --results) RESULTS=$2; shift ;;
    --results=*) RESULTS=${1#*=} ;;
    --no-moto) USE_MOTO=0 ;;
    --no-kinesalite) USE_KINESALITE=0 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

# Workload parameters (seconds). The bulk put is duration-bound, not record-bound, so that a
# slow peer takes the same wall time as Freshet.
if [ "$QUICK" = 1 ]; then
  BULK_S=2; SINGLE_S=1; E2E_S=1; DRAIN_MAX_S=60
else
  BULK_S=10; SINGLE_S=5; E2E_S=5; DRAIN_MAX_S=180
fi
SHARDS=4
SLACK_S=60   # extra time a bench run may take beyond its duration before `timeout` kills it

log() { printf '[compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------- cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/freshet-compare.XXXXXX")
SERVER_PID=""
stop_server() {
  local pid=$SERVER_PID
  [ -n "$pid" ] || return 0
  SERVER_PID=""
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "PID $pid did not exit 5 s after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_server
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

START_TS=$(date +%s)

# ---------------------------------------------------------------- 1. peers
KINESALITE_VERSION=""
if [ "$USE_KINESALITE" = 1 ]; then
  want=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["dependencies"]["kinesalite"])' "$PEERS/package.json")
  have=""
  if [ -f "$PEERS/node_modules/kinesalite/package.json" ]; then
    have=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$PEERS/node_modules/kinesalite/package.json")
  fi
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "node/npm not found: kinesalite skipped"; USE_KINESALITE=0
  elif [ "$have" = "$want" ]; then
    log "kinesalite $have already installed in bench/peers/node_modules"
  else
    log "installing kinesalite $want into bench/peers (npm ci)"
    if (cd "$PEERS" && timeout 300 npm ci --no-audit --no-fund >"$TMP/npm.log" 2>&1); then
      :
    else
      cat "$TMP/npm.log" >&2
      log "npm ci failed: kinesalite skipped"; USE_KINESALITE=0
    fi
  fi
  if [ "$USE_KINESALITE" = 1 ]; then
    KINESALITE_VERSION=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$PEERS/node_modules/kinesalite/package.json")
  fi
fi

MOTO_CMD=()
MOTO_VERSION=""
if [ "$USE_MOTO" = 1 ]; then
  if command -v moto_server >/dev/null; then
    MOTO_CMD=(moto_server)
  elif command -v python3 >/dev/null && python3 -c "import moto.server" 2>/dev/null; then
    MOTO_CMD=(python3 -m moto.server)
  fi
  if [ ${#MOTO_CMD[@]} -eq 0 ]; then
    log "moto is not installed (no moto_server on PATH, python3 cannot import moto.server): moto skipped"
    USE_MOTO=0
  else
    # The interpreter behind moto_server, to report its version.
    moto_py=python3
    if [ "${MOTO_CMD[0]}" = moto_server ]; then
      shebang=$(head -1 "$(command -v moto_server)" 2>/dev/null || true)
      case "$shebang" in '#!'*python*) moto_py=${shebang#\#!} ;; esac
      # pyenv shims are bash scripts; ask pyenv which interpreter it runs.
      if command -v pyenv >/dev/null && [ "$(pyenv which moto_server 2>/dev/null)" != "" ]; then
        moto_py=$(dirname "$(pyenv which moto_server)")/python
      fi
    fi
    MOTO_VERSION=$($moto_py -c 'import moto; print(moto.__version__)' 2>/dev/null || echo unknown)
    log "moto $MOTO_VERSION found: ${MOTO_CMD[*]}"
  fi
fi

# ---------------------------------------------------------------- 2. build
if [ ! -x "$FRESHET" ]; then
  log "building Freshet (build/release/freshet is missing)"
  cmake --preset release -DFRESHET_MODULES="common;log;metrics;stream;table;objstore;delivery;api;api/kinesis;api/dynamodb;api/firehose;api/s3;node;cli"
  cmake --build --preset release
fi

# ---------------------------------------------------------------- results dir
mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.json "$RESULTS"/*.stderr "$RESULTS"/*.log "$RESULTS"/table.txt
$PY - "$RESULTS/meta.json" "$QUICK" "$KINESALITE_VERSION" "$MOTO_VERSION" "$BULK_S" "$SINGLE_S" "$E2E_S" <<'PY'
import json, os, platform, subprocess, sys, datetime
out, quick, kv, mv, bulk, single, e2e = sys.argv[1:]
def sh(*a):
    try: return subprocess.run(a, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception: return ""
json.dump({
    "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    "command": "bench/compare.sh" + (" --quick" if quick == "1" else ""),
    "freshet_commit": sh("git", "rev-parse", "--short", "HEAD"),
    "freshet_dirty": bool(sh("git", "status", "--porcelain", "--untracked-files=no")),
    "kinesalite_version": kv or None, "moto_version": mv or None,
    "node_version": sh("node", "--version") or None,
    "cpus": os.cpu_count(), "kernel": platform.release(),
    "durations_s": {"bulk_put": float(bulk), "put_single": float(single), "e2e": float(e2e)},
}, open(out, "w"), indent=2)
PY

# ---------------------------------------------------------------- servers
free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL PID LOG: until the server answers any HTTP request (bounded: 30 s).
wait_http() {
  local url=$1 pid=$2 logf=$3
  for _ in $(seq 150); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "server exited during startup; its log:"; cat "$logf" >&2; return 1
    fi
    if $PY - "$url" <<'PY' 2>/dev/null; then return 0; fi
import http.client, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=1)
c.request("GET", "/"); c.getresponse().read()
PY
    sleep 0.2
  done
  log "server did not answer $url within 30 s; its log:"; tail -20 "$logf" >&2
  return 1
}

# start_server NAME: sets SERVER_PID and URL.
start_server() {
  local name=$1 logf="$RESULTS/$1.server.log" port
  URL=""
  case "$name" in
    freshet)
      rm -rf "$TMP/freshet-data"
      "$FRESHET" serve --listen 127.0.0.1:0 --data-dir "$TMP/freshet-data" >"$logf" 2>&1 &
      SERVER_PID=$!
      for _ in $(seq 150); do
        URL=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$logf" 2>/dev/null | head -1 | sed 's/^listening on //' || true)
        [ -n "$URL" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.2
      done
      [ -n "$URL" ] || { log "freshet did not print its address; its log:"; cat "$logf" >&2; return 1; }
      ;;
    kinesalite)
      # kinesalite's cli.js listens on every interface; its module API lets us bind loopback
      # only. Options as cli.js would pass them (--createStreamMs 0 ... --shardLimit 100).
      port=$(free_port); URL="http://127.0.0.1:$port"
      node -e '
        const k = require(process.argv[1]);
        const s = k({createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100})
          .listen(+process.argv[2], "127.0.0.1", () => console.log("kinesalite listening on", s.address()));
        process.on("SIGTERM", () => process.exit(0));
      ' "$PEERS/node_modules/kinesalite" "$port" >"$logf" 2>&1 &
      SERVER_PID=$!
      ;;
    moto)
      port=$(free_port); URL="http://127.0.0.1:$port"
      "${MOTO_CMD[@]}" -H 127.0.0.1 -p "$port" >"$logf" 2>&1 &
      SERVER_PID=$!
      ;;
  esac
  wait_http "$URL" "$SERVER_PID" "$logf"
}

# run_bench SERVER WORKLOAD TIMEOUT_S ARGS...: one `freshet bench` run, JSON to the results dir.
run_bench() {
  local server=$1 workload=$2 limit=$3; shift 3
  local out="$RESULTS/$server.$workload.json" err="$RESULTS/$server.$workload.stderr" rc=0
  log "$server: $workload: freshet bench $*"
  timeout "$limit" "$FRESHET" bench "$@" --endpoint "$URL" --json >"$out" 2>"$err" || rc=$?
  if [ "$rc" != 0 ]; then
    log "$server: $workload: exit status $rc (see $err)"; tail -3 "$err" >&2 || true
    echo "$rc" >"$RESULTS/$server.$workload.exit"
  fi
  return 0
}

run_server() {
  local s=$1
  log "=== $s"
  if ! start_server "$s"; then
    echo "startup failed" >"$RESULTS/$s.startup-failed"
    stop_server
    return 0
  fi
  log "$s: listening on $URL (PID $SERVER_PID)"
  run_bench "$s" put_batch500_c8 $((BULK_S + SLACK_S)) put --stream bulk --create --shards $SHARDS \
    --record-size 100 --batch 500 --concurrency 8 --duration "$BULK_S"
  run_bench "$s" get_drain $((DRAIN_MAX_S + SLACK_S)) get --stream bulk --limit 10000 --duration "$DRAIN_MAX_S"
  run_bench "$s" put_batch1_c1 $((SINGLE_S + SLACK_S)) put --stream single1 --create --shards $SHARDS \
    --record-size 100 --batch 1 --concurrency 1 --duration "$SINGLE_S"
  run_bench "$s" put_batch1_c16 $((SINGLE_S + SLACK_S)) put --stream single16 --create --shards $SHARDS \
    --record-size 100 --batch 1 --concurrency 16 --duration "$SINGLE_S"
  # Two client threads at c=64: one thread is busy 40-45% of the time there and its queue
  # adds to every request's latency (61,500-62,800 vs 67,800-68,000 requests/s against Freshet).
  run_bench "$s" put_batch1_c64 $((SINGLE_S + SLACK_S)) put --stream single64 --create --shards $SHARDS \
    --record-size 100 --batch 1 --concurrency 64 --threads 2 --duration "$SINGLE_S"
  run_bench "$s" e2e_poll10 $((E2E_S + SLACK_S)) e2e --stream e2e --create --shards $SHARDS \
    --record-size 100 --poll-ms 10 --duration "$E2E_S"
  # Resident memory after the runs (KiB), then stop.
  ps -o rss= -p "$SERVER_PID" 2>/dev/null | tr -d ' ' >"$RESULTS/$s.rss_kib" || true
  stop_server
}

SERVERS=(freshet)
[ "$USE_KINESALITE" = 1 ] && SERVERS+=(kinesalite)
[ "$USE_MOTO" = 1 ] && SERVERS+=(moto)
for s in "${SERVERS[@]}"; do run_server "$s"; done

ELAPSED=$(( $(date +%s) - START_TS ))

# ---------------------------------------------------------------- 5. table
$PY - "$RESULTS" "$ELAPSED" "${SERVERS[@]}" <<'PY' | tee "$RESULTS/table.txt"
import json, os, sys
res, elapsed, servers = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
meta = json.load(open(os.path.join(res, "meta.json")))
label = {"freshet": "Freshet", "kinesalite": f"kinesalite {meta.get('kinesalite_version') or ''}".strip(),
         "moto": f"moto {meta.get('moto_version') or ''}".strip()}
d = meta["durations_s"]

def load(s, w):
    p = os.path.join(res, f"{s}.{w}.json")
    try:
        with open(p) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except Exception:
        return None

def exit_note(s, w):
    p = os.path.join(res, f"{s}.{w}.exit")
    if os.path.exists(p):
        rc = open(p).read().strip()
        return "timed out" if rc == "124" else f"exit {rc}"
    if os.path.exists(os.path.join(res, f"{s}.startup-failed")):
        return "server did not start"
    return "no result"

def fmt_n(x): return f"{x:,.0f}"
def fmt_ms(x): return f"{x:.1f} ms" if x >= 1 else f"{x:.2f} ms"

def errs(j):
    e = j.get("errors", 0)
    if not e: return ""
    by = j.get("errors_by_type") or {}
    detail = ", ".join(f"{k} {v}" for k, v in by.items())
    return f"; **{e} errors**" + (f" ({detail})" if detail else "")

workloads = [
    ("put_batch500_c8", f"PutRecords 100 B × 500, c=8, {d['bulk_put']:g} s", "tput"),
    ("get_drain", "GetRecords drain (Limit 10000) of the above", "drain"),
    ("put_batch1_c1", f"PutRecord 100 B, c=1, {d['put_single']:g} s", "tput"),
    ("put_batch1_c16", f"PutRecord 100 B, c=16, {d['put_single']:g} s", "tput"),
    ("put_batch1_c64", f"PutRecord 100 B, c=64 (2 client threads), {d['put_single']:g} s", "tput"),
    ("e2e_poll10", f"e2e put→get, poll 10 ms, {d['e2e']:g} s", "lat"),
]

rows = []
for w, title, kind in workloads:
    row, vals = [title], {}
    for s in servers:
        j = load(s, w)
        if j is None:
            row.append(exit_note(s, w)); continue
        lat = j.get("latency_ms", {})
        rps = j.get("records_per_s", 0.0)
        if kind == "tput":
            cell = f"{fmt_n(rps)} rec/s, p99 {fmt_ms(lat.get('p99', 0))}"
        elif kind == "drain":
            put = load(s, "put_batch500_c8")
            n = j.get("records", 0)
            want = put.get("records") if put else None
            got = f"{fmt_n(n)}" + (f" of {fmt_n(want)}" if want is not None else "")
            cell = f"{fmt_n(rps)} rec/s ({got} records)"
        else:
            cell = (f"p50 {fmt_ms(lat.get('p50', 0))}, p99 {fmt_ms(lat.get('p99', 0))} "
                    f"({fmt_n(j.get('records', 0))} rec; {j.get('missing', 0)} missing)")
        cell += errs(j)
        row.append(cell)
        vals[s] = (rps, lat.get("p99"))
    ratios = []
    for s in servers[1:]:
        if "freshet" in vals and s in vals:
            (fr, fp), (pr, pp) = vals["freshet"], vals[s]
            if kind == "lat":
                if fp and pp: ratios.append(f"p99 {fp / pp:.2f}× of {s}")
            elif pr:
                ratios.append(f"{fr / pr:,.1f}× {s}")
    row.append("; ".join(ratios) or "–")
    rows.append(row)

rss = ["server RSS after the runs"]
for s in servers:
    p = os.path.join(res, f"{s}.rss_kib")
    v = open(p).read().strip() if os.path.exists(p) else ""
    rss.append(f"{int(v) / 1024:.0f} MB" if v.isdigit() else "–")
rss.append("")
rows.append(rss)

header = ["workload"] + [label[s] for s in servers] + ["Freshet/peer"]
print(f"Freshet vs peers, 4 shards, {meta['date']}, {meta['cpus']} CPUs (client and server on the same machine)")
print("| " + " | ".join(header) + " |")
print("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print()
print("Ratios: records/s of Freshet ÷ records/s of the peer (higher = Freshet faster); for e2e, "
      "Freshet's p99 ÷ the peer's p99 (lower = Freshet faster).")
print(f"Raw JSON: {res}   total time: {elapsed // 60} min {elapsed % 60} s")
PY
