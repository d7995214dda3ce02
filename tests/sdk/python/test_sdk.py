"""The official Python SDK (langgraph_sdk) against orrery-runtime: nobody here wrote this client."""

import asyncio
from datetime import datetime, timezone

import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import BadRequestError, ConflictError, NotFoundError, UnprocessableEntityError

ECHO_ID = "046b5dc7-2108-582c-9c6c-31d556d138f0"  # uuid5(NAMESPACE_GRAPH, "echo")


def human(text):
    return {"messages": [{"role": "user", "content": text}]}


def contents(values):
    return [m["content"] for m in values["messages"]]


def test_assistants(url):
    c = get_sync_client(url=url)
    found = c.assistants.search(graph_id="echo")
    assert [a["assistant_id"] for a in found] == [ECHO_ID]
    assert c.assistants.count() == 3  # echo, jarvis and its jarvis-spanish assistant
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


def test_crons(url):
    c = get_sync_client(url=url)
    stateless = c.crons.create(
        "echo", schedule="*/15 * * * *", input=human("sdk cron"), metadata={"k": "v"}, timezone="Europe/Paris"
    )
    cid = stateless["cron_id"]
    assert stateless["assistant_id"] == ECHO_ID and stateless["thread_id"] is None
    assert stateless["on_run_completed"] == "delete" and stateless["enabled"] is True
    assert stateless["payload"]["config"] == {"configurable": {"cron_id": cid}}
    assert stateless["next_run_date"][14:] in ("00:00+00:00", "15:00+00:00", "30:00+00:00", "45:00+00:00")
    assert c.http.get(f"/runs/crons/{cid}") == stateless  # the SDK has no crons.get

    tid = c.threads.create()["thread_id"]
    end = datetime(2099, 1, 1, tzinfo=timezone.utc)
    on_thread = c.crons.create_for_thread(tid, "echo", schedule="0 0 * * *", input=human("t"), end_time=end)
    assert on_thread["thread_id"] == tid and on_thread["on_run_completed"] is None
    assert on_thread["end_time"] == "2099-01-01T00:00:00+00:00"
    assert on_thread["next_run_date"].endswith("T00:00:00+00:00")

    assert [x["cron_id"] for x in c.crons.search(metadata={"k": "v"})] == [cid]
    assert [x["cron_id"] for x in c.crons.search(thread_id=tid)] == [on_thread["cron_id"]]
    assert [x["cron_id"] for x in c.crons.search(assistant_id=ECHO_ID)] == [on_thread["cron_id"], cid]
    first = c.crons.search(limit=1, sort_by="created_at", sort_order="asc", select=["cron_id", "schedule"])
    assert first == [{"cron_id": cid, "schedule": "*/15 * * * *"}]
    assert c.crons.count() == 2
    assert c.crons.count(thread_id=tid) == 1

    updated = c.crons.update(cid, schedule="*/30 * * * *", enabled=False)
    assert updated["schedule"] == "*/30 * * * *" and updated["enabled"] is False
    assert updated["next_run_date"][14:] in ("00:00+00:00", "30:00+00:00")
    assert [x["cron_id"] for x in c.crons.search(enabled=False)] == [cid]
    assert c.crons.update(on_thread["cron_id"], end_time=None)["end_time"] is None
    with pytest.raises(BadRequestError):
        c.crons.update(cid)
    with pytest.raises(UnprocessableEntityError):
        c.crons.create("echo", schedule="not a cron")
    with pytest.raises(UnprocessableEntityError):
        c.crons.create("echo", schedule="* * * * *", timezone="Mars/Olympus")

    c.crons.delete(cid)
    c.crons.delete(on_thread["cron_id"])
    assert c.crons.count() == 0
    with pytest.raises(NotFoundError):
        c.crons.delete(cid)


def test_jarvis_flow(url):
    """The bundled Jarvis example: tool call, approval interrupt, resume with a command, answer."""
    c = get_sync_client(url=url)
    tid = c.threads.create()["thread_id"]
    parts = list(
        c.runs.stream(
            tid,
            "jarvis",
            input=human("The printer on floor 3 is jammed"),
            config={"configurable": {"user_email": "anuj@acme.com"}},
            stream_mode=["messages-tuple", "updates"],
        )
    )
    tokens = [p.data[0]["content"] for p in parts if p.event == "messages" and p.data[0]["content"]]
    assert len(tokens) > 8 and "".join(tokens).startswith("Sorry about that.")
    assert [k for p in parts if p.event == "updates" for k in p.data] == ["agent", "tools", "agent", "__interrupt__"]
    state = c.threads.get_state(tid)
    assert state["next"] == ["approve"]
    asked = state["tasks"][0]["interrupts"][0]["value"]
    assert asked["action"] == "create_ticket" and asked["args"]["requester"] == "anuj@acme.com"
    assert c.threads.get(tid)["status"] == "interrupted"

    out = c.runs.wait(tid, "jarvis", command={"resume": {"approved": True}})
    assert out["messages"][-1]["content"].startswith("Done: ticket HD-")
    assert [m["type"] for m in out["messages"]] == ["human", "ai", "tool", "ai", "tool", "ai"]
    assert c.threads.get(tid)["status"] == "idle"
    steps = [h["metadata"]["step"] for h in c.threads.get_history(tid, limit=50)]
    assert steps == list(range(max(steps), -2, -1)), steps

    spanish = [a for a in c.assistants.search(graph_id="jarvis") if a["name"] == "jarvis-spanish"]
    assert len(spanish) == 1
    schemas = c.assistants.get_schemas(spanish[0]["assistant_id"])
    assert schemas["config_schema"]["properties"]["user_email"]["default"] == "priya@acme.com"
    out = c.runs.wait(None, spanish[0]["assistant_id"], input=human("hola"))
    assert out["messages"][-1]["content"].startswith("¡Hola! Soy Jarvis")
