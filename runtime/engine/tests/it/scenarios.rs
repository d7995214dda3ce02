//! Rust twins of `tests/oracle/scenarios.py` (same graphs, same calls, same labels).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use orrery_engine::{
    Breakpoints, Command, CompileOptions, CompiledGraph, END, Goto, Input, Managed, NodeError,
    NodeOptions, NodeOutput, Reducer, RetryPolicy, RunConfig, START, Send, StateGraph,
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

/// `S` with one appender node per name.
fn appenders(names: &[&'static str]) -> StateGraph {
    names.iter().fold(s_graph(), |g, n| append(g, n))
}

/// Adds plain edges.
fn edges(g: StateGraph, pairs: &[(&str, &str)]) -> StateGraph {
    pairs.iter().fold(g, |g, (a, b)| g.add_edge(*a, *b))
}

/// The common first two ops: stream from `{x: 0, log: []}` with values+updates, then get_state.
async fn stream_then_state(rec: &mut Rec, app: &CompiledGraph) {
    rec.stream("stream", app, input0(), modes("t")).await;
    rec.get_state("get_state", app, cfg("t"), false).await;
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
        interrupt_before: if before.is_empty() {
            Breakpoints::None
        } else {
            before.iter().copied().collect()
        },
        interrupt_after: if after.is_empty() {
            Breakpoints::None
        } else {
            after.iter().copied().collect()
        },
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
    let g = appenders(&["a", "b", "c", "d"]);
    let g = edges(g, &[(START, "a"), ("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", END)]);
    stream_then_state(rec, &compile(g, rec)).await;
}

/// `a` fans out to `b -> b2` and `c`, which meet again at `d` (by plain edges unless `join`).
fn uneven(g: StateGraph, join: bool) -> StateGraph {
    let g = edges(g, &[(START, "a"), ("a", "b"), ("b", "b2"), ("a", "c"), ("d", END)]);
    if join { g.add_join(["b2", "c"], "d") } else { edges(g, &[("b2", "d"), ("c", "d")]) }
}

pub async fn s04_uneven_no_join(rec: &mut Rec) {
    let g = uneven(appenders(&["a", "b", "b2", "c", "d"]), false);
    stream_then_state(rec, &compile(g, rec)).await;
}

pub async fn s05_join(rec: &mut Rec) {
    let g = uneven(appenders(&["a", "b", "b2", "c", "d"]), true);
    stream_then_state(rec, &compile(g, rec)).await;
}

pub async fn s06_defer(rec: &mut Rec) {
    let g = appenders(&["a", "b", "b2", "c"]).add_fn_with(
        "d",
        |_, _| Ok(json!({"log": ["d"]}).into()),
        NodeOptions { defer: true, ..Default::default() },
    );
    stream_then_state(rec, &compile(uneven(g, false), rec)).await;
}

pub async fn s07_concurrent_lastvalue(rec: &mut Rec) {
    let g = s_graph()
        .add_fn("a", |_, _| Ok(json!({"x": 1, "log": ["a"]}).into()))
        .add_fn("b", |_, _| Ok(json!({"x": 2, "log": ["b"]}).into()))
        .add_edge(START, "a")
        .add_edge(START, "b")
        .add_edge("a", END)
        .add_edge("b", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    let g2 = s_graph()
        .add_fn_with(
            "a",
            |_, _| Ok(Command::goto("c").with_update(json!({"log": ["a"]})).into()),
            NodeOptions { ends: vec!["c".into()], ..Default::default() },
        )
        .add_fn("b", |_, _| Ok(json!({"x": 1, "log": ["b"]}).into()))
        .add_fn("c", |_, _| Ok(json!({"x": 2, "log": ["c"]}).into()))
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", END)
        .add_edge("c", END);
    let app2 = compile(g2, rec);
    rec.stream("stream_t2", &app2, input0(), modes("t2")).await;
}

pub async fn s08_send(rec: &mut Rec) {
    let g = s_graph()
        .add_fn("joke", |arg, _| {
            Ok(json!({"log": [format!("joke:{}", arg["subject"].as_str().unwrap_or_default())]})
                .into())
        })
        .add_fn("summarize", |s, _| {
            Ok(json!({"x": s["log"].as_array().map(Vec::len).unwrap_or(0), "log": ["summarize"]})
                .into())
        })
        .add_conditional_edges(
            START,
            |_, _| {
                Ok(["cats", "dogs", "birds"]
                    .iter()
                    .map(|s| Goto::Send(Send::new("joke", json!({"subject": s}))))
                    .collect())
            },
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
                Ok(Command::goto("b")
                    .then(Send::new("c", json!({"x": 99, "log": []})))
                    .with_update(json!({"x": 10, "log": ["a"]}))
                    .into())
            },
            NodeOptions { ends: vec!["b".into(), "c".into()], ..Default::default() },
        )
        .add_fn("b", |s, _| Ok(json!({"log": [format!("b{}", x_of(&s))]}).into()))
        .add_fn("c", |s, _| Ok(json!({"log": [format!("c{}", x_of(&s))]}).into()))
        .add_edge(START, "a")
        .add_edge("b", END)
        .add_edge("c", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
}

pub async fn s11_command_input(rec: &mut Rec) {
    let g = append(append(s_graph(), "a"), "b")
        .add_fn("c", |s, _| Ok(json!({"log": [format!("c{}", x_of(&s))]}).into()))
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", END)
        .add_edge("c", END)
        .reachable_by_command("c");
    let app = compile(g, rec);
    rec.invoke("invoke", &app, Input::Values(json!({"x": 1, "log": []})), cfg("t")).await;
    rec.stream("stream_command", &app, Command::goto("c").with_update(json!({"x": 5})), modes("t"))
        .await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
}

pub async fn s12_none_and_goto_only(rec: &mut Rec) {
    let g = s_graph()
        .add_fn("n", |_, _| Ok(NodeOutput::none()))
        .add_fn_with(
            "m",
            |_, _| Ok(Command::goto("k").into()),
            NodeOptions { ends: vec!["k".into()], ..Default::default() },
        )
        .add_fn("k", |_, _| Ok(json!({"log": ["k"]}).into()))
        .add_edge(START, "n")
        .add_edge("n", "m")
        .add_edge("k", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
}

fn child_s1_s2() -> StateGraph {
    append(append(s_graph(), "s1"), "s2")
        .add_edge(START, "s1")
        .add_edge("s1", "s2")
        .add_edge("s2", END)
}

fn sub_cfg(thread: &str) -> RunConfig {
    let mut c = modes(thread);
    c.subgraphs = true;
    c
}

pub async fn s13_subgraph(rec: &mut Rec) {
    let child = child_s1_s2().compile(CompileOptions::default()).expect("child");
    let g = append(append(s_graph(), "before"), "after")
        .add_subgraph("sub", child)
        .add_edge(START, "before")
        .add_edge("before", "sub")
        .add_edge("sub", "after")
        .add_edge("after", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), sub_cfg("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.get_state("get_state_subgraphs", &app, cfg("t"), true).await;
    let hist = rec.history("history", &app, cfg("t")).await;
    let ns = hist
        .iter()
        .find(|s| s.next == vec!["sub".to_string()])
        .and_then(|s| s.tasks.first())
        .and_then(|t| t.state.as_ref())
        .and_then(|st| st["checkpoint_ns"].as_str().map(str::to_string))
        .unwrap_or_default();
    let mut c = cfg("t");
    c.checkpoint_ns = ns;
    rec.history("child_history", &app, c).await;
}

pub async fn s14_command_parent(rec: &mut Rec) {
    let child = append(s_graph(), "s1")
        .add_fn("jump", |_, _| {
            Ok(Command::goto("other").with_update(json!({"log": ["jumped"]})).to_parent().into())
        })
        .add_edge(START, "s1")
        .add_edge("s1", "jump")
        .compile(CompileOptions::default())
        .expect("child");
    let g = append(s_graph(), "other")
        .add_subgraph("sub", child)
        .add_edge(START, "sub")
        .add_edge("other", END)
        .reachable_by_command("other");
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), sub_cfg("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
}

fn asker(
    name: &'static str,
    question: Value,
    prefix: &'static str,
) -> impl Fn(Value, orrery_engine::NodeContext) -> NodeResult + std::marker::Send + Sync + 'static {
    let _ = name;
    move |_, ctx| {
        let a = ctx.interrupt(question.clone())?;
        Ok(json!({"log": [format!("{prefix}{}", a.as_str().map(str::to_string).unwrap_or_else(|| a.to_string()))]}).into())
    }
}

pub async fn s15_single_interrupt(rec: &mut Rec) {
    let g = s_graph()
        .add_fn("ask", asker("ask", json!({"q": 1}), "ask="))
        .add_edge(START, "ask")
        .add_edge("ask", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.stream("resume", &app, Command::resume(json!("yes")), modes("t")).await;
    rec.get_state("get_state2", &app, cfg("t"), false).await;
    rec.history("history", &app, cfg("t")).await;
}

pub async fn s16_two_interrupts(rec: &mut Rec) {
    let calls = Arc::new(Mutex::new(Vec::<String>::new()));
    let c2 = Arc::clone(&calls);
    let g = s_graph()
        .add_fn("ask", move |_, ctx| {
            c2.lock().unwrap().push("ask-enter".into());
            let a = ctx.interrupt(json!("q1"))?;
            c2.lock().unwrap().push(format!("got1={}", a.as_str().unwrap_or_default()));
            let b = ctx.interrupt(json!("q2"))?;
            c2.lock().unwrap().push(format!("got2={}", b.as_str().unwrap_or_default()));
            Ok(json!({"log": [a, b]}).into())
        })
        .add_edge(START, "ask")
        .add_edge("ask", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.stream("resume1", &app, Command::resume(json!("A1")), modes("t")).await;
    let st = rec.get_state("get_state", &app, cfg("t"), false).await;
    let id = st.and_then(|s| s.interrupts.first().map(|i| i.id.clone())).unwrap_or_default();
    rec.stream("resume2", &app, Command::resume(json!({ id: "B2" })), modes("t")).await;
    rec.get_state("get_state2", &app, cfg("t"), false).await;
    let v = json!(*calls.lock().unwrap());
    rec.ok("calls", v);
}

pub async fn s17_parallel_interrupts(rec: &mut Rec) {
    let g = s_graph()
        .add_fn("x", asker("x", json!("X?"), "x="))
        .add_fn("y", asker("y", json!("Y?"), "y="))
        .add_fn("z", |_, _| Ok(json!({"log": ["z"]}).into()))
        .add_edge(START, "x")
        .add_edge(START, "y")
        .add_edge(START, "z")
        .add_edge("x", END)
        .add_edge("y", END)
        .add_edge("z", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    let st = rec.get_state("get_state", &app, cfg("t"), false).await;
    let id_of = |q: &str| {
        st.as_ref()
            .and_then(|s| s.interrupts.iter().find(|i| i.value == json!(q)).map(|i| i.id.clone()))
            .unwrap_or_default()
    };
    let (ix, iy) = (id_of("X?"), id_of("Y?"));
    rec.stream("resume_plain", &app, Command::resume(json!("v")), modes("t")).await;
    rec.stream("resume_x", &app, Command::resume(json!({ ix: "X!" })), modes("t")).await;
    rec.get_state("get_state2", &app, cfg("t"), false).await;
    rec.stream("resume_y", &app, Command::resume(json!({ iy: "Y!" })), modes("t")).await;
    rec.get_state("get_state3", &app, cfg("t"), false).await;
}

pub async fn s18_interrupt_in_subgraph(rec: &mut Rec) {
    let child = s_graph()
        .add_fn("ask", asker("ask", json!("q"), "ask="))
        .add_edge(START, "ask")
        .add_edge("ask", END)
        .compile(CompileOptions::default())
        .expect("child");
    let g = append(s_graph(), "after")
        .add_subgraph("sub", child)
        .add_edge(START, "sub")
        .add_edge("sub", "after")
        .add_edge("after", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), sub_cfg("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.get_state("get_state_subgraphs", &app, cfg("t"), true).await;
    rec.stream("resume", &app, Command::resume(json!("yes")), sub_cfg("t")).await;
    rec.get_state("get_state2", &app, cfg("t"), false).await;
}

pub async fn s19_interrupt_before(rec: &mut Rec) {
    let app = compile_with(chain(&["a", "b", "c"]), rec, &["b"], &[]);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.stream("resume", &app, Input::Resume, modes("t")).await;
    rec.get_state("get_state2", &app, cfg("t"), false).await;
    let app2 = compile_with(chain(&["a", "b", "c"]), rec, &["b"], &["b"]);
    rec.stream("t2_stream", &app2, input0(), modes("t2")).await;
    rec.stream("t2_resume1", &app2, Input::Resume, modes("t2")).await;
    rec.get_state("t2_get_state", &app2, cfg("t2"), false).await;
    rec.stream("t2_resume2", &app2, Input::Resume, modes("t2")).await;
    rec.get_state("t2_get_state2", &app2, cfg("t2"), false).await;
}

pub async fn s20_interrupt_after(rec: &mut Rec) {
    let app = compile_with(chain(&["a", "b", "c"]), rec, &[], &["a"]);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.stream("resume", &app, Input::Resume, modes("t")).await;
    rec.get_state("get_state2", &app, cfg("t"), false).await;
}

pub async fn s21_resume_static(rec: &mut Rec) {
    let app = compile_with(chain(&["a", "b"]), rec, &["b"], &[]);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.stream("resume", &app, Command::resume(json!("ignored")), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
}

pub async fn s22_retry(rec: &mut Rec) {
    let policy = RetryPolicy {
        initial_interval: 0.01,
        jitter: false,
        max_attempts: 3,
        ..Default::default()
    };
    let flaky_calls = Arc::new(AtomicUsize::new(0));
    let fc = Arc::clone(&flaky_calls);
    let g = s_graph()
        .add_fn_with(
            "flaky",
            move |_, _| {
                let n = fc.fetch_add(1, Ordering::SeqCst) + 1;
                if n <= 2 {
                    return Err(NodeError::failed("ConnectionError", format!("flaky {n}")));
                }
                Ok(json!({"log": ["flaky"]}).into())
            },
            NodeOptions { retry: Some(policy.clone()), ..Default::default() },
        )
        .add_edge(START, "flaky")
        .add_edge("flaky", END);
    let app = compile(g, rec);
    rec.invoke("invoke", &app, input0(), cfg("t")).await;
    rec.ok("flaky_calls", json!(flaky_calls.load(Ordering::SeqCst)));
    let bad_calls = Arc::new(AtomicUsize::new(0));
    let bc = Arc::clone(&bad_calls);
    let g2 = s_graph()
        .add_fn_with(
            "bad",
            move |_, _| {
                bc.fetch_add(1, Ordering::SeqCst);
                Err(NodeError::failed("ValueError", "bad"))
            },
            NodeOptions { retry: Some(policy.clone()), ..Default::default() },
        )
        .add_edge(START, "bad")
        .add_edge("bad", END);
    let app2 = compile(g2, rec);
    rec.invoke("invoke_t2", &app2, input0(), cfg("t2")).await;
    rec.ok("bad_calls", json!(bad_calls.load(Ordering::SeqCst)));
    rec.get_state("get_state_t2", &app2, cfg("t2"), false).await;
}

pub async fn s23_error_parallel(rec: &mut Rec) {
    let ok_calls = Arc::new(AtomicUsize::new(0));
    let boom_calls = Arc::new(AtomicUsize::new(0));
    let (oc, bc) = (Arc::clone(&ok_calls), Arc::clone(&boom_calls));
    let g = s_graph()
        .add_fn("ok", move |_, _| {
            oc.fetch_add(1, Ordering::SeqCst);
            Ok(json!({"log": ["ok"]}).into())
        })
        .add_node("boom", move |_, _| {
            let n = bc.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                // Let `ok` finish first, as the Python scenario does with an event.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                if n == 1 {
                    return Err(NodeError::failed("KeyError", "boom"));
                }
                Ok(json!({"log": ["boom"]}).into())
            }
        })
        .add_edge(START, "ok")
        .add_edge(START, "boom")
        .add_edge("ok", END)
        .add_edge("boom", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.invoke("invoke_none", &app, Input::Resume, cfg("t")).await;
    rec.get_state("get_state2", &app, cfg("t"), false).await;
    rec.ok(
        "calls",
        json!({"ok": ok_calls.load(Ordering::SeqCst), "boom": boom_calls.load(Ordering::SeqCst)}),
    );
}

pub async fn s24_recursion_limit(rec: &mut Rec) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let g = s_graph()
        .add_fn("loop", move |s, _| {
            c.fetch_add(1, Ordering::SeqCst);
            Ok(json!({"x": x_of(&s) + 1, "log": ["loop"]}).into())
        })
        .add_edge(START, "loop")
        .add_conditional_edges(
            "loop",
            |_, _| Ok(vec![Goto::Node("loop".into())]),
            Some(vec![("loop", "loop")]),
        );
    let app = compile(g, rec);
    rec.invoke("invoke", &app, input0(), cfg("t").limit(5)).await;
    rec.ok("loop_calls", json!(calls.load(Ordering::SeqCst)));
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.invoke("invoke_none", &app, Input::Resume, cfg("t").limit(5)).await;
    rec.ok("loop_calls_after_resume", json!(calls.load(Ordering::SeqCst)));
    rec.get_state("get_state2", &app, cfg("t"), false).await;
    let ab = compile(chain(&["a", "b"]), rec);
    rec.invoke("ab_limit2", &ab, input0(), cfg("t2").limit(2)).await;
    rec.invoke("ab_limit3", &ab, input0(), cfg("t3").limit(3)).await;
    let managed = |name: &'static str| {
        move |s: Value, _| -> NodeResult {
            let last = if s["last"].as_bool().unwrap_or(false) { "True" } else { "False" };
            Ok(json!({"log": [format!("{name}:{}/{last}", s["remaining"])]}).into())
        }
    };
    let g4 = s_graph()
        .managed("remaining", Managed::RemainingSteps)
        .managed("last", Managed::IsLastStep)
        .add_fn("a", managed("a"))
        .add_fn("b", managed("b"))
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", END);
    let app4 = compile(g4, rec);
    rec.invoke("managed", &app4, input0(), cfg("t4").limit(3)).await;
}

/// The config of the newest history entry whose `next` is `next`.
async fn locate(app: &CompiledGraph, thread: &str, next: &[&str]) -> RunConfig {
    let hist = app.get_state_history(&cfg(thread), None, None, None).await.expect("history");
    let want: Vec<String> = next.iter().map(|s| s.to_string()).collect();
    let snap = hist.iter().find(|s| s.next == want).expect("checkpoint with that next");
    config_of(&snap.config)
}

pub async fn s25_replay(rec: &mut Rec) {
    let app = compile(chain(&["a", "b", "c"]), rec);
    rec.invoke("invoke", &app, input0(), cfg("t")).await;
    let c = locate(&app, "t", &["b"]).await;
    rec.stream("replay", &app, Input::Resume, c.modes(VU)).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.history("history", &app, cfg("t")).await;
}

pub async fn s26_replay_interrupt(rec: &mut Rec) {
    let g = append(s_graph(), "a")
        .add_fn("ask", asker("ask", json!("q"), "ask="))
        .add_edge(START, "a")
        .add_edge("a", "ask")
        .add_edge("ask", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.stream("resume1", &app, Command::resume(json!("first")), modes("t")).await;
    let c = locate(&app, "t", &["ask"]).await;
    rec.stream("replay", &app, Input::Resume, c.modes(VU)).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.stream("resume2", &app, Command::resume(json!("second")), modes("t")).await;
    rec.get_state("get_state2", &app, cfg("t"), false).await;
    rec.history("history", &app, cfg("t")).await;
}

pub async fn s27_update_past(rec: &mut Rec) {
    let app = compile(chain(&["a", "b", "c"]), rec);
    rec.invoke("invoke", &app, input0(), cfg("t")).await;
    let c = locate(&app, "t", &["b"]).await;
    rec.ok(
        "locate",
        json!({"thread_id": "t", "checkpoint_ns": "", "checkpoint_id": c.checkpoint_id}),
    );
    if let Some(u1) =
        rec.update("update_inferred", &app, c.clone(), Some(json!({"x": 100})), None).await
    {
        rec.get_state("get_state_u1", &app, u1, false).await;
    }
    if let Some(u2) =
        rec.update("update_as_b", &app, c.clone(), Some(json!({"x": 200})), Some("b")).await
    {
        rec.get_state("get_state_u2", &app, u2.clone(), false).await;
        rec.invoke("invoke_from_u2", &app, Input::Resume, u2).await;
    }
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.history("history", &app, cfg("t")).await;
}

pub async fn s28_update_while_interrupted(rec: &mut Rec) {
    let g = append(s_graph(), "after")
        .add_fn("ask", asker("ask", json!("q"), "ask="))
        .add_edge(START, "ask")
        .add_edge("ask", "after")
        .add_edge("after", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), modes("t")).await;
    rec.update("update", &app, cfg("t"), Some(json!({"log": ["manual"]})), Some("ask")).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.history("history", &app, cfg("t")).await;
    rec.stream("resume", &app, Input::Resume, modes("t")).await;
    rec.get_state("get_state2", &app, cfg("t"), false).await;
}

pub async fn s29_update_specials(rec: &mut Rec) {
    let app = compile(chain(&["a", "b", "c"]), rec);
    let app_b = compile_with(chain(&["a", "b", "c"]), rec, &["b"], &[]);
    rec.invoke("t_invoke", &app, input0(), cfg("t")).await;
    let c = locate(&app, "t", &["b"]).await;
    if let Some(r) = rec.update("t_copy", &app, c, None, Some("__copy__")).await {
        rec.get_state("t_get_state", &app, r, false).await;
    }
    rec.invoke("t2_invoke", &app, input0(), cfg("t2")).await;
    let c = locate(&app, "t2", &["b"]).await;
    if let Some(r) = rec.update("t2_end", &app, c, None, Some(END)).await {
        rec.get_state("t2_get_state", &app, r, false).await;
    }
    rec.invoke("t3_invoke", &app_b, input0(), cfg("t3")).await;
    if let Some(r) = rec.update("t3_end", &app_b, cfg("t3"), None, Some(END)).await {
        rec.get_state("t3_get_state", &app_b, r, false).await;
    }
    rec.invoke("t4_invoke", &app_b, input0(), cfg("t4")).await;
    if let Some(r) =
        rec.update("t4_input", &app_b, cfg("t4"), Some(json!({"x": 7})), Some("__input__")).await
    {
        rec.get_state("t4_get_state", &app_b, r, false).await;
    }
    rec.invoke("t5_invoke", &app_b, input0(), cfg("t5")).await;
    if let Some(r) =
        rec.update("t5_start", &app_b, cfg("t5"), Some(json!({"x": 8})), Some(START)).await
    {
        rec.get_state("t5_get_state", &app_b, r, false).await;
    }
    rec.update("t6_fresh", &app, cfg("t6"), Some(json!({"x": 5})), None).await;
    rec.get_state("t6_get_state", &app, cfg("t6"), false).await;
}

pub async fn s30_bulk_update(rec: &mut Rec) {
    let app = compile(chain(&["a", "b", "c"]), rec);
    match app
        .bulk_update_state(
            &cfg("t"),
            vec![
                vec![(Some(json!({"x": 1, "log": ["u1"]})), Some("b".into()))],
                vec![(Some(json!({"log": ["u2"]})), Some("c".into()))],
            ],
        )
        .await
    {
        Ok(c) => rec.ok("bulk", c),
        Err(e) => rec.raised("bulk", &e),
    }
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.history("history", &app, cfg("t")).await;
}

pub async fn s31_new_input_past(rec: &mut Rec) {
    let app = compile(chain(&["a", "b", "c"]), rec);
    rec.invoke("invoke", &app, input0(), cfg("t")).await;
    let c = locate(&app, "t", &["b"]).await;
    rec.stream("stream_at_past", &app, Input::Values(json!({"x": 50})), c.modes(VU)).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.history("history", &app, cfg("t")).await;
}

pub async fn s33_checkpoint_debug_payloads(rec: &mut Rec) {
    use orrery_engine::StreamMode::{Checkpoints, Debug, Tasks};
    let m = |t: &str| cfg(t).modes(&[Checkpoints, Tasks, Debug]);
    let g = append(s_graph(), "a")
        .add_fn("ask", asker("ask", json!("q"), "ask="))
        .add_edge(START, "a")
        .add_edge("a", "ask")
        .add_edge("ask", END);
    let app = compile(g, rec);
    rec.stream("stream", &app, input0(), m("t")).await;
    rec.stream("resume", &app, Command::resume(json!("yes")), m("t")).await;
    let g2 = s_graph()
        .add_fn("boom", |_, _| Err(NodeError::failed("ValueError", "boom")))
        .add_edge(START, "boom")
        .add_edge("boom", END);
    let app2 = compile(g2, rec);
    rec.stream("t2_stream", &app2, input0(), m("t2")).await;
    rec.stream("t2_retry", &app2, Input::Resume, m("t2")).await;
    let app3 = compile_with(chain(&["a", "b"]), rec, &["b"], &[]);
    rec.stream("t3_stream", &app3, input0(), m("t3")).await;
    rec.stream("t3_resume", &app3, Input::Resume, m("t3")).await;
}

pub async fn s35_metadata_merge(rec: &mut Rec) {
    let app = compile(chain(&["a", "b"]), rec);
    let mut c = cfg("t");
    c.configurable = json!({"user_id": "u1", "assistant_id": "as1", "graph_id": "g1", "__secret": "s", "langgraph_auth_user": {"identity": "u1"}})
        .as_object()
        .cloned()
        .unwrap_or_default();
    c.metadata = json!({"run_id": "run-1", "source_tag": "test", "num": 7})
        .as_object()
        .cloned()
        .unwrap_or_default();
    rec.invoke("invoke", &app, input0(), c).await;
    rec.get_state("get_state", &app, cfg("t"), false).await;
    rec.history("history", &app, cfg("t")).await;
}

fn chunk(content: &str, last: bool) -> Value {
    json!({
        "additional_kwargs": {}, "chunk_position": if last { json!("last") } else { Value::Null },
        "content": content, "id": "msg-1", "invalid_tool_calls": [], "name": null,
        "response_metadata": {}, "tool_call_chunks": [], "tool_calls": [],
        "type": "AIMessageChunk", "usage_metadata": null,
    })
}

pub async fn s32_all_stream_modes(rec: &mut Rec) {
    use orrery_engine::StreamMode::*;
    use orrery_engine::messages::message;
    let sm = || s_graph().channel("messages", Reducer::AddMessages);
    let innermost = sm()
        .add_fn("llm", |_, ctx| {
            ctx.write_custom(json!({"custom": "from llm"}));
            let extra = json!({
                "ls_provider": "fake", "ls_model_name": "fake-model", "ls_model_type": "chat",
                "ls_integration": "langchain_chat_model", "lc_versions": {"langchain-core": "1.8.3"},
            });
            let extra = extra.as_object().cloned().unwrap_or_default();
            let parts = ["Hello", " from", " llm"];
            for (i, p) in parts.iter().enumerate() {
                ctx.emit_message_chunk(chunk(p, i + 1 == parts.len()), &extra);
            }
            Ok(json!({"messages": [message("ai", "Hello from llm", Some("msg-1"))], "log": ["llm"]}).into())
        })
        .add_edge(START, "llm")
        .add_edge("llm", END)
        .compile(CompileOptions::default())
        .expect("innermost");
    let middle = sm()
        .add_subgraph("inner", innermost)
        .add_edge(START, "inner")
        .add_edge("inner", END)
        .compile(CompileOptions::default())
        .expect("middle");
    let g = sm()
        .add_fn("prep", |_, _| Ok(json!({"messages": [message("ai", "prep says hi", Some("prep-1"))], "log": ["prep"]}).into()))
        .add_subgraph("sub", middle)
        .add_fn("reply", |_, _| Ok(json!({"log": ["reply"]}).into()))
        .add_edge(START, "prep").add_edge("prep", "sub").add_edge("sub", "reply").add_edge("reply", END);
    let app = compile(g, rec);
    let mut c = cfg("t").modes(&[Values, Updates, Messages, Custom, Tasks, Checkpoints, Debug]);
    c.subgraphs = true;
    let input = json!({"x": 0, "log": [], "messages": [message("human", "hello", Some("h1"))]});
    rec.stream("stream", &app, Input::Values(input), c).await;
}

pub async fn s34_graph_json(rec: &mut Rec) {
    let plain = |g: StateGraph| g.compile(CompileOptions::default()).expect("compile");
    let route = |_: &Value, _: &RunConfig| Ok(vec![Goto::Node("x".into())]);
    let router = append(append(s_graph(), "a"), "b")
        .add_edge(START, "a")
        .add_conditional_edges("a", route, Some(vec![("x", "b"), ("y", END), ("z", "a")]))
        .add_edge("b", END);
    rec.ok("router", plain(router).draw(0));
    let command = s_graph().add_fn_with(
        "a",
        |_, _| Ok(Command::goto("b").into()),
        NodeOptions { ends: vec!["b".into(), "c".into()], ..Default::default() },
    );
    let command = append(append(command, "b"), "c")
        .add_edge(START, "a")
        .add_edge("b", END)
        .add_edge("c", END);
    rec.ok("command", plain(command).draw(0));
    let join = appenders(&["a", "b", "c", "d"]);
    let join = join
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_join(["b", "c"], "d")
        .add_edge("d", END);
    rec.ok("join", plain(join).draw(0));
    let defer = appenders(&["a", "b", "c"]);
    let defer = defer
        .add_fn_with(
            "d",
            |_, _| Ok(json!({"log": ["d"]}).into()),
            NodeOptions { defer: true, ..Default::default() },
        )
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge("b", "d")
        .add_edge("c", "d")
        .add_edge("d", END);
    rec.ok("defer", plain(defer).draw(0));
    let bp = chain(&["a", "b", "c"])
        .compile(CompileOptions {
            interrupt_before: ["b"].into_iter().collect(),
            interrupt_after: ["b", "c"].into_iter().collect(),
            ..Default::default()
        })
        .expect("compile");
    rec.ok("breakpoints", bp.draw(0));
    let no_map = append(append(s_graph(), "a"), "b")
        .add_edge(START, "a")
        .add_conditional_edges(
            "a",
            |_, _| Ok(vec![Goto::Node("b".into())]),
            None::<Vec<(&str, &str)>>,
        )
        .add_edge("b", END);
    rec.ok("no_path_map", plain(no_map).draw(0));
    let mut meta = serde_json::Map::new();
    meta.insert("k".into(), json!("v"));
    let md = s_graph()
        .add_fn_with(
            "a",
            |_, _| Ok(json!({"log": ["a"]}).into()),
            NodeOptions { metadata: meta, ..Default::default() },
        )
        .add_edge(START, "a")
        .add_edge("a", END);
    rec.ok("metadata", plain(md).draw(0));
    let child = append(append(s_graph(), "s1"), "s2")
        .add_edge(START, "s1")
        .add_conditional_edges(
            "s1",
            |_, _| Ok(vec![Goto::Node("s2".into())]),
            Some(vec![("s2", "s2"), (END, END)]),
        )
        .add_edge("s2", END);
    let parent = append(append(s_graph(), "b").add_subgraph("sub", plain(child)), "c")
        .add_edge(START, "b")
        .add_edge("b", "sub")
        .add_edge("sub", "c")
        .add_edge("c", END);
    let parent = plain(parent);
    rec.ok("subgraph", parent.draw(0));
    rec.ok("subgraph_xray", parent.draw(1));
}
