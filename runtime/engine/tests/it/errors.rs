//! Bad graphs and bad input: refused with errors that name the culprit, never a panic.

use orrery_engine::{CompileOptions, END, Error, Input, NodeOptions, RunConfig, START};
use serde_json::json;

use crate::harness::Rec;
use crate::scenarios::{append, s_graph};

fn compile_err(g: orrery_engine::StateGraph) -> String {
    match g.compile(CompileOptions::default()) {
        Ok(_) => panic!("graph compiled but should not have"),
        Err(Error::InvalidGraph(m)) => m,
        Err(other) => panic!("unexpected error kind: {other:?}"),
    }
}

#[test]
fn edge_to_an_unknown_node_is_named() {
    let m = compile_err(append(s_graph(), "a").add_edge(START, "a").add_edge("a", "ghost"));
    assert!(m.contains("`ghost`"), "{m}");
    let m = compile_err(append(s_graph(), "a").add_edge(START, "a").add_edge("nobody", "a"));
    assert!(m.contains("'nobody'"), "{m}");
}

#[test]
fn a_graph_without_entry_point_is_refused() {
    let m = compile_err(append(s_graph(), "a").add_edge("a", END));
    assert!(m.contains("entrypoint"), "{m}");
}

#[test]
fn duplicate_and_reserved_node_names_are_refused() {
    let m = compile_err(append(append(s_graph(), "a"), "a").add_edge(START, "a"));
    assert!(m.contains("`a` already present"), "{m}");
    let g = s_graph().add_fn(START, |_, _| Ok(json!({}).into())).add_edge(START, END);
    assert!(compile_err(g).contains("`__start__` is reserved"));
    let g = append(s_graph(), "a").add_fn("x:y", |_, _| Ok(json!({}).into())).add_edge(START, "a");
    assert!(compile_err(g).contains("'x:y'"));
}

#[test]
fn unreachable_nodes_are_refused_by_name() {
    let g = append(append(s_graph(), "a"), "island").add_edge(START, "a").add_edge("a", END);
    let m = compile_err(g);
    assert!(m.contains("`island` is not reachable"), "{m}");
    // A declared Command destination makes it reachable.
    let g = s_graph().add_fn_with(
        "a",
        |_, _| Ok(json!({}).into()),
        NodeOptions { ends: vec!["island".into()], ..Default::default() },
    );
    let g = append(g, "island").add_edge(START, "a");
    assert!(g.compile(CompileOptions::default()).is_ok());
}

#[test]
fn unknown_breakpoint_nodes_are_named() {
    let g = append(s_graph(), "a").add_edge(START, "a");
    let err = g
        .compile(CompileOptions {
            interrupt_before: ["nope"].into_iter().collect(),
            ..Default::default()
        })
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("`nope`"), "{err}");
}

#[tokio::test]
async fn a_panicking_node_fails_the_run_not_the_process() {
    let rec = Rec::new();
    let g = s_graph()
        .add_fn("bad", |_, _| -> Result<orrery_engine::NodeOutput, orrery_engine::NodeError> {
            panic!("kaboom")
        })
        .add_edge(START, "bad");
    let app =
        g.compile(CompileOptions { checkpointer: rec.saver(), ..Default::default() }).unwrap();
    let err = app.invoke(json!({"x": 1}), RunConfig::thread("p")).await.unwrap_err();
    assert_eq!(err.kind(), "PanicError");
    assert!(err.to_string().contains("kaboom"));
    // The failure is recorded on the task, and the thread can be inspected afterwards.
    let state = app.get_state(&RunConfig::thread("p"), false).await.unwrap();
    assert_eq!(state.next, vec!["bad".to_string()]);
    assert!(
        state.tasks[0]
            .error
            .as_ref()
            .is_some_and(|e| e.as_str().unwrap_or_default().contains("kaboom"))
    );
}

#[tokio::test]
async fn bad_input_is_an_error() {
    let rec = Rec::new();
    let app = append(s_graph(), "a")
        .add_edge(START, "a")
        .compile(CompileOptions { checkpointer: rec.saver(), ..Default::default() })
        .unwrap();
    let err = app.invoke(Input::Values(json!([1, 2])), RunConfig::thread("t")).await.unwrap_err();
    assert_eq!(err.kind(), "InvalidUpdateError");
    let err = app.invoke(Input::Resume, RunConfig::thread("fresh")).await.unwrap_err();
    assert_eq!(err.kind(), "EmptyInputError");
    let err = app.invoke(json!({"x": 1}), RunConfig::default()).await.unwrap_err();
    assert!(err.to_string().contains("thread_id"), "{err}");
    let err = app
        .invoke(json!({"x": 1}), RunConfig::thread("t").at("not-a-checkpoint"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not-a-checkpoint"), "{err}");
}

#[tokio::test]
async fn history_filters_by_metadata_before_and_limit() {
    let rec = Rec::new();
    let g = append(append(append(s_graph(), "a"), "b"), "c")
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", "c")
        .add_edge("c", END);
    let app =
        g.compile(CompileOptions { checkpointer: rec.saver(), ..Default::default() }).unwrap();
    app.invoke(json!({"x": 0, "log": []}), RunConfig::thread("h")).await.unwrap();
    let cfg = RunConfig::thread("h");
    let all = app.get_state_history(&cfg, None, None, None).await.unwrap();
    let steps: Vec<i64> =
        all.iter().map(|s| s.metadata.as_ref().unwrap()["step"].as_i64().unwrap()).collect();
    assert_eq!(steps, vec![3, 2, 1, 0, -1], "newest first");
    let two = app.get_state_history(&cfg, None, None, Some(2)).await.unwrap();
    assert_eq!(two.len(), 2);
    let before = all[1].config["checkpoint_id"].as_str().unwrap().to_string();
    let older = app.get_state_history(&cfg, None, Some(before), None).await.unwrap();
    assert_eq!(older.len(), 3);
    assert_eq!(older[0].metadata.as_ref().unwrap()["step"], 1);
    let filter = json!({"source": "loop", "step": 1}).as_object().cloned();
    let one = app.get_state_history(&cfg, filter, None, None).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].next, vec!["b".to_string()]);
}
