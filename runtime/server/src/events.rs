//! The `events` stream mode: LangChain's `astream_events` (v2) chain events, which the real
//! server passes through. The graph run is the root chain (`on_chain_start` with the run's
//! input, `on_chain_end` with its output); each node task is a child chain (`on_chain_start`
//! with the task's input, `on_chain_stream` and `on_chain_end` with what it wrote), derived from
//! the engine's debug task events (golden `37_runs_stream_events.sse`).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

/// Builds the `events` frames of one run.
pub(crate) struct ChainEvents {
    run_id: String,
    graph: String,
    metadata: Map<String, Value>,
    /// Open node chains by task id: (chain run id, input, metadata, tags).
    open: HashMap<String, (String, Value, Value, Value)>,
}

impl ChainEvents {
    /// The events of run `run_id` of graph `graph`; `metadata` is the run's (config) metadata.
    pub(crate) fn new(
        run_id: &str,
        thread_id: &str,
        graph: &str,
        metadata: &Map<String, Value>,
    ) -> Self {
        let mut metadata = metadata.clone();
        metadata.insert("run_id".into(), json!(run_id));
        metadata.insert("thread_id".into(), json!(thread_id));
        metadata.insert("ls_integration".into(), json!("langgraph"));
        ChainEvents { run_id: run_id.into(), graph: graph.into(), metadata, open: HashMap::new() }
    }

    /// The root chain's start.
    pub(crate) fn start(&self, input: &Value) -> Value {
        json!({
            "event": "on_chain_start",
            "data": {"input": input},
            "name": self.graph,
            "tags": [],
            "run_id": self.run_id,
            "metadata": self.metadata,
            "parent_ids": [],
        })
    }

    /// The root chain's end.
    pub(crate) fn end(&self, output: &Value) -> Value {
        json!({
            "event": "on_chain_end",
            "data": {"output": output},
            "run_id": self.run_id,
            "name": self.graph,
            "tags": [],
            "metadata": self.metadata,
            "parent_ids": [],
        })
    }

    /// The events of one engine debug event (`task` opens a node chain, `task_result` streams
    /// and closes it); `ns` is the subgraph namespace it came from.
    pub(crate) fn on_debug(&mut self, ns: &[String], debug: &Value) -> Vec<Value> {
        let Some(payload) = debug.get("payload") else { return vec![] };
        let (Some(task_id), Some(name)) = (
            payload.get("id").and_then(Value::as_str),
            payload.get("name").and_then(Value::as_str),
        ) else {
            return vec![];
        };
        match debug.get("type").and_then(Value::as_str) {
            Some("task") => {
                let step = debug.get("step").cloned().unwrap_or(Value::Null);
                let mut meta = self.metadata.clone();
                let task_ns = format!("{name}:{task_id}");
                let checkpoint_ns = match ns.join("|") {
                    p if p.is_empty() => task_ns,
                    p => format!("{p}|{task_ns}"),
                };
                meta.insert("langgraph_step".into(), step.clone());
                meta.insert("langgraph_node".into(), json!(name));
                meta.insert(
                    "langgraph_triggers".into(),
                    payload.get("triggers").cloned().unwrap_or_else(|| json!([])),
                );
                meta.insert("langgraph_path".into(), json!(["__pregel_pull", name]));
                meta.insert("langgraph_checkpoint_ns".into(), json!(checkpoint_ns));
                let tags = json!([format!("graph:step:{step}")]);
                let chain_id = uuid::Uuid::now_v7().to_string();
                let input = payload.get("input").cloned().unwrap_or(Value::Null);
                let meta = Value::Object(meta);
                let ev = json!({
                    "event": "on_chain_start",
                    "data": {"input": input},
                    "name": name,
                    "tags": tags,
                    "run_id": chain_id,
                    "metadata": meta,
                    "parent_ids": [self.run_id],
                });
                self.open.insert(task_id.to_string(), (chain_id, input, meta, tags));
                vec![ev]
            }
            Some("task_result") => {
                let Some((chain_id, input, meta, tags)) = self.open.remove(task_id) else {
                    return vec![];
                };
                let failed = payload.get("error").is_some_and(|e| !e.is_null());
                let interrupted = payload
                    .get("interrupts")
                    .and_then(Value::as_array)
                    .is_some_and(|i| !i.is_empty());
                if failed || interrupted {
                    // The chain raised: astream_events ends it without an output.
                    return vec![];
                }
                let output = payload.get("result").cloned().unwrap_or(Value::Null);
                vec![
                    json!({
                        "event": "on_chain_stream",
                        "run_id": chain_id,
                        "name": name,
                        "tags": tags,
                        "metadata": meta,
                        "data": {"chunk": output},
                        "parent_ids": [self.run_id],
                    }),
                    json!({
                        "event": "on_chain_end",
                        "data": {"output": output, "input": input},
                        "run_id": chain_id,
                        "name": name,
                        "tags": tags,
                        "metadata": meta,
                        "parent_ids": [self.run_id],
                    }),
                ]
            }
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_opens_streams_and_closes_a_child_chain_of_the_run() {
        let mut meta = Map::new();
        meta.insert("graph_id".into(), json!("echo"));
        let mut ev = ChainEvents::new("run-1", "thread-1", "echo", &meta);
        let start = ev.start(&json!({"text": "evt"}));
        assert_eq!(
            (start["event"].clone(), start["metadata"]["ls_integration"].clone()),
            (json!("on_chain_start"), json!("langgraph"))
        );
        let task = json!({"step": 1, "type": "task", "payload": {"id": "t1", "name": "echo", "input": {"text": "evt"}, "triggers": ["branch:to:echo"]}});
        let opened = ev.on_debug(&[], &task);
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0]["tags"], json!(["graph:step:1"]));
        assert_eq!(opened[0]["metadata"]["langgraph_checkpoint_ns"], "echo:t1");
        assert_eq!(opened[0]["parent_ids"], json!(["run-1"]));
        let result = json!({"step": 1, "type": "task_result", "payload": {"id": "t1", "name": "echo", "error": null, "result": {"text": "evt", "count": 1}, "interrupts": []}});
        let closed = ev.on_debug(&[], &result);
        let kinds: Vec<&str> = closed.iter().map(|e| e["event"].as_str().unwrap_or("")).collect();
        assert_eq!(kinds, ["on_chain_stream", "on_chain_end"]);
        assert_eq!(closed[0]["run_id"], opened[0]["run_id"]);
        assert_eq!(closed[1]["data"]["input"], json!({"text": "evt"}));
        assert_eq!(closed[1]["data"]["output"], json!({"text": "evt", "count": 1}));
        assert!(ev.on_debug(&[], &result).is_empty(), "a closed chain closes once");
        assert_eq!(ev.end(&json!({"x": 1}))["data"]["output"], json!({"x": 1}));
    }
}
