//! Engine benchmark: the same three graphs as `py_engine_bench.py`, through this engine with its
//! in-memory checkpointer. Prints one JSON line per graph (the median of `--repeats`
//! measurements of `--seconds` each). `run.sh` runs both sides and prints the ratio.
//!
//! usage: cargo bench -p orrery-engine --bench engine -- [--seconds 2] [--repeats 5]

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark that cannot build its graph should stop loudly

use std::sync::Arc;

// The allocator the runtime binary ships with; glibc's malloc spends more than half of a
// super-step consolidating free lists on this workload.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::{Duration, Instant};

use orrery_engine::{
    Checkpointer, CompileOptions, CompiledGraph, END, Goto, InMemorySaver, ListOptions, Reducer,
    RunConfig, START, Send, StateGraph,
};
use serde_json::{Value, json};

/// Builds a benchmark graph and its recursion limit.
type Build = fn() -> (StateGraph, usize);

fn state() -> StateGraph {
    StateGraph::new().channel("x", Reducer::LastValue).channel("log", Reducer::Add)
}

fn x(s: &Value) -> i64 {
    s["x"].as_i64().unwrap_or(0)
}

fn chain10() -> (StateGraph, usize) {
    let mut g = state();
    let mut prev = START.to_string();
    for i in 1..=10 {
        let name = format!("a{i}");
        let n2 = name.clone();
        g = g.add_fn(name.clone(), move |s, _| Ok(json!({"x": x(&s) + 1, "log": [n2]}).into()));
        g = g.add_edge(prev, name.clone());
        prev = name;
    }
    (g.add_edge(prev, END), 25)
}

fn send10() -> (StateGraph, usize) {
    let g = state()
        .add_fn("w", |arg, _| Ok(json!({"log": [arg["i"]]}).into()))
        .add_fn("done", |s, _| {
            Ok(json!({"x": s["log"].as_array().map(Vec::len).unwrap_or(0)}).into())
        })
        .add_conditional_edges(
            START,
            |_, _| Ok((0..10).map(|i| Goto::Send(Send::new("w", json!({"i": i})))).collect()),
            None::<Vec<(&str, &str)>>,
        )
        .add_edge("w", "done")
        .add_edge("done", END);
    (g, 25)
}

fn loop100() -> (StateGraph, usize) {
    let g = state()
        .add_fn("a", |s, _| Ok(json!({"x": x(&s) + 1}).into()))
        .add_fn("b", |_, _| Ok(json!({}).into()))
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_conditional_edges(
            "b",
            |s, _| Ok(vec![Goto::Node(if x(s) < 100 { "a".into() } else { END.into() })]),
            Some(vec![("a", "a"), (END, END)]),
        );
    (g, 1000)
}

struct Measure {
    runs: u64,
    supersteps: u64,
    seconds: f64,
}

async fn measure(build: Build, seconds: f64, ids: &mut u64) -> Measure {
    let saver = Arc::new(InMemorySaver::new());
    let (g, limit) = build();
    let app: CompiledGraph = g
        .compile(CompileOptions { checkpointer: Some(saver.clone()), ..Default::default() })
        .expect("graph compiles");
    let deadline = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut runs = 0;
    let mut threads = Vec::new();
    loop {
        *ids += 1;
        let thread = format!("b{ids}");
        app.invoke(json!({"x": 0, "log": []}), RunConfig::thread(thread.clone()).limit(limit))
            .await
            .expect("run");
        threads.push(thread);
        runs += 1;
        if start.elapsed() >= deadline {
            break;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    // Every run of a graph takes the same steps: count the "loop" checkpoints of the first
    // and last runs (they must agree) and multiply.
    let mut per_run = Vec::new();
    for t in [threads.first(), threads.last()].into_iter().flatten() {
        let all = saver.list(t, &ListOptions::default()).await.expect("list");
        per_run
            .push(all.iter().filter(|c| c.metadata.get("source") == Some(&json!("loop"))).count()
                as u64);
    }
    assert!(per_run.windows(2).all(|w| w[0] == w[1]), "runs differ in steps: {per_run:?}");
    let supersteps = per_run.first().copied().unwrap_or(0) * runs;
    Measure { runs, supersteps, seconds: elapsed }
}

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let seconds = arg("--seconds", 2.0);
    let repeats = arg("--repeats", 5.0) as usize;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let graphs: [(&str, Build); 3] =
        [("chain10", chain10), ("send10", send10), ("loop100", loop100)];
    let only: Option<String> = std::env::args().skip_while(|a| a != "--graphs").nth(1);
    let mut ids = 0;
    for (name, build) in graphs {
        if only.as_ref().is_some_and(|o| !o.split(',').any(|g| g == name)) {
            continue;
        }
        rt.block_on(async {
            measure(build, seconds.min(0.5), &mut ids).await; // warm-up
            let mut results = Vec::new();
            for _ in 0..repeats.max(1) {
                results.push(measure(build, seconds, &mut ids).await);
            }
            let mut rates: Vec<(f64, usize)> = results
                .iter()
                .enumerate()
                .map(|(i, m)| (m.supersteps as f64 / m.seconds, i))
                .collect();
            rates.sort_by(|a, b| a.0.total_cmp(&b.0));
            // The lower median, as Python's statistics.median_low.
            let (rate, i) = rates[(rates.len() - 1) / 2];
            let m = &results[i];
            println!(
                "{}",
                json!({
                    "graph": name, "runs": m.runs, "supersteps": m.supersteps,
                    "seconds": (m.seconds * 1e4).round() / 1e4,
                    "supersteps_per_sec": (rate * 10.0).round() / 10.0,
                    "runs_per_sec": ((m.runs as f64 / m.seconds) * 100.0).round() / 100.0,
                })
            );
            eprintln!(
                "  {name}: supersteps_per_sec per repeat {:?}",
                rates.iter().map(|r| r.0.round()).collect::<Vec<_>>()
            );
        });
    }
}
