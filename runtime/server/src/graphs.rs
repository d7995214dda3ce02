//! The graphs a runtime serves, and their system assistants.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use orrery_engine::messages::message;
use orrery_engine::{CompileOptions, CompiledGraph, END, Reducer, START, StateGraph};
use serde_json::{Value, json};

use crate::db::SqlSaver;

/// The namespace LangGraph derives system assistant ids from (`NAMESPACE_GRAPH` in
/// langgraph-api: one digit off `uuid.NAMESPACE_URL`, `6ba7b811-...`).
const NAMESPACE_GRAPH: uuid::Uuid = uuid::uuid!("6ba7b821-9dad-11d1-80b4-00c04fd430c8");

/// The id of a graph's system assistant: `uuid5(NAMESPACE_GRAPH, graph_id)`.
pub fn system_assistant_id(graph_id: &str) -> String {
    uuid::Uuid::new_v5(&NAMESPACE_GRAPH, graph_id.as_bytes()).to_string()
}

/// Graphs by id, compiled with the runtime's checkpointer.
pub struct Registry {
    graphs: BTreeMap<String, CompiledGraph>,
}

impl Registry {
    /// The bundled graphs (used when no `langgraph.json` is given).
    pub fn bundled(saver: SqlSaver) -> Result<Registry, orrery_engine::Error> {
        let saver: Arc<dyn orrery_engine::Checkpointer> = Arc::new(saver);
        let mut graphs = BTreeMap::new();
        let echo = echo_graph().compile(CompileOptions {
            checkpointer: Some(saver),
            name: Some("echo".into()),
            ..Default::default()
        })?;
        graphs.insert("echo".to_string(), echo);
        Ok(Registry { graphs })
    }

    /// A graph by id.
    pub fn get(&self, graph_id: &str) -> Option<&CompiledGraph> {
        self.graphs.get(graph_id)
    }

    /// Graph ids, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.graphs.keys().map(String::as_str)
    }
}

/// The bundled `echo` graph: `messages` with `add_messages`; node `echo` appends an AI message
/// whose content is the last message's content, after `configurable.delay_ms` milliseconds.
pub fn echo_graph() -> StateGraph {
    StateGraph::new()
        .channel("messages", Reducer::AddMessages)
        .add_node("echo", |state: Value, ctx| async move {
            let delay = ctx.configurable("delay_ms").and_then(Value::as_u64).unwrap_or(0);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay.min(3_600_000))).await;
            }
            let last = state["messages"]
                .as_array()
                .and_then(|m| m.last())
                .map(|m| m["content"].clone())
                .unwrap_or_else(|| json!(""));
            let id = format!("run-{}", uuid::Uuid::new_v4());
            Ok(json!({"messages": [message("ai", last, Some(&id))]}).into())
        })
        .add_edge(START, "echo")
        .add_edge("echo", END)
}
