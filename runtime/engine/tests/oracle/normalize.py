"""Normaliser for oracle fixtures.

Two parts:
  * to_json(v)      Python objects -> plain JSON values (Python only; the Rust engine
                    produces plain JSON directly in the same shapes).
  * normalize(doc)  plain JSON {"ops": [...], "checkpoints": {thread: [record]}} ->
                    normalised JSON. This is the contract; the Rust tests port it
                    line by line. See README.md for the prose version.
"""

import dataclasses
import json
import re

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
UUID_FULL = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
VERSION = re.compile(r"^\d{32}\..*$")  # InMemorySaver: f"{n:032}.{random.random():016}"
NULL_TASK = "00000000-0000-0000-0000-000000000000"
DROPPED_KEYS = ("ts", "timestamp", "created_at")


# ---------------------------------------------------------------- Python -> JSON


def canonical(v):
    """Canonical JSON text: sorted keys, compact, no ASCII escaping
    (= serde_json::to_string of a value whose maps are sorted)."""
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def to_json(v):
    from langgraph.types import Command, Interrupt, Overwrite, Send

    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, dict):
        return {str(k): to_json(x) for k, x in v.items()}
    if isinstance(v, Interrupt):
        out = {"id": v.id, "value": to_json(v.value)}
        if v.response_schema is not None:
            out["response_schema"] = to_json(v.response_schema)
        return out
    if isinstance(v, Send):
        out = {"send": v.node, "arg": to_json(v.arg)}
        if v.timeout is not None:
            out["timeout"] = repr(v.timeout)
        return out
    if isinstance(v, Overwrite):
        return {"overwrite": to_json(v.value)}
    if isinstance(v, Command):
        return {"command": {f.name: to_json(getattr(v, f.name)) for f in dataclasses.fields(v)}}
    if isinstance(v, BaseException):
        return {"error": type(v).__name__, "message": str(v)[:300]}
    if hasattr(v, "model_dump"):  # pydantic (LangChain messages)
        return to_json(v.model_dump())
    if hasattr(v, "_asdict"):  # namedtuples (StateSnapshot/PregelTask go through snapshot())
        return to_json(v._asdict())
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return sorted((to_json(x) for x in v), key=canonical)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return to_json({f.name: getattr(v, f.name) for f in dataclasses.fields(v)})
    raise TypeError(f"to_json: unsupported {type(v).__module__}.{type(v).__name__}: {v!r}")


# ---------------------------------------------------------------- the contract


def strip(v):
    """Steps 1 and 3: drop ts/timestamp/created_at keys; versions -> int prefix."""
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in DROPPED_KEYS}
    if isinstance(v, list):
        return [strip(x) for x in v]
    if isinstance(v, str) and VERSION.match(v):
        return int(v.split(".", 1)[0])
    return v


def write_groups(writes, cmap):
    """Group a checkpoint's pending writes [task_id, channel, value] by task id
    (groups in order of first appearance, writes in stored order), then sort the
    groups (stable) by their key. Key = canonical JSON of the group's [channel, value]
    pairs, each pair with checkpoint ids -> C names, other uuids -> "T", 32-hex
    strings -> "I", the pairs sorted by their own canonical JSON (write order inside
    a task is not semantic: Python emits static-edge writes in set order)."""
    groups = {}
    for task_id, channel, value in writes:
        groups.setdefault(task_id, []).append([channel, value])

    def key(group):
        return canonical(sorted((placeholders(p, cmap) for p in group[1]), key=canonical))

    return sorted(groups.items(), key=key)


def placeholders(v, cmap):
    if isinstance(v, dict):
        return {placeholders(k, cmap): placeholders(x, cmap) for k, x in v.items()}
    if isinstance(v, list):
        return [placeholders(x, cmap) for x in v]
    if isinstance(v, str):
        if HEX32.match(v):
            return "I"
        return UUID.sub(lambda m: cmap.get(m.group(0), "NULL_TASK" if m.group(0) == NULL_TASK else "T"), v)
    return v


def normalize(doc):
    doc = strip(doc)
    threads = doc["checkpoints"]
    # step 2: checkpoint ids in sort order (uuid6 sort = creation order)
    ids = sorted({rec["id"] for tid in threads for rec in threads[tid]})
    cmap = {cid: f"C{i}" for i, cid in enumerate(ids)}
    tmap, imap = {}, {}

    def is_task(s):
        return s not in cmap and s != NULL_TASK

    records = [rec for tid in sorted(threads) for rec in sorted(threads[tid], key=lambda r: r["id"])]
    # step 4, phase A: task ids of pending-write groups, in group order
    for rec in records:
        for task_id, _ in write_groups(rec["pending_writes"], cmap):
            if UUID_FULL.match(task_id) and is_task(task_id) and task_id not in tmap:
                tmap[task_id] = f"T{len(tmap)}"

    # phase B: one canonical walk numbers remaining task ids and all interrupt ids
    def visit(v):
        if isinstance(v, dict):
            for k in sorted(v):
                visit(k)
                visit(v[k])
        elif isinstance(v, list):
            for x in v:
                visit(x)
        elif isinstance(v, str):
            if HEX32.match(v) and v not in imap:
                imap[v] = f"I{len(imap)}"
            for m in UUID.finditer(v):
                u = m.group(0)
                if is_task(u) and u not in tmap:
                    tmap[u] = f"T{len(tmap)}"

    for rec in records:
        for task_id, pairs in write_groups(rec["pending_writes"], cmap):
            visit(task_id)
            visit(pairs)
        visit({k: x for k, x in rec.items() if k != "pending_writes"})
    visit(doc["ops"])

    # rewrite every string (dict keys included)
    def rename_uuid(u):
        if u in cmap:
            return cmap[u]
        if u == NULL_TASK:
            return "NULL_TASK"
        return tmap[u]

    def rewrite(v):
        if isinstance(v, dict):
            return {rewrite(k): rewrite(x) for k, x in v.items()}
        if isinstance(v, list):
            return [rewrite(x) for x in v]
        if isinstance(v, str):
            if HEX32.match(v):
                return imap[v]
            return UUID.sub(lambda m: rename_uuid(m.group(0)), v)
        return v

    return rewrite(doc)
