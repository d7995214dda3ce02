"""The official Python SDK (langgraph_sdk) against orrery-runtime: nobody here wrote this client."""

import asyncio

import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import ConflictError, NotFoundError

ECHO_ID = "e809e711-7ffe-5960-821d-7d83c173c321"  # uuid5(NAMESPACE_URL, "echo")


def human(text):
    return {"messages": [{"role": "user", "content": text}]}


def contents(values):
    return [m["content"] for m in values["messages"]]


def test_assistants(url):
    c = get_sync_client(url=url)
    found = c.assistants.search(graph_id="echo")
    assert [a["assistant_id"] for a in found] == [ECHO_ID]
    assert c.assistants.count() == 1
    assert c.assistants.get(ECHO_ID)["name"] == "echo"
    graph = c.assistants.get_graph("echo")
    assert {"source": "echo", "target": "__end__"} in graph["edges"]
    mine = c.assistants.create("echo", name="mine", config={"configurable": {"delay_ms": 0}}, metadata={"k": 1})
    assert mine["version"] == 1
    updated = c.assistants.update(mine["assistant_id"], name="renamed")
    assert updated["version"] == 2
    assert [v["version"] for v in c.assistants.get_versions(mine["assistant_id"])] == [2, 1]
    assert c.assistants.set_latest(mine["assistant_id"], 1)["name"] == "mine"
    schemas = c.assistants.get_schemas(mine["assistant_id"])
    assert schemas["graph_id"] == "echo"
    c.assistants.delete(mine["assistant_id"])
    with pytest.raises(NotFoundError):
        c.assistants.get(mine["assistant_id"])


def test_threads_state_and_history(url):
    c = get_sync_client(url=url)
    t = c.threads.create(metadata={"user": "ada"})
    tid = t["thread_id"]
    assert t["status"] == "idle"
    with pytest.raises(ConflictError):
        c.threads.create(thread_id=tid)
    assert c.threads.get(tid)["metadata"] == {"user": "ada"}
    assert [x["thread_id"] for x in c.threads.search(metadata={"user": "ada"})] == [tid]
    out = c.runs.wait(tid, "echo", input=human("hello"))
    assert contents(out) == ["hello", "hello"]
    state = c.threads.get_state(tid)
    assert state["next"] == [] and contents(state["values"]) == ["hello", "hello"]
    history = c.threads.get_history(tid, limit=10)
    assert [h["metadata"]["source"] for h in history] == ["loop", "loop", "input"]
    cfg = c.threads.update_state(tid, human("edited"), as_node="__start__")
    assert cfg["checkpoint"]["thread_id"] == tid
    assert c.threads.get_state(tid)["next"] == ["echo"]
    assert c.threads.get(tid)["status"] == "interrupted"
    # Fork & continue from the update.
    out = c.runs.wait(tid, "echo", input=None, checkpoint=cfg["checkpoint"])
    assert contents(out)[-2:] == ["edited", "edited"]
    c.threads.update(tid, metadata={"more": True})
    assert c.threads.get(tid)["metadata"] == {"user": "ada", "graph_id": "echo", "assistant_id": ECHO_ID, "more": True}
    c.threads.delete(tid)
    with pytest.raises(NotFoundError):
        c.threads.get(tid)


def test_stream_modes(url):
    c = get_sync_client(url=url)
    tid = c.threads.create()["thread_id"]
    parts = list(c.runs.stream(tid, "echo", input=human("streamed"), stream_mode=["values", "updates"]))
    events = [p.event for p in parts]
    assert events == ["metadata", "values", "updates", "values"]
    assert parts[2].data["echo"]["messages"][0]["content"] == "streamed"
    run_id = parts[0].data["run_id"]
    assert c.runs.get(tid, run_id)["status"] == "success"
    debug = [p for p in c.runs.stream(tid, "echo", input=human("dbg"), stream_mode="debug")]
    kinds = [p.data["type"] for p in debug if p.event == "debug"]
    assert kinds[0] == "checkpoint" and "task_result" in kinds


def test_background_runs_join_and_double_texting(url):
    c = get_sync_client(url=url)
    tid = c.threads.create()["thread_id"]
    slow = {"configurable": {"delay_ms": 300}}
    first = c.runs.create(tid, "echo", input=human("one"), config=slow)
    assert first["status"] == "pending"
    with pytest.raises(ConflictError):
        c.runs.create(tid, "echo", input=human("no"), multitask_strategy="reject")
    second = c.runs.create(tid, "echo", input=human("two"))
    out = c.runs.join(tid, second["run_id"])
    assert contents(out) == ["one", "one", "two", "two"]
    listed = c.runs.list(tid)
    assert {r["run_id"] for r in listed} == {first["run_id"], second["run_id"]}
    assert all(r["status"] == "success" for r in listed)


def test_cancel(url):
    c = get_sync_client(url=url)
    tid = c.threads.create()["thread_id"]
    run = c.runs.create(tid, "echo", input=human("slow"), config={"configurable": {"delay_ms": 5000}})
    for _ in range(200):
        if c.threads.get_state(tid)["next"] == ["echo"]:
            break
        asyncio.run(asyncio.sleep(0.01))
    c.runs.cancel(tid, run["run_id"], wait=True)
    assert c.runs.get(tid, run["run_id"])["status"] == "interrupted"


def test_stateless_wait_and_async_client(url):
    async def go():
        c = get_client(url=url)
        out = await c.runs.wait(None, "echo", input=human("no thread"))
        assert contents(out) == ["no thread", "no thread"]
        chunks = [p async for p in c.runs.stream(None, "echo", input=human("s"), stream_mode="updates")]
        assert [p.event for p in chunks] == ["metadata", "updates"]

    asyncio.run(go())


def test_store(url):
    c = get_sync_client(url=url)
    c.store.put_item(["users", "ada"], "prefs", {"theme": "dark"})
    item = c.store.get_item(["users", "ada"], "prefs")
    assert item["value"] == {"theme": "dark"} and item["namespace"] == ["users", "ada"]
    found = c.store.search_items(["users"], filter={"theme": "dark"})
    assert [i["key"] for i in found["items"]] == ["prefs"]
    assert c.store.list_namespaces(prefix=["users"])["namespaces"] == [["users", "ada"]]
    c.store.delete_item(["users", "ada"], "prefs")
    assert c.store.get_item(["users", "ada"], "prefs") is None


def test_thread_copy(url):
    c = get_sync_client(url=url)
    tid = c.threads.create()["thread_id"]
    c.runs.wait(tid, "echo", input=human("orig"))
    copy = c.threads.copy(tid)
    assert copy["thread_id"] != tid
    assert contents(c.threads.get_state(copy["thread_id"])["values"]) == ["orig", "orig"]
