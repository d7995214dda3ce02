#!/usr/bin/env bash
# Runtime benchmark: orrery-runtime (release, durable SQLite) and `langgraph dev` serving the same
# echo graph, measured in one run and printed side by side with ratios:
#   start-up to the first /ok answer, sequential runs/wait per second, p50 time to the first
#   SSE frame of runs/stream, the same load from 8 concurrent clients, RSS of each process tree
#   idle and after the load; plus Python LangGraph's own in-process rate (no server).
# The machine is shared and noisy: our load and Python's in-process rate are measured in
# alternating rounds and the medians are printed, with each round's ratio.
# usage: bash runtime/server/bench/run.sh [--runs 500] [--peer-runs 20] [--rounds 5]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
runs=500; peer_runs=20; rounds=5
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --peer-runs) peer_runs="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orrery/target}"
venv="${ORRERY_LGDEV_VENV:-$HOME/.cache/orrery/venv-lgdev}"
if [ ! -x "$venv/bin/langgraph" ]; then
  echo "installing langgraph-cli[inmem] into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "langgraph-cli[inmem]"
fi

echo "building orrery-runtime (release) and the load generator ..." >&2
(cd "$root" && cargo build -q --release -p orrery-runtime && cargo bench -q -p orrery-runtime --bench http_load --no-run 2>/dev/null)
load() { (cd "$root" && cargo bench -q -p orrery-runtime --bench http_load -- "$@"); }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_tree_kb() { # the RSS of a process and all its descendants
  local total=0 pids="$1" p
  while [ -n "$pids" ]; do
    local next=""
    for p in $pids; do
      total=$((total + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
      next="$next $(pgrep -P "$p" | tr '\n' ' ')"
    done
    pids="$(echo $next)"
  done
  echo "$total"
}
wait_ok() { # seconds from now until $1/ok answers
  python3 - "$1" <<'PY'
import sys, time, urllib.request
start = time.perf_counter()
for _ in range(60000):
    try:
        urllib.request.urlopen(sys.argv[1] + "/ok", timeout=1).read(); break
    except OSError:
        time.sleep(0.001)
print(f"{time.perf_counter() - start:.4f}")
PY
}

out="$(mktemp -d)"
cleanup() { kill -9 ${ours:-} ${peer:-} 2>/dev/null || true; rm -rf "$out"; }
trap cleanup EXIT

# --- orrery-runtime ---------------------------------------------------------------------------
port=$(free_port)
"$CARGO_TARGET_DIR/release/orrery-runtime" dev --port "$port" --data-dir "$out/data" >/dev/null 2>&1 &
ours=$!
ours_start=$(wait_ok "http://127.0.0.1:$port")
sleep 1
ours_idle=$(rss_tree_kb "$ours")
ours_load="["; inproc="["
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds: orrery-runtime ($runs sequential runs, 100 streams, 8 clients), then Python LangGraph in process ..." >&2
  ours_load="$ours_load$(load --url "http://127.0.0.1:$port" --runs "$runs" --streams 100 --clients 8 --concurrent-runs "$runs"),"
  inproc="$inproc$("$venv/bin/python" "$here/echo_py/inprocess.py" 2000),"
done
ours_load="${ours_load%,}]"; inproc="${inproc%,}]"
ours_after=$(rss_tree_kb "$ours")
kill -9 "$ours"; wait "$ours" 2>/dev/null || true

# --- langgraph dev ----------------------------------------------------------------------------
port=$(free_port)
(cd "$here/echo_py" && LANGSMITH_TRACING=false LANGGRAPH_CLI_NO_ANALYTICS=1 LANGGRAPH_NO_VERSION_CHECK=1 \
  exec "$venv/bin/langgraph" dev --no-browser --no-reload --host 127.0.0.1 --port "$port" >/dev/null 2>&1) &
peer=$!
peer_start=$(wait_ok "http://127.0.0.1:$port")
sleep 2
peer_idle=$(rss_tree_kb "$peer")
echo "langgraph dev: $peer_runs sequential runs, 10 streams, 8 clients ..." >&2
peer_load=$(load --url "http://127.0.0.1:$port" --runs "$peer_runs" --streams 10 --clients 8 --concurrent-runs "$peer_runs")
peer_after=$(rss_tree_kb "$peer")
kill -9 "$peer" 2>/dev/null; pkill -9 -P "$peer" 2>/dev/null || true; wait "$peer" 2>/dev/null || true


python3 - "$ours_load" "$peer_load" "$inproc" "$ours_start" "$peer_start" "$ours_idle" "$ours_after" "$peer_idle" "$peer_after" <<'PY'
import json, statistics, sys
rounds, p, pys = (json.loads(sys.argv[i]) for i in (1, 2, 3))
med = lambda key, xs: statistics.median(x[key] for x in xs)
o = {k: med(k, rounds) for k in ("sequential_runs_per_sec", "first_frame_p50_ms", "concurrent_runs_per_sec")}
py = {"inprocess_runs_per_sec": med("inprocess_runs_per_sec", pys)}
os_, ps_ = float(sys.argv[4]), float(sys.argv[5])
oi, oa, pi, pa = (int(x) / 1024 for x in sys.argv[6:10])
def row(name, ours, peer, unit, higher_is_better=True, fmt="{:,.1f}"):
    ratio = (ours / peer if higher_is_better else peer / ours) if ours and peer else float("nan")
    print(f"{name:<34} {fmt.format(ours):>12} {fmt.format(peer):>14}  {unit:<8} {ratio:>8.1f}x")
print(f"orrery: medians of {len(rounds)} rounds; langgraph dev: one round (it serves about one run a second)")
print(f"{'':<34} {'orrery':>12} {'langgraph dev':>14}  {'':<8} {'better by':>9}")
row("start-up to first /ok", os_ * 1000, ps_ * 1000, "ms", False)
row("sequential runs/wait", o["sequential_runs_per_sec"], p["sequential_runs_per_sec"], "runs/s")
row("p50 first SSE frame", o["first_frame_p50_ms"], p["first_frame_p50_ms"], "ms", False, "{:,.2f}")
row("8 concurrent clients", o["concurrent_runs_per_sec"], p["concurrent_runs_per_sec"], "runs/s")
row("RSS idle (process tree)", oi, pi, "MiB", False)
row("RSS after the load", oa, pa, "MiB", False)
print(f"Python LangGraph in process (InMemorySaver, no HTTP), median: {py['inprocess_runs_per_sec']:,.1f} runs/s; "
      f"orrery over HTTP with durable SQLite, median: {o['sequential_runs_per_sec'] / py['inprocess_runs_per_sec']:.2f}x that")
ratios = [r["sequential_runs_per_sec"] / q["inprocess_runs_per_sec"] for r, q in zip(rounds, pys)]
print("each round, orrery sequential / Python in process: "
      + ", ".join(f"{r['sequential_runs_per_sec']:,.0f}/{q['inprocess_runs_per_sec']:,.0f} = {x:.2f}x" for r, q, x in zip(rounds, pys, ratios)))
print("each round, orrery with 8 clients: " + ", ".join(f"{r['concurrent_runs_per_sec']:,.0f}" for r in rounds) + " runs/s")
PY
