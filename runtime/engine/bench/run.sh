#!/usr/bin/env bash
# Runs the engine benchmark on both sides in one go and prints super-steps per second side by
# side: this engine (in-memory checkpointer) and Python LangGraph (InMemorySaver), same graphs.
# usage: bash runtime/engine/bench/run.sh [--seconds 2] [--repeats 5]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
venv="${ORRERY_BENCH_VENV:-$HOME/.cache/orrery/venv-langgraph}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import langgraph" 2>/dev/null; then
  echo "installing the pinned Python LangGraph into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$root/runtime/engine/tests/oracle/requirements.txt"
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "Rust engine (release build) ..." >&2
(cd "$root" && cargo bench -q -p orrery-engine --bench engine -- "$@") > "$out/rust.jsonl"
echo "Python LangGraph $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("langgraph"))') ..." >&2
"$venv/bin/python" "$here/py_engine_bench.py" "$@" > "$out/py.jsonl"
python3 - "$out/rust.jsonl" "$out/py.jsonl" <<'PY'
import json, sys
def load(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    return {r["graph"]: r for r in rows}
rust, py = load(sys.argv[1]), load(sys.argv[2])
print(f"{'graph':<9} {'rust steps/s':>14} {'python steps/s':>15} {'ratio':>8}   {'rust runs/s':>12} {'python runs/s':>14}")
for g in rust:
    r, p = rust[g], py.get(g)
    if not p:
        continue
    ratio = r["supersteps_per_sec"] / p["supersteps_per_sec"]
    print(f"{g:<9} {r['supersteps_per_sec']:>14,.0f} {p['supersteps_per_sec']:>15,.0f} {ratio:>7.1f}x   {r['runs_per_sec']:>12,.1f} {p['runs_per_sec']:>14,.1f}")
print("(medians of the repeats; super-steps = 'loop' checkpoints, as both savers record them)")
PY
