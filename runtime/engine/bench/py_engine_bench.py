"""Python LangGraph engine benchmark (baseline for the Rust engine).

State S = {x: int, log: Annotated[list, operator.add]}, InMemorySaver, default
durability, every run on a fresh thread id, input {"x": 0, "log": []}.

  chain10  START -> a1 -> ... -> a10 -> END; a_i returns {"x": x+1, "log": ["a_i"]}.
           11 super-steps per run (__start__ + 10 nodes).
  send10   add_conditional_edges(START, router) with router returning
           [Send("w", {"i": i}) for i in range(10)]; w(arg) returns {"log": [arg["i"]]};
           w -> done; done returns {"x": len(log)}; done -> END.
           3 super-steps per run (__start__, 10 parallel w, done).
  loop100  START -> a; a returns {"x": x+1}; a -> b; b returns {};
           add_conditional_edges("b", route, ["a", END]) with route = "a" if x < 100 else END;
           recursion_limit 1000. 201 super-steps per run (__start__ + 100 x (a, b)).

Super-steps are counted as the "loop" checkpoints in the saver (the input checkpoint
is not a super-step). For each graph: warm-up, then `--repeats` measurements of
`--seconds` each (fresh saver per measurement); prints one JSON line per graph with the
figures of the median measurement (by supersteps_per_sec).

usage: python py_engine_bench.py [--seconds 2] [--repeats 5] [--graphs chain10,send10,loop100]
"""

import argparse
import itertools
import json
import operator
import statistics
import sys
import time
from typing import Annotated

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from typing_extensions import TypedDict


class S(TypedDict):
    x: int
    log: Annotated[list, operator.add]


def chain10(saver):
    g = StateGraph(S)
    prev = START
    for i in range(1, 11):
        name = f"a{i}"
        g.add_node(name, lambda s, name=name: {"x": s["x"] + 1, "log": [name]})
        g.add_edge(prev, name)
        prev = name
    g.add_edge(prev, END)
    return g.compile(checkpointer=saver), {}


def send10(saver):
    g = StateGraph(S)
    g.add_node("w", lambda arg: {"log": [arg["i"]]})
    g.add_node("done", lambda s: {"x": len(s["log"])})
    g.add_conditional_edges(START, lambda s: [Send("w", {"i": i}) for i in range(10)])
    g.add_edge("w", "done")
    g.add_edge("done", END)
    return g.compile(checkpointer=saver), {}


def loop100(saver):
    g = StateGraph(S)
    g.add_node("a", lambda s: {"x": s["x"] + 1})
    g.add_node("b", lambda s: {})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_conditional_edges("b", lambda s: "a" if s["x"] < 100 else END, ["a", END])
    return g.compile(checkpointer=saver), {"recursion_limit": 1000}


GRAPHS = {"chain10": chain10, "send10": send10, "loop100": loop100}
_ids = itertools.count()


def count_supersteps(saver):
    return sum(1 for t in saver.list(None) if t.metadata.get("source") == "loop")


def measure(build, seconds):
    saver = InMemorySaver()
    app, extra = build(saver)
    runs = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        app.invoke({"x": 0, "log": []}, {"configurable": {"thread_id": f"b{next(_ids)}"}, **extra})
        runs += 1
        now = time.perf_counter()
        if now >= deadline:
            break
    elapsed = now - start
    steps = count_supersteps(saver)
    return {"runs": runs, "supersteps": steps, "seconds": round(elapsed, 4),
            "supersteps_per_sec": round(steps / elapsed, 1), "runs_per_sec": round(runs / elapsed, 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--graphs", default=",".join(GRAPHS))
    args = ap.parse_args()
    for name in args.graphs.split(","):
        build = GRAPHS[name]
        measure(build, min(0.5, args.seconds))  # warm-up
        results = [measure(build, args.seconds) for _ in range(args.repeats)]
        med = statistics.median_low(r["supersteps_per_sec"] for r in results)
        best = next(r for r in results if r["supersteps_per_sec"] == med)
        print(json.dumps({"graph": name, **best}), flush=True)
        print(f"  {name}: supersteps_per_sec per repeat "
              f"{[r['supersteps_per_sec'] for r in results]}", file=sys.stderr)


if __name__ == "__main__":
    main()
