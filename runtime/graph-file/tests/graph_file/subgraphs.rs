//! `subgraph` nodes: another graph file run as a subgraph (namespaced checkpoints and stream
//! events), paths relative to the parent file, cycles refused.

use orrery_engine::{RunConfig, StreamMode};
use orrery_graph_file::{Env, load_graph_file};
use serde_json::json;

use super::tools::TempDir;

pub const CHILD: &str = "name: research
state:
  messages: {reducer: messages}
  notes: {reducer: append}
nodes:
  look:
    kind: set
    update: {notes: ['looked at {{ last_user_message }}']}
  answer:
    kind: chat_model
    model: {provider: scripted, rules: [{reply: Found it}]}
edges:
  - {from: __start__, to: look}
  - {from: look, to: answer}
  - {from: answer, to: __end__}
";

pub const PARENT: &str = "name: parent
state:
  messages: {reducer: messages}
  notes: {type: array}
nodes:
  intro: {kind: set, update: {notes: [start]}}
  research: {kind: subgraph, path: ./research/child.yaml, description: Looks things up}
edges:
  - {from: __start__, to: intro}
  - {from: intro, to: research}
  - {from: research, to: __end__}
";

#[tokio::test]
async fn a_graph_file_runs_another_as_a_subgraph() {
    let dir = TempDir::create();
    std::fs::create_dir_all(dir.0.join("research")).unwrap();
    std::fs::write(dir.0.join("research/child.yaml"), CHILD).unwrap();
    std::fs::write(dir.0.join("parent.yaml"), PARENT).unwrap();
    let loaded =
        load_graph_file(&dir.0.join("parent.yaml"), "parent.yaml", &Env::default()).unwrap();
    assert_eq!(loaded.files.len(), 2, "{:?}", loaded.files);
    assert!(loaded.files[1].ends_with("research/child.yaml"));
    let g = crate::in_memory(loaded.graph);
    let mut cfg = RunConfig::thread("t").modes(&[StreamMode::Updates]);
    cfg.subgraphs = true;
    let (events, out) = g.stream(json!({"messages": "hi"}), cfg).await;
    let out = out.unwrap();
    assert_eq!(out.values["notes"], json!(["start", "looked at hi"]));
    assert_eq!(out.values["messages"][1]["content"], "Found it");
    let inner: Vec<String> = events
        .iter()
        .filter(|e| !e.ns.is_empty())
        .flat_map(|e| e.data.as_object().unwrap().keys().cloned().collect::<Vec<_>>())
        .collect();
    assert_eq!(inner, ["look", "answer"]);
    assert!(events.iter().filter(|e| !e.ns.is_empty()).all(|e| e.ns[0].starts_with("research:")));

    // The drawing expands it with xray; its checkpoints have their own namespace.
    let drawn = g.draw(1);
    let ids: Vec<&str> =
        drawn["nodes"].as_array().unwrap().iter().filter_map(|n| n["id"].as_str()).collect();
    assert!(ids.contains(&"research:look") && ids.contains(&"research:answer"), "{ids:?}");
    assert_eq!(g.subgraphs().len(), 1);
    let state = g.get_state(&RunConfig::thread("t"), true).await.unwrap();
    assert_eq!(state.values["notes"], json!(["start", "looked at hi"]));
}

#[test]
fn missing_files_errors_inside_and_cycles_are_named() {
    let dir = TempDir::create();
    std::fs::write(dir.0.join("parent.yaml"), PARENT).unwrap();
    let e =
        load_graph_file(&dir.0.join("parent.yaml"), "parent.yaml", &Env::default()).unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.field.as_str(), e.pos.line),
        ("parent.yaml", "nodes.research.path", 7),
        "{e}"
    );
    assert!(e.message.contains("no such graph file `./research/child.yaml`"), "{e}");

    // An error inside the subgraph's file names that file.
    std::fs::create_dir_all(dir.0.join("research")).unwrap();
    std::fs::write(dir.0.join("research/child.yaml"), CHILD.replace("kind: set", "kind: sett"))
        .unwrap();
    let e = load_graph_file(&dir.0.join("parent.yaml"), "graphs/parent.yaml", &Env::default())
        .unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.field.as_str()),
        ("graphs/research/child.yaml", "nodes.look.kind"),
        "{e}"
    );

    // a -> b -> a.
    let node = |to: &str| {
        format!(
            "state:\n  messages: {{reducer: messages}}\nnodes:\n  inner: {{kind: subgraph, path: ./{to}}}\nedges:\n  - {{from: __start__, to: inner}}\n"
        )
    };
    std::fs::write(dir.0.join("a.yaml"), node("b.yaml")).unwrap();
    std::fs::write(dir.0.join("b.yaml"), node("a.yaml")).unwrap();
    let e = load_graph_file(&dir.0.join("a.yaml"), "a.yaml", &Env::default()).unwrap_err();
    assert_eq!((e.file.as_str(), e.field.as_str()), ("b.yaml", "nodes.inner.path"), "{e}");
    assert!(e.message.contains("cycle: a.yaml -> b.yaml -> a.yaml"), "{e}");
    // A file including itself.
    std::fs::write(dir.0.join("a.yaml"), node("a.yaml")).unwrap();
    let e = load_graph_file(&dir.0.join("a.yaml"), "a.yaml", &Env::default()).unwrap_err();
    assert!(e.message.contains("cycle: a.yaml -> a.yaml"), "{e}");
}
