//! Rust twins of `tests/oracle/scenarios.py` (same graphs, same calls, same labels).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use orrery_engine::{
    Breakpoints, Command, CompileOptions, CompiledGraph, Goto, Input, Managed, NodeError,
    NodeOptions, NodeOutput, Reducer, RetryPolicy, RunConfig, Send, StateGraph, END, START,
};
use serde_json::{Value, json};

use crate::harness::{Rec, VU, cfg, config_of};

type NodeResult = Result<NodeOutput, NodeError>;

/// `S = {x: int, log: Annotated[list, add]}`.
pub fn s_graph() -> StateGraph {
    StateGraph::new().channel("x", Reducer::LastValue).channel("log", Reducer::Add)
}

fn x_of(s: &Value) -> i64 {
    s["x"].as_i64().unwrap_or(0)
}

/// A node that appends its own name to `log`.
pub fn append(g: StateGraph, name: &'static str) -> StateGraph {
    g.add_fn(name, move |_, _| Ok(json!({"log": [name]}).into()))
}

fn chain(names: &[&'static str]) -> StateGraph {
    let mut g = s_graph();
    for n in names {
        g = append(g, n);
    }
    let mut prev = START;
    for n in names {
        g = g.add_edge(prev, *n);
        prev = n;
    }
    g.add_edge(prev, END)
}

fn compile(g: StateGraph, rec: &Rec) -> CompiledGraph {
    g.compile(CompileOptions { checkpointer: rec.saver(), ..Default::default() }).expect("compile")
}

fn compile_with(g: StateGraph, rec: &Rec, before: &[&str], after: &[&str]) -> CompiledGraph {
    g.compile(CompileOptions {
        checkpointer: rec.saver(),
        interrupt_before: if before.is_empty() { Breakpoints::None } else { before.iter().copied().collect() },
        interrupt_after: if after.is_empty() { Breakpoints::None } else { after.iter().copied().collect() },
        ..Default::default()
    })
    .expect("compile")
}

fn input0() -> Input {
    Input::Values(json!({"x": 0, "log": []}))
}

fn modes(thread: &str) -> RunConfig {
    cfg(thread).modes(VU)
}

fn ab_graph() -> StateGraph {
    s_graph()
        .add_fn("a", |s, _| Ok(json!({"x": x_of(&s) + 1, "log": ["a"]}).into()))
        .add_fn("b", |s, _| Ok(json!({"x": x_of(&s) * 10, "log": ["b"]}).into()))
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", END)
}

pub async fn s01_linear(rec: &mut Rec) {
    let app = compile(ab_graph(), rec);
    rec.stream("stream", &app, Input::Values(json!({"x": 1, "log": []})), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.history("history", &app, cfg("t")).await;
}

pub async fn s02_second_run(rec: &mut Rec) {
    let app = compile(ab_graph(), rec);
    rec.invoke("invoke", &app, Input::Values(json!({"x": 1, "log": []})), cfg("t")).await;
    rec.stream("stream2", &app, Input::Values(json!({"x": 5})), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.history("history", &app, cfg("t")).await;
}

pub async fn s03_fanout_fanin(rec: &mut Rec) {
    let mut g = s_graph();
    for n in ["a", "b", "c", "d"] {
        g = append(g, n);
    }
    let g = g.add_edge(START, "a").add_edge("a", "b").add_edge("a", "c").add_edge("b", "d").add_edge("c", "d").add_edge("d", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
}

pub async fn s04_uneven_no_join(rec: &mut Rec) {
    let mut g = s_graph();
    for n in ["a", "b", "b2", "c", "d"] {
        g = append(g, n);
    }
    let g = g.add_edge(START, "a").add_edge("a", "b").add_edge("b", "b2").add_edge("b2", "d").add_edge("a", "c").add_edge("c", "d").add_edge("d", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
}

pub async fn s05_join(rec: &mut Rec) {
    let mut g = s_graph();
    for n in ["a", "b", "b2", "c", "d"] {
        g = append(g, n);
    }
    let g = g.add_edge(START, "a").add_edge("a", "b").add_edge("b", "b2").add_edge("a", "c").add_join(["b2", "c"], "d").add_edge("d", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
}

pub async fn s06_defer(rec: &mut Rec) {
    let mut g = s_graph();
    for n in ["a", "b", "b2", "c"] {
        g = append(g, n);
    }
    let g = g
        .add_fn_with("d", |_, _| Ok(json!({"log": ["d"]}).into()), NodeOptions { defer: true, ..Default::default() })
        .add_edge(START, "a").add_edge("a", "b").add_edge("b", "b2").add_edge("b2", "d").add_edge("a", "c").add_edge("c", "d").add_edge("d", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
}

pub async fn s07_concurrent_lastvalue(rec: &mut Rec) {
    let g = s_graph()
        .add_fn("a", |_, _| Ok(json!({"x": 1, "log": ["a"]}).into()))
        .add_fn("b", |_, _| Ok(json!({"x": 2, "log": ["b"]}).into()))
        .add_edge(START, "a").add_edge(START, "b").add_edge("a", END).add_edge("b", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    let g2 = s_graph()
        .add_fn_with("a", |_, _| Ok(Command::goto("c").with_update(json!({"log": ["a"]})).into()), NodeOptions { ends: vec!["c".into()], ..Default::default() })
        .add_fn("b", |_, _| Ok(json!({"x": 1, "log": ["b"]}).into()))
        .add_fn("c", |_, _| Ok(json!({"x": 2, "log": ["c"]}).into()))
        .add_edge(START, "a").add_edge("a", "b").add_edge("b", END).add_edge("c", END);
    let app2 = compile(g2, rec);
    rec.stream("stream_t2", &app2, input0(), modes("t2")).await;
}

pub async fn s08_send(rec: &mut Rec) {
    let g = s_graph()
        .add_fn("joke", |arg, _| Ok(json!({"log": [format!("joke:{}", arg["subject"].as_str().unwrap_or_default())]}).into()))
        .add_fn("summarize", |s, _| Ok(json!({"x": s["log"].as_array().map(Vec::len).unwrap_or(0), "log": ["summarize"]}).into()))
        .add_conditional_edges(
            START,
            |_, _| Ok(["cats", "dogs", "birds"].iter().map(|s| Goto::Send(Send::new("joke", json!({"subject": s})))).collect()),
            None::<Vec<(&str, &str)>>,
        )
        .add_edge("joke", "summarize")
        .add_edge("summarize", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.history("history", &app, cfg("t")).await;
}

pub async fn s09_conditional_loop(rec: &mut Rec) {
    let saw = Arc::new(Mutex::new(Vec::<i64>::new()));
    let saw2 = Arc::clone(&saw);
    let g = s_graph()
        .add_fn("inc", |s, _| Ok(json!({"x": x_of(&s) + 1, "log": ["inc"]}).into()))
        .add_edge(START, "inc")
        .add_conditional_edges(
            "inc",
            move |s, _| {
                saw2.lock().unwrap().push(x_of(s));
                Ok(vec![Goto::Node(if x_of(s) < 3 { "inc".into() } else { END.into() })])
            },
            Some(vec![("inc", "inc"), (END, END)]),
        );
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    let v = json!(*saw.lock().unwrap());
    rec.ok("router_saw", v);
}

pub async fn s10_command_from_node(rec: &mut Rec) {
    let g = s_graph()
        .add_fn_with(
            "a",
            |_, _| {
                Ok(Command::goto("b").then(Send::new("c", json!({"x": 99, "log": []}))).with_update(json!({"x": 10, "log": ["a"]})).into())
            },
            NodeOptions { ends: vec!["b".into(), "c".into()], ..Default::default() },
        )
        .add_fn("b", |s, _| Ok(json!({"log": [format!("b{}", x_of(&s))]}).into()))
        .add_fn("c", |s, _| Ok(json!({"log": [format!("c{}", x_of(&s))]}).into()))
        .add_edge(START, "a").add_edge("b", END).add_edge("c", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
}

pub async fn s11_command_input(rec: &mut Rec) {
    let g = append(append(s_graph(), "a"), "b")
        .add_fn("c", |s, _| Ok(json!({"log": [format!("c{}", x_of(&s))]}).into()))
        .add_edge(START, "a").add_edge("a", "b").add_edge("b", END).add_edge("c", END)
        .reachable_by_command("c");
    let app = compile(g, rec);
    rec.invoke("invoke", &app, Input::Values(json!({"x": 1, "log": []})), cfg("t")).await;
    rec.stream("stream_command", &app, Command::goto("c").with_update(json!({"x": 5})), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
}

pub async fn s12_none_and_goto_only(rec: &mut Rec) {
    let g = s_graph()
        .add_fn("n", |_, _| Ok(NodeOutput::none()))
        .add_fn_with("m", |_, _| Ok(Command::goto("k").into()), NodeOptions { ends: vec!["k".into()], ..Default::default() })
        .add_fn("k", |_, _| Ok(json!({"log": ["k"]}).into()))
        .add_edge(START, "n").add_edge("n", "m").add_edge("k", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
}

#[allow(dead_code)]
fn unused(_: Managed, _: RetryPolicy, _: AtomicUsize, _: Ordering) -> NodeResult {
    Ok(NodeOutput::none())
}

#[allow(dead_code)]
fn unused2(c: &Value) -> RunConfig {
    config_of(c)
}
