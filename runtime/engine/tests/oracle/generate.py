"""Run oracle scenarios through real Python LangGraph and write normalised fixtures.

usage: python generate.py [sNN_name ...]      (default: every scenario in scenarios.py)
Writes ../fixtures/<scenario>.json (indent=1, sort_keys=True).
"""

import inspect
import json
import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import langgraph.version  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402

import scenarios  # noqa: E402
from normalize import normalize, to_json  # noqa: E402

LANGGRAPH = "1.2.24"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")


def checkpoints(saver, thread_id):
    # InMemorySaver.list with only thread_id (no checkpoint_ns) lists every namespace.
    rows = sorted(
        saver.list({"configurable": {"thread_id": thread_id}}),
        key=lambda t: t.checkpoint["id"],
    )
    return [
        {
            "ns": t.config["configurable"].get("checkpoint_ns", ""),
            "id": t.checkpoint["id"],
            "parent": (t.parent_config or {}).get("configurable", {}).get("checkpoint_id"),
            "metadata": dict(t.metadata),
            "channel_values": t.checkpoint["channel_values"],
            "channel_versions": t.checkpoint["channel_versions"],
            "versions_seen": t.checkpoint["versions_seen"],
            "updated_channels": t.checkpoint.get("updated_channels"),
            "pending_writes": [list(w) for w in (t.pending_writes or [])],
        }
        for t in rows
    ]


def run(fn):
    saver, ops = InMemorySaver(), []
    for label, thunk in fn(saver):
        entry = {"op": label}
        items = None
        try:
            res = thunk()
            if isinstance(res, (types.GeneratorType, map)) or (
                hasattr(res, "__next__") and not isinstance(res, (dict, list, str))
            ):
                items = []
                for x in res:  # drain streams; keep what arrived before an error
                    items.append(x)
                res = items
            entry["result"] = to_json(res)
        except Exception as e:  # noqa: BLE001
            if items is not None:
                entry["result"] = to_json(items)
            entry["raised"] = {"error": type(e).__name__, "message": str(e)[:300]}
        ops.append(entry)
    cps = {tid: to_json(checkpoints(saver, tid)) for tid in saver.storage}
    return normalize({"ops": ops, "checkpoints": cps})


def main(names):
    assert langgraph.version.__version__ == LANGGRAPH, langgraph.version.__version__
    all_fns = [
        (n, f)
        for n, f in inspect.getmembers(scenarios, inspect.isfunction)
        if n[:1] == "s" and n[1:3].isdigit() and f.__module__ == scenarios.__name__
    ]
    fns = [(n, f) for n, f in all_fns if not names or n in names]
    missing = set(names) - {n for n, _ in fns}
    if missing:
        sys.exit(f"unknown scenarios: {sorted(missing)}")
    os.makedirs(OUT, exist_ok=True)
    for name, fn in sorted(fns):
        body = run(fn)
        doc = {
            "scenario": name,
            "langgraph": LANGGRAPH,
            "doc": inspect.cleandoc(fn.__doc__ or ""),
            **body,
        }
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True, ensure_ascii=False)
            f.write("\n")
        n_raised = sum("raised" in o for o in body["ops"])
        print(f"{name}: {len(body['ops'])} ops ({n_raised} raised), "
              f"{sum(len(v) for v in body['checkpoints'].values())} checkpoints")


if __name__ == "__main__":
    # Static-edge writes are emitted in set iteration order (string hashing): pin it.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    main(sys.argv[1:])
