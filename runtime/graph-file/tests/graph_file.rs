//! Graph files: the published schema, compile errors with file/line/field, and the bundled
//! Jarvis graph run on the engine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "graph_file/fake.rs"]
mod fake;
#[path = "graph_file/providers.rs"]
mod providers;
#[path = "graph_file/subgraphs.rs"]
mod subgraphs;
#[path = "graph_file/tools.rs"]
mod tools;

use std::sync::Arc;

use orrery_engine::{Command, CompileOptions, InMemorySaver, RunConfig, StateGraph, StreamMode};
use orrery_graph_file::{Env, FileError, Syntax, compile_text};
use serde_json::{Value, json};

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let path = root().join("assets/schema/graph.schema.json");
    let generated = serde_json::to_string_pretty(&orrery_graph_file::json_schema()).unwrap() + "\n";
    if std::env::var_os("ORRERY_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "assets/schema/graph.schema.json is stale: run `ORRERY_BLESS=1 cargo test -p orrery-graph-file` and commit it"
    );
}

fn compile_err(text: &str) -> FileError {
    match compile_text("g.yaml", text, Syntax::Yaml, &Env::default()) {
        Ok(_) => panic!("compiled"),
        Err(e) => e,
    }
}

const BASE: &str = "state:\n  messages: {reducer: messages}\nnodes:\n  a:\n    kind: set\n    update: {messages: hi}\nedges:\n  - {from: __start__, to: a}\n";

#[test]
fn a_minimal_file_compiles() {
    let g = compile_text("g.yaml", BASE, Syntax::Yaml, &Env::default()).unwrap();
    assert!(g.graph.compile(CompileOptions::default()).is_ok());
}

#[test]
fn unknown_node_kind_names_the_kind_field() {
    let e = compile_err(&BASE.replace("kind: set", "kind: chatbot"));
    assert_eq!(
        (e.file.as_str(), e.pos.line, e.field.as_str()),
        ("g.yaml", 5, "nodes.a.kind"),
        "{e}"
    );
    assert!(e.message.contains("unknown node kind") && e.message.contains("`chat_model`"), "{e}");
    assert!(e.to_string().starts_with("g.yaml:5:5: nodes.a.kind: "), "{e}");
}

#[test]
fn unknown_field_inside_a_node_points_at_it() {
    let e = compile_err(
        &BASE.replace("    update: {messages: hi}\n", "    update: {messages: hi}\n    updte: 1\n"),
    );
    assert_eq!((e.pos.line, e.field.as_str()), (7, "nodes.a.updte"), "{e}");
    assert!(e.message.contains("unknown field `updte`, expected `update`"), "{e}");
}

#[test]
fn edge_to_an_unknown_node() {
    let e = compile_err(&format!("{BASE}  - {{from: a, to: nowhere}}\n"));
    assert_eq!((e.pos.line, e.field.as_str()), (9, "edges[1].to"), "{e}");
    assert!(
        e.message.contains("unknown node `nowhere`") && e.message.contains("a, __start__, __end__"),
        "{e}"
    );
}

#[test]
fn bad_reducer() {
    let e = compile_err(&BASE.replace("reducer: messages", "reducer: concat"));
    assert_eq!((e.pos.line, e.field.as_str()), (2, "state.messages.reducer"), "{e}");
    assert!(
        e.message.contains("unknown variant `concat`") && e.message.contains("`append`"),
        "{e}"
    );
    let e = compile_err(&BASE.replace("{reducer: messages}", "{reducer: sum, type: string}"));
    assert_eq!(e.field, "state.messages.reducer", "{e}");
    assert!(e.message.contains("does not fit type `string`"), "{e}");
}

#[test]
fn yaml_syntax_error() {
    let e = compile_err("state:\n  messages: {reducer: messages\nnodes: {}\n");
    assert_eq!(e.file, "g.yaml");
    assert!(e.pos.line >= 2, "{e}");
    assert!(e.message.starts_with("YAML syntax error"), "{e}");
}

#[test]
fn json_graph_files_work_too() {
    let text = r#"{"state": {"messages": {"reducer": "messages"}},
 "nodes": {"a": {"kind": "set", "update": {"messages": "hi"}}},
 "edges": [{"from": "START", "to": "a"}, {"from": "a", "to": "b"}]}"#;
    let e = compile_text("g.json", text, Syntax::Json, &Env::default()).unwrap_err();
    assert_eq!((e.pos.line, e.field.as_str()), (3, "edges[1].to"), "{e}");
}

#[test]
fn more_mistakes_are_named() {
    let cases: Vec<(String, &str, &str)> = vec![
        (BASE.replace("update: {messages: hi}", "update: {nope: hi}"), "nodes.a.update.nope", "not a state key"),
        (BASE.replace("update: {messages: hi}", "update: {messages: \"{{ stat.x }}\"}"), "nodes.a.update.messages", "must start with one of"),
        (BASE.replace("update: {messages: hi}", "update: {messages: \"{{ state.nope }}\"}"), "nodes.a.update.messages", "no key `nope`"),
        (BASE.replace("to: a}", "to: a}\n  - {from: a, to: __start__}"), "edges[1].to", "cannot lead to __start__"),
        (BASE.replace("  - {from: __start__, to: a}\n", "  - {from: a, to: __end__}\n"), "edges", "no edge leaves __start__"),
        (BASE.replace("    kind: set\n    update: {messages: hi}", "    kind: chat_model\n    model: {provider: gemini}"), "nodes.a.model.provider", "unknown model provider"),
        (BASE.replace("    kind: set\n    update: {messages: hi}", "    kind: chat_model\n    model: {provider: openai}"), "nodes.a.model", "missing field `model`"),
        (BASE.replace("    kind: set\n    update: {messages: hi}", "    kind: chat_model\n    tools: [fly]\n    model: {provider: scripted}"), "nodes.a.tools[0]", "unknown tool `fly`"),
        (BASE.replace("    kind: set\n    update: {messages: hi}", "    kind: chat_model\n    model: {provider: scripted, rules: [{reply: x, tool_calls: [{name: echo}]}]}"), "nodes.a.model.rules[0].tool_calls[0].name", "not one of this node's tools"),
        (BASE.replace("    kind: set\n    update: {messages: hi}", "    kind: chat_model\n    model: {provider: scripted, rules: [{whenn: {}}]}"), "nodes.a.model.rules[0].whenn", "unknown field"),
        (BASE.replace("    kind: set\n    update: {messages: hi}", "    kind: chat_model\n    model: {provider: scripted, api_key: {env: NOPE_KEY}}"), "nodes.a.model.api_key.env", "no `NOPE_KEY`"),
        (format!("{BASE}conditional_edges:\n  - {{from: a, condition: has_tool_calls}}\n"), "conditional_edges[0].routes", "needs `routes`"),
        (format!("{BASE}conditional_edges:\n  - {{from: a, condition: maybe, routes: {{x: a}}}}\n"), "conditional_edges[0].condition", "unknown variant `maybe`"),
        (format!("{BASE}configurable:\n  n: {{type: integer, default: two}}\n"), "configurable.n.default", "expected a integer default"),
    ];
    for (text, field, msg) in cases {
        let e = compile_err(&text);
        assert_eq!(e.field, field, "{e}\n---\n{text}");
        assert!(e.message.contains(msg), "{e}");
    }
}

fn jarvis() -> orrery_engine::CompiledGraph {
    let g = compile_text(
        orrery_graph_file::JARVIS_FILE,
        orrery_graph_file::JARVIS_YAML,
        Syntax::Yaml,
        &Env::default(),
    )
    .unwrap();
    in_memory(g.graph)
}

/// A graph compiled with an in-memory checkpointer.
fn in_memory(graph: StateGraph) -> orrery_engine::CompiledGraph {
    graph
        .compile(CompileOptions {
            checkpointer: Some(Arc::new(InMemorySaver::new())),
            ..Default::default()
        })
        .unwrap()
}

fn last_content(v: &Value) -> String {
    v["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn jarvis_asks_before_creating_a_ticket() {
    let g = jarvis();
    let cfg = RunConfig::thread("t1").modes(&[StreamMode::Messages]);
    let (events, out) = g
        .stream(
            json!({"messages": [{"role": "user", "content": "The printer on floor 3 is jammed"}]}),
            cfg.clone(),
        )
        .await;
    let out = out.unwrap();
    assert_eq!(out.interrupts.len(), 1, "{:?}", out.values);
    assert_eq!(out.interrupts[0].value["action"], "create_ticket");
    assert_eq!(out.interrupts[0].value["args"]["requester"], "priya@acme.com");
    let tokens: Vec<&str> = events
        .iter()
        .filter(|e| e.mode == StreamMode::Messages)
        .filter_map(|e| e.data[0]["content"].as_str())
        .filter(|c| !c.is_empty())
        .collect();
    assert!(tokens.len() > 3, "token chunks: {tokens:?}");
    let (_, out) = g.stream(Command::resume(json!({"approved": true})), cfg.clone()).await;
    let out = out.unwrap();
    assert!(out.interrupts.is_empty());
    let answer = last_content(&out.values);
    assert!(answer.starts_with("Done: ticket HD-"), "{answer}");

    // Declined: Jarvis says so and no ticket is created.
    let (_, out) = g
        .stream(
            json!({"messages": [{"role": "user", "content": "My laptop is broken"}]}),
            cfg.clone(),
        )
        .await;
    assert_eq!(out.unwrap().interrupts.len(), 1);
    // No `approved` in this answer: the earlier approval must not carry over.
    let (_, out) = g.stream(Command::resume(json!({"comment": "not now"})), cfg).await;
    let values = out.unwrap().values;
    assert_eq!(last_content(&values), "OK, I did not open a ticket. Anything else I can do?");
    let msgs = values["messages"].as_array().unwrap();
    let refusal = &msgs[msgs.len() - 2];
    assert_eq!(
        (refusal["type"].as_str(), refusal["status"].as_str()),
        (Some("tool"), Some("error"))
    );
    assert!(refusal["content"].as_str().unwrap().contains("not now"));
}

#[tokio::test]
async fn jarvis_speaks_spanish_with_the_spanish_prompt() {
    let g = jarvis();
    let loaded =
        compile_text("j.yaml", orrery_graph_file::JARVIS_YAML, Syntax::Yaml, &Env::default())
            .unwrap();
    let spanish = &loaded.assistants[0];
    assert_eq!(spanish.name, "jarvis-spanish");
    let mut cfg = RunConfig::thread("t2");
    cfg.configurable = spanish.configurable.clone();
    let out =
        g.invoke(json!({"messages": [{"role": "user", "content": "hola"}]}), cfg).await.unwrap();
    assert!(
        last_content(&out.values).starts_with("¡Hola! Soy Jarvis"),
        "{}",
        last_content(&out.values)
    );
    assert_eq!(loaded.config_schema["properties"]["user_email"]["default"], "priya@acme.com");
    // The drawing tells the node kinds apart.
    let drawn = g.draw(0);
    let agent = drawn["nodes"].as_array().unwrap().iter().find(|n| n["id"] == "agent").unwrap();
    assert_eq!(agent["metadata"]["kind"], "chat_model", "{agent}");
    assert_eq!(agent["metadata"]["tools"], json!(["lookup_user", "create_ticket"]));
    let approve = drawn["nodes"].as_array().unwrap().iter().find(|n| n["id"] == "approve").unwrap();
    assert_eq!(approve["metadata"]["kind"], "interrupt");
}
