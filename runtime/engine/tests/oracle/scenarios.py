"""Oracle scenarios (engine-semantics.md section 9).

Each `sNN_name(saver)` is a generator of `(label, thunk)` pairs; generate.py calls each
thunk, drains streams into lists and records the result (or the raised exception).

Conventions used by every scenario unless its docstring says otherwise:
  * state S = {x: int, log: Annotated[list, operator.add]}
  * "node n appends" means the node returns {"log": [n]}
  * thread id "t" (further threads "t2", "t3", ...)
  * every invoke/stream call passes durability="sync"
  * `stream(...)` below means app.stream(input, config, stream_mode=[modes...],
    durability="sync"), recorded as a list of [mode, chunk] (or [ns, mode, chunk]
    with subgraphs=True)
  * get_state results are recorded with snapshot(), histories as lists of snapshot()
  * checkpoints of every thread/namespace are recorded by generate.py afterwards
"""

import operator
import threading
import time
from typing import Annotated, Any, Literal

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langgraph.config import get_stream_writer
from langgraph.errors import GraphRecursionError  # noqa: F401  (documented in docstrings)
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.managed import IsLastStep, RemainingSteps
from langgraph.types import Command, RetryPolicy, Send, StateUpdate, interrupt
from typing_extensions import TypedDict


class S(TypedDict):
    x: int
    log: Annotated[list, operator.add]


VU = ["values", "updates"]


# ---------------------------------------------------------------- helpers


def cfg(thread="t", **configurable):
    return {"configurable": {"thread_id": thread, **configurable}}


def snapshot(s):
    """StateSnapshot -> dict (created_at is omitted; normalisation drops it anyway).
    tasks[].state is the subgraph pointer config's "configurable" dict, or a nested
    snapshot() when get_state(subgraphs=True) was used, else None."""
    def state(st):
        if st is None:
            return None
        if isinstance(st, dict):
            return st.get("configurable", st)
        return snapshot(st)

    return {
        "values": s.values,
        "next": list(s.next),
        "config": s.config["configurable"] if s.config else None,
        "metadata": s.metadata,
        "parent": (s.parent_config or {}).get("configurable"),
        "tasks": [
            {
                "id": t.id,
                "name": t.name,
                "path": list(t.path),
                "error": t.error,
                "interrupts": list(t.interrupts),
                "result": t.result,
                "state": state(t.state),
            }
            for t in s.tasks
        ],
        "interrupts": list(s.interrupts),
    }


def history(app, config, **kw):
    return [snapshot(s) for s in app.get_state_history(config, **kw)]


def appender(name, dx=None):
    """Node that appends `name` to log; dx: optional function x -> new x."""
    def node(state):
        out = {"log": [name]}
        if dx is not None:
            out["x"] = dx(state["x"])
        return out
    node.__name__ = name
    return node


def chain(names, checkpointer, **compile_kw):
    """START -> names[0] -> ... -> names[-1] -> END, each node appends its name."""
    g = StateGraph(S)
    prev = START
    for n in names:
        g.add_node(n, appender(n))
        g.add_edge(prev, n)
        prev = n
    g.add_edge(prev, END)
    return g.compile(checkpointer=checkpointer, **compile_kw)


def find(app, config, next_):
    """Config of the newest checkpoint in history whose next == next_."""
    for s in app.get_state_history(config):
        if tuple(s.next) == tuple(next_):
            return s.config
    raise LookupError(next_)


def interrupt_id(app, config, value):
    for i in app.get_state(config).interrupts:
        if i.value == value:
            return i.id
    raise LookupError(value)


# ---------------------------------------------------------------- scenarios


def s01_linear(saver):
    """Linear graph START -> a -> b -> END.
    a returns {"x": x+1, "log": ["a"]}; b returns {"x": x*10, "log": ["b"]}.
    Calls: stream({"x": 1, "log": []}, t, modes [values, updates]);
    get_state(t); get_state_history(t)."""
    g = StateGraph(S)
    g.add_node("a", appender("a", lambda x: x + 1))
    g.add_node("b", appender("b", lambda x: x * 10))
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", END)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 1, "log": []}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "history", lambda: history(app, c)


def s02_second_run(saver):
    """Same graph as s01 (a: x+1 & log a; b: x*10 & log b).
    Calls: invoke({"x": 1, "log": []}, t); stream({"x": 5}, t, modes [values, updates]);
    get_state(t); get_state_history(t)."""
    g = StateGraph(S)
    g.add_node("a", appender("a", lambda x: x + 1))
    g.add_node("b", appender("b", lambda x: x * 10))
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", END)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "invoke", lambda: app.invoke({"x": 1, "log": []}, c, durability="sync")
    yield "stream2", lambda: app.stream({"x": 5}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "history", lambda: history(app, c)


def s03_fanout_fanin(saver):
    """Fan-out/fan-in by plain edges: START->a, a->b, a->c, b->d, c->d, d->END.
    Every node appends its own name (no x change).
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]); get_state(t).
    Step 2 runs b and c in parallel (updates order between them is not significant)."""
    g = StateGraph(S)
    for n in "abcd":
        g.add_node(n, appender(n))
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("a", "c")
    g.add_edge("b", "d")
    g.add_edge("c", "d")
    g.add_edge("d", END)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))


def s04_uneven_no_join(saver):
    """Uneven branches without a join: START->a, a->b, b->b2, b2->d, a->c, c->d, d->END.
    Every node appends its own name. d runs twice (steps 3 and 4).
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]); get_state(t)."""
    g = StateGraph(S)
    for n in ["a", "b", "b2", "c", "d"]:
        g.add_node(n, appender(n))
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "b2")
    g.add_edge("b2", "d")
    g.add_edge("a", "c")
    g.add_edge("c", "d")
    g.add_edge("d", END)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))


def s05_join(saver):
    """Join edge: START->a, a->b, b->b2, a->c, add_edge(["b2","c"], "d"), d->END.
    Every node appends its own name. Channel join:b2+c:d is a NamedBarrierValue.
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]); get_state(t)."""
    g = StateGraph(S)
    for n in ["a", "b", "b2", "c", "d"]:
        g.add_node(n, appender(n))
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "b2")
    g.add_edge("a", "c")
    g.add_edge(["b2", "c"], "d")
    g.add_edge("d", END)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))


def s06_defer(saver):
    """Deferred node: START->a, a->b, b->b2, b2->d, a->c, c->d, d->END with
    add_node("d", ..., defer=True). Every node appends its own name; d runs once, last.
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]); get_state(t)."""
    g = StateGraph(S)
    for n in ["a", "b", "b2", "c"]:
        g.add_node(n, appender(n))
    g.add_node("d", appender("d"), defer=True)
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "b2")
    g.add_edge("b2", "d")
    g.add_edge("a", "c")
    g.add_edge("c", "d")
    g.add_edge("d", END)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))


def s07_concurrent_lastvalue(saver):
    """Concurrent writes to a LastValue channel.
    Thread t, graph 1: START->a, START->b; a returns {"x": 1, "log": ["a"]},
      b returns {"x": 2, "log": ["b"]}; a->END, b->END.
      Calls: stream({"x": 0, "log": []}, t, modes [values, updates]) -> InvalidUpdateError;
      get_state(t) (live get_state re-applies the writes).
    Thread t2, graph 2: START->a; a returns Command(update={"log": ["a"]}, goto="c") and
      has a static edge a->b; b returns {"x": 1, "log": ["b"]}, c returns
      {"x": 2, "log": ["c"]}; b->END, c->END.
      Calls: stream({"x": 0, "log": []}, t2, modes [values, updates]) -> InvalidUpdateError."""
    g = StateGraph(S)
    g.add_node("a", lambda s: {"x": 1, "log": ["a"]})
    g.add_node("b", lambda s: {"x": 2, "log": ["b"]})
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))

    g2 = StateGraph(S)
    g2.add_node("a", lambda s: Command(update={"log": ["a"]}, goto="c"))
    g2.add_node("b", lambda s: {"x": 1, "log": ["b"]})
    g2.add_node("c", lambda s: {"x": 2, "log": ["c"]})
    g2.add_edge(START, "a")
    g2.add_edge("a", "b")
    app2 = g2.compile(checkpointer=saver)
    c2 = cfg("t2")
    yield "stream_t2", lambda: app2.stream({"x": 0, "log": []}, c2, stream_mode=VU, durability="sync")


def s08_send(saver):
    """Send map-reduce. START has a conditional edge (router, no path_map) returning
    [Send("joke", {"subject": s}) for s in ["cats", "dogs", "birds"]].
    joke(arg) returns {"log": ["joke:" + arg["subject"]]}; joke->summarize;
    summarize returns {"x": len(log), "log": ["summarize"]}; summarize->END.
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]); get_state(t);
    get_state_history(t)."""
    g = StateGraph(S)
    g.add_node("joke", lambda a: {"log": ["joke:" + a["subject"]]})
    g.add_node("summarize", lambda s: {"x": len(s["log"]), "log": ["summarize"]})
    g.add_conditional_edges(START, lambda s: [Send("joke", {"subject": x}) for x in ["cats", "dogs", "birds"]])
    g.add_edge("joke", "summarize")
    g.add_edge("summarize", END)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "history", lambda: history(app, c)


def s09_conditional_loop(saver):
    """Conditional loop: START->inc; inc returns {"x": x+1, "log": ["inc"]};
    add_conditional_edges("inc", route) where route(state) -> Literal["inc", "__end__"]
    returns "inc" if x < 3 else END (no path_map). The router records the x it saw.
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]); get_state(t);
    op "router_saw" = list of x values the router observed ([1, 2, 3])."""
    seen = []

    def route(s) -> Literal["inc", "__end__"]:
        seen.append(s["x"])
        return "inc" if s["x"] < 3 else END

    g = StateGraph(S)
    g.add_node("inc", appender("inc", lambda x: x + 1))
    g.add_edge(START, "inc")
    g.add_conditional_edges("inc", route)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "router_saw", lambda: list(seen)


def s10_command_from_node(saver):
    """Command from a node: START->a; a returns
    Command(update={"x": 10, "log": ["a"]}, goto=["b", Send("c", {"x": 99, "log": []})]);
    b returns {"log": ["b" + str(x)]}; c returns {"log": ["c" + str(x)]}; b->END, c->END
    (a has no static edges). Final log = [a, b10, c99].
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]); get_state(t)."""
    g = StateGraph(S)
    g.add_node("a", lambda s: Command(update={"x": 10, "log": ["a"]},
                                      goto=["b", Send("c", {"x": 99, "log": []})]))
    g.add_node("b", lambda s: {"log": [f"b{s['x']}"]})
    g.add_node("c", lambda s: {"log": [f"c{s['x']}"]})
    g.add_edge(START, "a")
    g.add_edge("b", END)
    g.add_edge("c", END)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))


def s11_command_input(saver):
    """Command as graph input on a finished thread. Graph START->a->b->END plus node c
    (c->END). a, b append their names; c returns {"log": ["c" + str(x)]}.
    Calls: invoke({"x": 1, "log": []}, t);
    stream(Command(update={"x": 5}, goto="c"), t, modes [values, updates]); get_state(t)."""
    g = StateGraph(S)
    g.add_node("a", appender("a"))
    g.add_node("b", appender("b"))
    g.add_node("c", lambda s: {"log": [f"c{s['x']}"]})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", END)
    g.add_edge("c", END)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "invoke", lambda: app.invoke({"x": 1, "log": []}, c, durability="sync")
    yield "stream_command", lambda: app.stream(Command(update={"x": 5}, goto="c"), c,
                                               stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))


def s12_none_and_goto_only(saver):
    """Nodes without state writes: START->n, n->m; n returns None;
    m returns Command(goto="k") (no update, no static edge); k appends "k"; k->END.
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]); get_state(t)."""
    g = StateGraph(S)
    g.add_node("n", lambda s: None)
    g.add_node("m", lambda s: Command(goto="k"))
    g.add_node("k", appender("k"))
    g.add_edge(START, "n")
    g.add_edge("n", "m")
    g.add_edge("k", END)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))


def _child_s1_s2():
    g = StateGraph(S)
    g.add_node("s1", appender("s1"))
    g.add_node("s2", appender("s2"))
    g.add_edge(START, "s1")
    g.add_edge("s1", "s2")
    g.add_edge("s2", END)
    return g.compile()


def s13_subgraph(saver):
    """Subgraph node. Child graph (compiled without checkpointer, inherits the parent's):
    START->s1->s2->END, s1/s2 append their names. Parent: START->before->sub->after->END;
    before/after append their names; sub = the compiled child.
    Final parent log = [before, before, s1, s2, after] (child output = whole child state).
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates], subgraphs=True);
    get_state(t); get_state(t, subgraphs=True); get_state_history(t);
    get_state_history({thread t, checkpoint_ns = ns of the child}) (ns read from the
    parent's history: the task "sub" of the checkpoint with next=[sub])."""
    g = StateGraph(S)
    g.add_node("before", appender("before"))
    g.add_node("sub", _child_s1_s2())
    g.add_node("after", appender("after"))
    g.add_edge(START, "before")
    g.add_edge("before", "sub")
    g.add_edge("sub", "after")
    g.add_edge("after", END)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU,
                                       subgraphs=True, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "get_state_subgraphs", lambda: snapshot(app.get_state(c, subgraphs=True))
    yield "history", lambda: history(app, c)

    def child_history():
        ns = None
        for s in app.get_state_history(c):
            if tuple(s.next) == ("sub",):
                ns = s.tasks[0].state["configurable"]["checkpoint_ns"]
        return history(app, cfg("t", checkpoint_ns=ns))
    yield "child_history", child_history


def s14_command_parent(saver):
    """Command.PARENT from a child node. Child graph: START->s1->jump; s1 appends "s1";
    jump returns Command(graph=Command.PARENT, update={"log": ["jumped"]}, goto="other").
    Parent: START->sub (sub = child, no outgoing edge); node other appends "other", other->END.
    Final parent log = [jumped, other] (child's s1 write is not propagated).
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates], subgraphs=True);
    get_state(t)."""
    cg = StateGraph(S)
    cg.add_node("s1", appender("s1"))
    cg.add_node("jump", lambda s: Command(graph=Command.PARENT, update={"log": ["jumped"]}, goto="other"))
    cg.add_edge(START, "s1")
    cg.add_edge("s1", "jump")
    g = StateGraph(S)
    g.add_node("sub", cg.compile())
    g.add_node("other", appender("other"))
    g.add_edge(START, "sub")
    g.add_edge("other", END)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU,
                                       subgraphs=True, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))


def s15_single_interrupt(saver):
    """Single dynamic interrupt: START->ask->END; ask returns
    {"log": ["ask=" + str(interrupt({"q": 1}))]}.
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]); get_state(t);
    stream(Command(resume="yes"), t, modes [values, updates]); get_state(t);
    get_state_history(t)."""
    def ask(s):
        return {"log": [f"ask={interrupt({'q': 1})}"]}

    g = StateGraph(S)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "resume", lambda: app.stream(Command(resume="yes"), c, stream_mode=VU, durability="sync")
    yield "get_state2", lambda: snapshot(app.get_state(c))
    yield "history", lambda: history(app, c)


def s16_two_interrupts(saver):
    """Two interrupts in one node: START->ask->END. ask: calls.append("ask-enter");
    a = interrupt("q1"); calls.append("got1=" + a); b = interrupt("q2");
    calls.append("got2=" + b); returns {"log": [a, b]}.
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]);
    stream(Command(resume="A1"), t, ...) (plain resume); get_state(t);
    stream(Command(resume={<id of the pending interrupt "q2">: "B2"}), t, ...);
    get_state(t); op "calls" = the call log
    (expected [ask-enter, ask-enter, got1=A1, ask-enter, got1=A1, got2=B2])."""
    calls = []

    def ask(s):
        calls.append("ask-enter")
        a = interrupt("q1")
        calls.append(f"got1={a}")
        b = interrupt("q2")
        calls.append(f"got2={b}")
        return {"log": [a, b]}

    g = StateGraph(S)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "resume1", lambda: app.stream(Command(resume="A1"), c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "resume2", lambda: app.stream(Command(resume={interrupt_id(app, c, "q2"): "B2"}), c,
                                        stream_mode=VU, durability="sync")
    yield "get_state2", lambda: snapshot(app.get_state(c))
    yield "calls", lambda: list(calls)


def s17_parallel_interrupts(saver):
    """Parallel interrupts: START->x, START->y, START->z (all ->END).
    x returns {"log": ["x=" + interrupt("X?")]}, y returns {"log": ["y=" + interrupt("Y?")]},
    z returns {"log": ["z"]}.
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]); get_state(t);
    stream(Command(resume="v"), t, ...) -> RuntimeError (multiple pending interrupts);
    stream(Command(resume={<id of "X?">: "X!"}), t, ...); get_state(t);
    stream(Command(resume={<id of "Y?">: "Y!"}), t, ...); get_state(t)."""
    g = StateGraph(S)
    g.add_node("x", lambda s: {"log": ["x=" + interrupt("X?")]})
    g.add_node("y", lambda s: {"log": ["y=" + interrupt("Y?")]})
    g.add_node("z", appender("z"))
    for n in "xyz":
        g.add_edge(START, n)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "resume_plain", lambda: app.stream(Command(resume="v"), c, stream_mode=VU, durability="sync")
    yield "resume_x", lambda: app.stream(Command(resume={interrupt_id(app, c, "X?"): "X!"}), c,
                                         stream_mode=VU, durability="sync")
    yield "get_state2", lambda: snapshot(app.get_state(c))
    yield "resume_y", lambda: app.stream(Command(resume={interrupt_id(app, c, "Y?"): "Y!"}), c,
                                         stream_mode=VU, durability="sync")
    yield "get_state3", lambda: snapshot(app.get_state(c))


def s18_interrupt_in_subgraph(saver):
    """Interrupt inside a subgraph. Child: START->ask->END, ask returns
    {"log": ["ask=" + interrupt("q")]}. Parent: START->sub->after->END, after appends "after".
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates], subgraphs=True);
    get_state(t); get_state(t, subgraphs=True);
    stream(Command(resume="yes"), t, modes [values, updates], subgraphs=True); get_state(t)."""
    cg = StateGraph(S)
    cg.add_node("ask", lambda s: {"log": ["ask=" + interrupt("q")]})
    cg.add_edge(START, "ask")
    cg.add_edge("ask", END)
    g = StateGraph(S)
    g.add_node("sub", cg.compile())
    g.add_node("after", appender("after"))
    g.add_edge(START, "sub")
    g.add_edge("sub", "after")
    g.add_edge("after", END)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU,
                                       subgraphs=True, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "get_state_subgraphs", lambda: snapshot(app.get_state(c, subgraphs=True))
    yield "resume", lambda: app.stream(Command(resume="yes"), c, stream_mode=VU,
                                       subgraphs=True, durability="sync")
    yield "get_state2", lambda: snapshot(app.get_state(c))


def s19_interrupt_before(saver):
    """Static breakpoints. Graph START->a->b->c->END, each node appends its name.
    App 1 compiled with interrupt_before=["b"], thread t:
      stream({"x": 0, "log": []}, t, modes [values, updates]); get_state(t);
      stream(None, t, ...); get_state(t).
    App 2 (same graph) compiled with interrupt_before=["b"], interrupt_after=["b"], thread t2:
      stream({"x": 0, "log": []}, t2, ...); stream(None, t2, ...); get_state(t2);
      stream(None, t2, ...); get_state(t2)."""
    app = chain(["a", "b", "c"], saver, interrupt_before=["b"])
    app2 = chain(["a", "b", "c"], saver, interrupt_before=["b"], interrupt_after=["b"])
    c, c2 = cfg(), cfg("t2")
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "resume", lambda: app.stream(None, c, stream_mode=VU, durability="sync")
    yield "get_state2", lambda: snapshot(app.get_state(c))
    yield "t2_stream", lambda: app2.stream({"x": 0, "log": []}, c2, stream_mode=VU, durability="sync")
    yield "t2_resume1", lambda: app2.stream(None, c2, stream_mode=VU, durability="sync")
    yield "t2_get_state", lambda: snapshot(app2.get_state(c2))
    yield "t2_resume2", lambda: app2.stream(None, c2, stream_mode=VU, durability="sync")
    yield "t2_get_state2", lambda: snapshot(app2.get_state(c2))


def s20_interrupt_after(saver):
    """interrupt_after only: graph START->a->b->c->END (each appends its name),
    compiled with interrupt_after=["a"].
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]); get_state(t);
    stream(None, t, ...); get_state(t)."""
    app = chain(["a", "b", "c"], saver, interrupt_after=["a"])
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "resume", lambda: app.stream(None, c, stream_mode=VU, durability="sync")
    yield "get_state2", lambda: snapshot(app.get_state(c))


def s21_resume_static(saver):
    """Command(resume=...) at a static breakpoint: graph START->a->b->END (each appends its
    name), compiled with interrupt_before=["b"].
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]);
    stream(Command(resume="ignored"), t, ...); get_state(t)."""
    app = chain(["a", "b"], saver, interrupt_before=["b"])
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "resume", lambda: app.stream(Command(resume="ignored"), c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))


def s22_retry(saver):
    """RetryPolicy. Thread t: START->flaky->END; flaky raises ConnectionError("flaky <n>")
    on its first two calls, then returns {"log": ["flaky"]};
    add_node(..., retry_policy=RetryPolicy(initial_interval=0.01, jitter=False,
    max_attempts=3)). Calls: invoke({"x": 0, "log": []}, t); op "flaky_calls" (3).
    Thread t2: START->bad->END; bad always raises ValueError("bad"); same RetryPolicy
    (default retry_on => ValueError is not retried). Calls: invoke({"x": 0, "log": []}, t2)
    -> ValueError; op "bad_calls" (1); get_state(t2)."""
    n = {"flaky": 0, "bad": 0}
    pol = RetryPolicy(initial_interval=0.01, jitter=False, max_attempts=3)

    def flaky(s):
        n["flaky"] += 1
        if n["flaky"] <= 2:
            raise ConnectionError(f"flaky {n['flaky']}")
        return {"log": ["flaky"]}

    def bad(s):
        n["bad"] += 1
        raise ValueError("bad")

    g = StateGraph(S)
    g.add_node("flaky", flaky, retry_policy=pol)
    g.add_edge(START, "flaky")
    g.add_edge("flaky", END)
    app = g.compile(checkpointer=saver)
    g2 = StateGraph(S)
    g2.add_node("bad", bad, retry_policy=pol)
    g2.add_edge(START, "bad")
    g2.add_edge("bad", END)
    app2 = g2.compile(checkpointer=saver)
    yield "invoke", lambda: app.invoke({"x": 0, "log": []}, cfg(), durability="sync")
    yield "flaky_calls", lambda: n["flaky"]
    yield "invoke_t2", lambda: app2.invoke({"x": 0, "log": []}, cfg("t2"), durability="sync")
    yield "bad_calls", lambda: n["bad"]
    yield "get_state_t2", lambda: snapshot(app2.get_state(cfg("t2")))


def s23_error_parallel(saver):
    """Error in one of two parallel nodes: START->ok, START->boom (both ->END).
    ok returns {"log": ["ok"]} (and then signals an Event); boom waits for that event
    (max 5 s) plus 0.1 s so ok's writes are persisted first, then on its first call raises
    KeyError("boom"), on later calls returns {"log": ["boom"]}.
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]) -> KeyError;
    get_state(t); invoke(None, t); get_state(t); op "calls" = {ok: 1, boom: 2}."""
    n = {"ok": 0, "boom": 0}
    ev = threading.Event()

    def ok(s):
        n["ok"] += 1
        try:
            return {"log": ["ok"]}
        finally:
            ev.set()

    def boom(s):
        n["boom"] += 1
        if n["boom"] == 1:
            ev.wait(5)
            time.sleep(0.1)
            raise KeyError("boom")
        return {"log": ["boom"]}

    g = StateGraph(S)
    g.add_node("ok", ok)
    g.add_node("boom", boom)
    g.add_edge(START, "ok")
    g.add_edge(START, "boom")
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "invoke_none", lambda: app.invoke(None, c, durability="sync")
    yield "get_state2", lambda: snapshot(app.get_state(c))
    yield "calls", lambda: dict(n)


class SR(TypedDict):
    x: int
    log: Annotated[list, operator.add]
    remaining: RemainingSteps
    last: IsLastStep


def s24_recursion_limit(saver):
    """Recursion limit.
    Thread t: START->loop; loop returns {"x": x+1, "log": ["loop"]};
      add_conditional_edges("loop", lambda s: "loop", ["loop"]) (always loops).
      Calls: invoke({"x": 0, "log": []}, t, recursion_limit=5) -> GraphRecursionError;
      op "loop_calls"; get_state(t); invoke(None, t, recursion_limit=5) -> GraphRecursionError;
      op "loop_calls_after_resume" (cumulative); get_state(t).
    Thread t2 / t3: START->a->b->END (append names): invoke({"x": 0, "log": []}, t2,
      recursion_limit=2) -> GraphRecursionError; invoke(same, t3, recursion_limit=3) ok.
    Thread t4: state SR = S + {remaining: RemainingSteps, last: IsLastStep};
      START->a->b->END, node n returns {"log": [f"{n}:{remaining}/{last}"]};
      invoke({"x": 0, "log": []}, t4, recursion_limit=3)."""
    n = {"loop": 0}

    def loop(s):
        n["loop"] += 1
        return {"x": s["x"] + 1, "log": ["loop"]}

    g = StateGraph(S)
    g.add_node("loop", loop)
    g.add_edge(START, "loop")
    g.add_conditional_edges("loop", lambda s: "loop", ["loop"])
    app = g.compile(checkpointer=saver)
    c = {**cfg(), "recursion_limit": 5}
    yield "invoke", lambda: app.invoke({"x": 0, "log": []}, c, durability="sync")
    yield "loop_calls", lambda: n["loop"]
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "invoke_none", lambda: app.invoke(None, c, durability="sync")
    yield "loop_calls_after_resume", lambda: n["loop"]
    yield "get_state2", lambda: snapshot(app.get_state(c))

    app2 = chain(["a", "b"], saver)
    yield "ab_limit2", lambda: app2.invoke({"x": 0, "log": []}, {**cfg("t2"), "recursion_limit": 2},
                                           durability="sync")
    yield "ab_limit3", lambda: app2.invoke({"x": 0, "log": []}, {**cfg("t3"), "recursion_limit": 3},
                                           durability="sync")

    def managed(name):
        return lambda s: {"log": [f"{name}:{s['remaining']}/{s['last']}"]}

    g4 = StateGraph(SR)
    g4.add_node("a", managed("a"))
    g4.add_node("b", managed("b"))
    g4.add_edge(START, "a")
    g4.add_edge("a", "b")
    g4.add_edge("b", END)
    app4 = g4.compile(checkpointer=saver)
    yield "managed", lambda: app4.invoke({"x": 0, "log": []}, {**cfg("t4"), "recursion_limit": 3},
                                         durability="sync")


def s25_replay(saver):
    """Replay. Graph START->a->b->c->END (each appends its name).
    Calls: invoke({"x": 0, "log": []}, t); C = config of the checkpoint with next=[b]
    (from history); stream(None, C, modes [values, updates]); get_state(t);
    get_state_history(t)."""
    app = chain(["a", "b", "c"], saver)
    c = cfg()
    yield "invoke", lambda: app.invoke({"x": 0, "log": []}, c, durability="sync")
    yield "replay", lambda: app.stream(None, find(app, c, ["b"]), stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "history", lambda: history(app, c)


def s26_replay_interrupt(saver):
    """Replay before an interrupt node. Graph START->a->ask->END; a appends "a";
    ask returns {"log": ["ask=" + interrupt("q")]}.
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]);
    stream(Command(resume="first"), t, ...); C = config of the newest checkpoint with
    next=[ask]; stream(None, C, ...) (interrupt re-fires with a new id); get_state(t);
    stream(Command(resume="second"), t, ...); get_state(t); get_state_history(t)."""
    g = StateGraph(S)
    g.add_node("a", appender("a"))
    g.add_node("ask", lambda s: {"log": ["ask=" + interrupt("q")]})
    g.add_edge(START, "a")
    g.add_edge("a", "ask")
    g.add_edge("ask", END)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "resume1", lambda: app.stream(Command(resume="first"), c, stream_mode=VU, durability="sync")
    yield "replay", lambda: app.stream(None, find(app, c, ["ask"]), stream_mode=VU, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "resume2", lambda: app.stream(Command(resume="second"), c, stream_mode=VU, durability="sync")
    yield "get_state2", lambda: snapshot(app.get_state(c))
    yield "history", lambda: history(app, c)


def s27_update_past(saver):
    """update_state on a past checkpoint. Graph START->a->b->c->END (each appends its name).
    Calls: invoke({"x": 0, "log": []}, t); C = config of the checkpoint with next=[b];
    update_state(C, {"x": 100}) (as_node inferred => a) -> record configurable;
    get_state(returned config); update_state(C, {"x": 200}, as_node="b");
    get_state(returned config); invoke(None, returned config of the as_node="b" update)
    (runs only c); get_state(t); get_state_history(t)."""
    app = chain(["a", "b", "c"], saver)
    c = cfg()
    r = {}

    def upd(key, values, **kw):
        def f():
            r[key] = app.update_state(find(app, c, ["b"]) if key == "u1" else r["C"], values, **kw)
            return r[key]["configurable"]
        return f

    yield "invoke", lambda: app.invoke({"x": 0, "log": []}, c, durability="sync")
    yield "locate", lambda: r.setdefault("C", find(app, c, ["b"]))["configurable"]
    yield "update_inferred", upd("u1", {"x": 100})
    yield "get_state_u1", lambda: snapshot(app.get_state(r["u1"]))
    yield "update_as_b", upd("u2", {"x": 200}, as_node="b")
    yield "get_state_u2", lambda: snapshot(app.get_state(r["u2"]))
    yield "invoke_from_u2", lambda: app.invoke(None, r["u2"], durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "history", lambda: history(app, c)


def s28_update_while_interrupted(saver):
    """update_state while dynamically interrupted. Graph START->ask->after->END;
    ask returns {"log": ["ask=" + interrupt("q")]}; after appends "after".
    Calls: stream({"x": 0, "log": []}, t, modes [values, updates]);
    update_state(t, {"log": ["manual"]}, as_node="ask") -> configurable; get_state(t);
    get_state_history(t); stream(None, t, ...) (runs only after); get_state(t)."""
    g = StateGraph(S)
    g.add_node("ask", lambda s: {"log": ["ask=" + interrupt("q")]})
    g.add_node("after", appender("after"))
    g.add_edge(START, "ask")
    g.add_edge("ask", "after")
    g.add_edge("after", END)
    app = g.compile(checkpointer=saver)
    c = cfg()
    yield "stream", lambda: app.stream({"x": 0, "log": []}, c, stream_mode=VU, durability="sync")
    yield "update", lambda: app.update_state(c, {"log": ["manual"]}, as_node="ask")["configurable"]
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "history", lambda: history(app, c)
    yield "resume", lambda: app.stream(None, c, stream_mode=VU, durability="sync")
    yield "get_state2", lambda: snapshot(app.get_state(c))


def s29_update_specials(saver):
    """update_state special as_node values. Graph G = START->a->b->c->END (each appends its
    name); app = G compiled; app_b = G compiled with interrupt_before=["b"].
    Thread t:  invoke({"x": 0, "log": []}); C = checkpoint with next=[b];
               update_state(C, None, as_node="__copy__"); get_state(returned).
    Thread t2: invoke(...); C = checkpoint with next=[b] (b's writes are stored on it);
               update_state(C, None, as_node=END); get_state(returned).
    Thread t3: app_b.invoke(...) (stops before b, nothing finished);
               update_state(t3, None, as_node=END); get_state(returned).
    Thread t4: app_b.invoke(...); update_state(t4, {"x": 7}, as_node="__input__");
               get_state(returned).
    Thread t5: app_b.invoke(...); update_state(t5, {"x": 8}, as_node="__start__");
               get_state(returned).
    Thread t6 (fresh): update_state(t6, {"x": 5}); get_state(t6)."""
    app = chain(["a", "b", "c"], saver)
    app_b = chain(["a", "b", "c"], saver, interrupt_before=["b"])
    inp = {"x": 0, "log": []}
    r = {}

    def upd(key, appx, thread, values, as_node=None, at_b=False):
        def f():
            base = find(appx, cfg(thread), ["b"]) if at_b else cfg(thread)
            kw = {} if as_node is None else {"as_node": as_node}
            r[key] = appx.update_state(base, values, **kw)
            return r[key]["configurable"]
        return f

    yield "t_invoke", lambda: app.invoke(inp, cfg("t"), durability="sync")
    yield "t_copy", upd("t", app, "t", None, "__copy__", at_b=True)
    yield "t_get_state", lambda: snapshot(app.get_state(r["t"]))
    yield "t2_invoke", lambda: app.invoke(inp, cfg("t2"), durability="sync")
    yield "t2_end", upd("t2", app, "t2", None, END, at_b=True)
    yield "t2_get_state", lambda: snapshot(app.get_state(r["t2"]))
    yield "t3_invoke", lambda: app_b.invoke(inp, cfg("t3"), durability="sync")
    yield "t3_end", upd("t3", app_b, "t3", None, END)
    yield "t3_get_state", lambda: snapshot(app_b.get_state(r["t3"]))
    yield "t4_invoke", lambda: app_b.invoke(inp, cfg("t4"), durability="sync")
    yield "t4_input", upd("t4", app_b, "t4", {"x": 7}, "__input__")
    yield "t4_get_state", lambda: snapshot(app_b.get_state(r["t4"]))
    yield "t5_invoke", lambda: app_b.invoke(inp, cfg("t5"), durability="sync")
    yield "t5_start", upd("t5", app_b, "t5", {"x": 8}, "__start__")
    yield "t5_get_state", lambda: snapshot(app_b.get_state(r["t5"]))
    yield "t6_fresh", upd("t6", app, "t6", {"x": 5})
    yield "t6_get_state", lambda: snapshot(app.get_state(cfg("t6")))


def s30_bulk_update(saver):
    """bulk_update_state. Graph START->a->b->c->END (each appends its name), fresh thread t.
    Calls: bulk_update_state(t, [[StateUpdate({"x": 1, "log": ["u1"]}, "b")],
    [StateUpdate({"log": ["u2"]}, "c")]]) -> configurable; get_state(t); get_state_history(t)."""
    app = chain(["a", "b", "c"], saver)
    c = cfg()
    yield "bulk", lambda: app.bulk_update_state(c, [[StateUpdate({"x": 1, "log": ["u1"]}, "b")],
                                                   [StateUpdate({"log": ["u2"]}, "c")]])["configurable"]
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "history", lambda: history(app, c)


def s31_new_input_past(saver):
    """New input at a past checkpoint. Graph START->a->b->c->END (each appends its name).
    Calls: invoke({"x": 0, "log": []}, t); C = checkpoint with next=[b];
    stream({"x": 50}, C, modes [values, updates]); get_state(t); get_state_history(t)."""
    app = chain(["a", "b", "c"], saver)
    c = cfg()
    yield "invoke", lambda: app.invoke({"x": 0, "log": []}, c, durability="sync")
    yield "stream_at_past", lambda: app.stream({"x": 50}, find(app, c, ["b"]), stream_mode=VU,
                                               durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(c))
    yield "history", lambda: history(app, c)


class FakeChat(BaseChatModel):
    """Deterministic chat model: replies "Hello from llm" with message id "msg-1".
    Streaming (used automatically under stream_mode "messages") yields three
    AIMessageChunk(content=..., id="msg-1") with contents "Hello", " from", " llm"; the
    last one has chunk_position="last" (otherwise langchain-core appends an extra empty
    chunk whose id is "lc_run--<random run id>"). langchain-core itself calls
    on_llm_new_token for each chunk (the run manager is not passed to _stream)."""

    @property
    def _llm_type(self) -> str:
        return "fake-chat"

    def _get_ls_params(self, stop=None, **kwargs):
        return {"ls_provider": "fake", "ls_model_name": "fake-model", "ls_model_type": "chat"}

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="Hello from llm", id="msg-1"))])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        toks = ["Hello", " from", " llm"]
        for i, tok in enumerate(toks):
            last = {"chunk_position": "last"} if i == len(toks) - 1 else {}
            yield ChatGenerationChunk(message=AIMessageChunk(content=tok, id="msg-1", **last))


class SM(TypedDict):
    x: int
    log: Annotated[list, operator.add]
    messages: Annotated[list, add_messages]


def s32_all_stream_modes(saver):
    """All stream modes with subgraphs=True and a fake chat model two levels down.
    State SM = {x: int, log: Annotated[list, add], messages: Annotated[list, add_messages]}.
    Chat model FakeChat (see class docstring): ls params {ls_provider: "fake",
    ls_model_name: "fake-model", ls_model_type: "chat"}; streams AIMessageChunks "Hello",
    " from", " llm" (the last with chunk_position="last"), all with id "msg-1"; the merged
    message is AIMessage(content="Hello from llm", id="msg-1").
    Innermost graph (compiled, no checkpointer): START->llm->END; llm calls
    get_stream_writer()({"custom": "from llm"}), then msg = model.invoke(messages) and
    returns {"messages": [msg], "log": ["llm"]}.
    Middle graph: START->inner->END, inner = innermost graph.
    Parent: START->prep->sub->reply->END; prep returns
    {"messages": [AIMessage(content="prep says hi", id="prep-1")], "log": ["prep"]};
    sub = middle graph; reply returns {"log": ["reply"]}.
    Calls: stream({"x": 0, "log": [], "messages": [HumanMessage("hello", id="h1")]}, t,
    stream_mode=["values","updates","messages","custom","tasks","checkpoints","debug"],
    subgraphs=True)."""
    model = FakeChat()

    def llm(s):
        get_stream_writer()({"custom": "from llm"})
        msg = model.invoke(s["messages"])
        return {"messages": [msg], "log": ["llm"]}

    ig = StateGraph(SM)
    ig.add_node("llm", llm)
    ig.add_edge(START, "llm")
    ig.add_edge("llm", END)
    mg = StateGraph(SM)
    mg.add_node("inner", ig.compile())
    mg.add_edge(START, "inner")
    mg.add_edge("inner", END)
    g = StateGraph(SM)
    g.add_node("prep", lambda s: {"messages": [AIMessage(content="prep says hi", id="prep-1")], "log": ["prep"]})
    g.add_node("sub", mg.compile())
    g.add_node("reply", appender("reply"))
    g.add_edge(START, "prep")
    g.add_edge("prep", "sub")
    g.add_edge("sub", "reply")
    g.add_edge("reply", END)
    app = g.compile(checkpointer=saver)
    modes = ["values", "updates", "messages", "custom", "tasks", "checkpoints", "debug"]
    inp = {"x": 0, "log": [], "messages": [HumanMessage("hello", id="h1")]}
    yield "stream", lambda: app.stream(inp, cfg(), stream_mode=modes, subgraphs=True, durability="sync")


def s33_checkpoint_debug_payloads(saver):
    """checkpoints/tasks/debug payloads.
    Thread t: START->a->ask->END; a appends "a"; ask returns {"log": ["ask=" + interrupt("q")]}.
      Calls: stream({"x": 0, "log": []}, t, modes [checkpoints, tasks, debug]);
      stream(Command(resume="yes"), t, same modes).
    Thread t2: START->boom->END; boom raises ValueError("boom").
      Calls: stream({"x": 0, "log": []}, t2, modes [checkpoints, tasks, debug]) -> ValueError;
      stream(None, t2, same modes) -> ValueError again.
    Thread t3: START->a->b->END (append names) compiled with interrupt_before=["b"].
      Calls: stream({"x": 0, "log": []}, t3, modes [checkpoints, tasks, debug]);
      stream(None, t3, same modes)."""
    g = StateGraph(S)
    g.add_node("a", appender("a"))
    g.add_node("ask", lambda s: {"log": ["ask=" + interrupt("q")]})
    g.add_edge(START, "a")
    g.add_edge("a", "ask")
    g.add_edge("ask", END)
    app = g.compile(checkpointer=saver)

    def boom(s):
        raise ValueError("boom")

    g2 = StateGraph(S)
    g2.add_node("boom", boom)
    g2.add_edge(START, "boom")
    g2.add_edge("boom", END)
    app2 = g2.compile(checkpointer=saver)
    modes = ["checkpoints", "tasks", "debug"]
    yield "stream", lambda: app.stream({"x": 0, "log": []}, cfg(), stream_mode=modes, durability="sync")
    yield "resume", lambda: app.stream(Command(resume="yes"), cfg(), stream_mode=modes, durability="sync")
    yield "t2_stream", lambda: app2.stream({"x": 0, "log": []}, cfg("t2"), stream_mode=modes, durability="sync")
    yield "t2_retry", lambda: app2.stream(None, cfg("t2"), stream_mode=modes, durability="sync")
    app3 = chain(["a", "b"], saver, interrupt_before=["b"])
    yield "t3_stream", lambda: app3.stream({"x": 0, "log": []}, cfg("t3"), stream_mode=modes, durability="sync")
    yield "t3_resume", lambda: app3.stream(None, cfg("t3"), stream_mode=modes, durability="sync")


def _graph_json(app, xray=False):
    j = app.get_graph(xray=xray).to_json()
    for n in j["nodes"]:
        if isinstance(n.get("data"), dict):
            n["data"].pop("id", None)
    return j


def s34_graph_json(saver):
    """Graph drawing JSON (get_graph(xray).to_json() with data.id removed from each node).
    router: START->a; add_conditional_edges("a", r, {"x": "b", "y": END, "z": "a"}) where
      r(s) -> Literal["x", "y", "z"]; b->END.
    command: START->a; a annotated `-> Command[Literal["b", "c"]]`; b->END, c->END.
    join: START->a, a->b, a->c, add_edge(["b", "c"], "d"), d->END.
    defer: START->a, a->b, a->c, b->d, c->d, d (defer=True)->END.
    breakpoints: START->a->b->c->END compiled with interrupt_before=["b"],
      interrupt_after=["b", "c"].
    no_path_map: START->a; add_conditional_edges("a", lambda s: "b") (no path_map, no
      annotation); b->END.
    metadata: START->a->END, add_node("a", f, metadata={"k": "v"}).
    subgraph: child START->s1; add_conditional_edges("s1", cr, ["s2", END]); s2->END;
      parent START->b->sub->c->END; recorded with xray=False and xray=True.
    All nodes are trivial appenders; no checkpointer is needed."""
    def gr(name):
        return appender(name)

    def r(s) -> Literal["x", "y", "z"]:
        return "x"

    g = StateGraph(S)
    g.add_node("a", gr("a"))
    g.add_node("b", gr("b"))
    g.add_edge(START, "a")
    g.add_conditional_edges("a", r, {"x": "b", "y": END, "z": "a"})
    g.add_edge("b", END)
    router = g.compile()

    def cmd(s) -> Command[Literal["b", "c"]]:
        return Command(goto="b")

    g = StateGraph(S)
    g.add_node("a", cmd)
    g.add_node("b", gr("b"))
    g.add_node("c", gr("c"))
    g.add_edge(START, "a")
    g.add_edge("b", END)
    g.add_edge("c", END)
    command = g.compile()

    g = StateGraph(S)
    for n in "abcd":
        g.add_node(n, gr(n))
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("a", "c")
    g.add_edge(["b", "c"], "d")
    g.add_edge("d", END)
    join = g.compile()

    g = StateGraph(S)
    for n in "abc":
        g.add_node(n, gr(n))
    g.add_node("d", gr("d"), defer=True)
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("a", "c")
    g.add_edge("b", "d")
    g.add_edge("c", "d")
    g.add_edge("d", END)
    defer = g.compile()

    breakpoints = chain(["a", "b", "c"], None, interrupt_before=["b"], interrupt_after=["b", "c"])

    g = StateGraph(S)
    g.add_node("a", gr("a"))
    g.add_node("b", gr("b"))
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: "b")
    g.add_edge("b", END)
    no_path_map = g.compile()

    g = StateGraph(S)
    g.add_node("a", gr("a"), metadata={"k": "v"})
    g.add_edge(START, "a")
    g.add_edge("a", END)
    metadata = g.compile()

    cg = StateGraph(S)
    cg.add_node("s1", gr("s1"))
    cg.add_node("s2", gr("s2"))
    cg.add_edge(START, "s1")
    cg.add_conditional_edges("s1", lambda s: "s2", ["s2", END])
    cg.add_edge("s2", END)
    g = StateGraph(S)
    g.add_node("b", gr("b"))
    g.add_node("sub", cg.compile())
    g.add_node("c", gr("c"))
    g.add_edge(START, "b")
    g.add_edge("b", "sub")
    g.add_edge("sub", "c")
    g.add_edge("c", END)
    subgraph = g.compile()

    yield "router", lambda: _graph_json(router)
    yield "command", lambda: _graph_json(command)
    yield "join", lambda: _graph_json(join)
    yield "defer", lambda: _graph_json(defer)
    yield "breakpoints", lambda: _graph_json(breakpoints)
    yield "no_path_map", lambda: _graph_json(no_path_map)
    yield "metadata", lambda: _graph_json(metadata)
    yield "subgraph", lambda: _graph_json(subgraph)
    yield "subgraph_xray", lambda: _graph_json(subgraph, xray=True)


def s35_metadata_merge(saver):
    """Metadata merge into checkpoint metadata. Graph START->a->b->END (append names).
    Calls: invoke({"x": 0, "log": []}, config = {"configurable": {"thread_id": "t",
    "user_id": "u1", "assistant_id": "as1", "graph_id": "g1", "__secret": "s",
    "langgraph_auth_user": {"identity": "u1"}}, "metadata": {"run_id": "run-1",
    "source_tag": "test", "num": 7}}); get_state(t); get_state_history(t).
    (Every checkpoint's metadata is in the checkpoints section.)"""
    app = chain(["a", "b"], saver)
    config = {"configurable": {"thread_id": "t", "user_id": "u1", "assistant_id": "as1",
                               "graph_id": "g1", "__secret": "s",
                               "langgraph_auth_user": {"identity": "u1"}},
              "metadata": {"run_id": "run-1", "source_tag": "test", "num": 7}}
    yield "invoke", lambda: app.invoke({"x": 0, "log": []}, config, durability="sync")
    yield "get_state", lambda: snapshot(app.get_state(cfg()))
    yield "history", lambda: history(app, cfg())
