//! Records a scenario run in the oracle's JSON shape and compares it with its fixture.

use std::path::PathBuf;
use std::sync::Arc;

use orrery_engine::{
    Checkpointer, CompiledGraph, Error, InMemorySaver, Input, ListOptions, RunConfig,
    StateSnapshot, StreamEvent, StreamMode,
};
use serde_json::{Map, Value, json};

use crate::normalize::{canonical, normalize};

/// Python's `str()` of the exception the engine error stands for.
pub fn py_error(e: &Error) -> Value {
    let kind = e.kind().to_string();
    let mut msg = e.to_string();
    if kind == "KeyError" {
        msg = format!("'{msg}'");
    }
    let msg: String = msg.chars().take(300).collect();
    json!({"error": kind, "message": msg})
}

/// Converts engine-internal JSON (Sends) to the oracle's shapes.
pub fn oracle_json(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            if m.len() == 1
                && let Some(s) = m.get("__send__")
            {
                return json!({"send": s["node"], "arg": oracle_json(&s["arg"])});
            }
            Value::Object(m.iter().map(|(k, x)| (k.clone(), oracle_json(x))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(oracle_json).collect()),
        other => other.clone(),
    }
}

pub fn snapshot_json(s: &StateSnapshot) -> Value {
    let tasks: Vec<Value> = s
        .tasks
        .iter()
        .map(|t| {
            let state = match &t.state {
                None => Value::Null,
                Some(v) if v.get("values").is_some() => snapshot_value_json(v),
                Some(v) => v.clone(),
            };
            json!({
                "id": t.id, "name": t.name, "path": t.path, "error": t.error,
                "interrupts": t.interrupts.iter().map(|i| json!({"id": i.id, "value": i.value})).collect::<Vec<_>>(),
                "result": t.result, "state": state,
            })
        })
        .collect();
    oracle_json(&json!({
        "values": s.values,
        "next": s.next,
        "config": s.config,
        "metadata": s.metadata,
        "parent": s.parent_config,
        "tasks": tasks,
        "interrupts": s.interrupts.iter().map(|i| json!({"id": i.id, "value": i.value})).collect::<Vec<_>>(),
    }))
}

/// A nested snapshot given as `StateSnapshot::to_value()` JSON.
fn snapshot_value_json(v: &Value) -> Value {
    let tasks: Vec<Value> = v["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            let state = match &t["state"] {
                s if s.get("values").is_some() => snapshot_value_json(s),
                s => s.clone(),
            };
            json!({"id": t["id"], "name": t["name"], "path": t["path"], "error": t["error"],
                   "interrupts": t["interrupts"], "result": t["result"], "state": state})
        })
        .collect();
    json!({"values": v["values"], "next": v["next"], "config": v["config"], "metadata": v["metadata"],
           "parent": v["parent_config"], "tasks": tasks, "interrupts": v["interrupts"]})
}

pub struct Rec {
    pub saver: Arc<InMemorySaver>,
    pub ops: Vec<Value>,
}

pub fn cfg(thread: &str) -> RunConfig {
    RunConfig::thread(thread)
}

pub const VU: &[StreamMode] = &[StreamMode::Values, StreamMode::Updates];

impl Rec {
    pub fn new() -> Rec {
        Rec { saver: Arc::new(InMemorySaver::new()), ops: Vec::new() }
    }

    pub fn saver(&self) -> Option<Arc<dyn Checkpointer>> {
        Some(self.saver.clone() as Arc<dyn Checkpointer>)
    }

    pub fn ok(&mut self, op: &str, result: Value) {
        self.ops.push(json!({"op": op, "result": oracle_json(&result)}));
    }

    pub fn raised(&mut self, op: &str, e: &Error) {
        self.ops.push(json!({"op": op, "raised": py_error(e)}));
    }

    pub async fn stream(
        &mut self,
        op: &str,
        g: &CompiledGraph,
        input: impl Into<Input>,
        config: RunConfig,
    ) {
        let subgraphs = config.subgraphs;
        let (events, res) = g.stream(input, config).await;
        let items: Vec<Value> = events.iter().map(|e| event_json(e, subgraphs)).collect();
        match res {
            Ok(_) => self.ok(op, Value::Array(items)),
            Err(e) => {
                self.ops.push(json!({"op": op, "raised": py_error(&e), "result": oracle_json(&Value::Array(items))}));
            }
        }
    }

    pub async fn invoke(
        &mut self,
        op: &str,
        g: &CompiledGraph,
        input: impl Into<Input>,
        config: RunConfig,
    ) -> Option<Value> {
        match g.invoke(input, config).await {
            Ok(out) => {
                self.ok(op, out.values.clone());
                Some(out.values)
            }
            Err(e) => {
                self.raised(op, &e);
                None
            }
        }
    }

    pub async fn get_state(
        &mut self,
        op: &str,
        g: &CompiledGraph,
        config: RunConfig,
        subgraphs: bool,
    ) -> Option<StateSnapshot> {
        match g.get_state(&config, subgraphs).await {
            Ok(s) => {
                self.ok(op, snapshot_json(&s));
                Some(s)
            }
            Err(e) => {
                self.raised(op, &e);
                None
            }
        }
    }

    pub async fn history(
        &mut self,
        op: &str,
        g: &CompiledGraph,
        config: RunConfig,
    ) -> Vec<StateSnapshot> {
        match g.get_state_history(&config, None, None, None).await {
            Ok(h) => {
                self.ok(op, Value::Array(h.iter().map(snapshot_json).collect()));
                h
            }
            Err(e) => {
                self.raised(op, &e);
                Vec::new()
            }
        }
    }

    pub async fn update(
        &mut self,
        op: &str,
        g: &CompiledGraph,
        config: RunConfig,
        values: Option<Value>,
        as_node: Option<&str>,
    ) -> Option<RunConfig> {
        match g.update_state(&config, values, as_node).await {
            Ok(c) => {
                self.ok(op, c.clone());
                Some(config_of(&c))
            }
            Err(e) => {
                self.raised(op, &e);
                None
            }
        }
    }

    /// The recorded document: ops plus every checkpoint of every thread.
    pub async fn finish(self) -> Value {
        let mut threads = Map::new();
        let all = self.saver.list_threads();
        for t in all {
            let tuples = self.saver.list(&t, &ListOptions::default()).await.unwrap_or_default();
            let mut recs: Vec<Value> = tuples
                .into_iter()
                .map(|t| {
                    json!({
                        "ns": t.config.checkpoint_ns,
                        "id": t.checkpoint.id,
                        "parent": t.parent.map(|p| p.checkpoint_id),
                        "metadata": t.metadata,
                        "channel_values": oracle_json(&Value::Object(t.checkpoint.channel_values)),
                        "channel_versions": t.checkpoint.channel_versions,
                        "versions_seen": t.checkpoint.versions_seen,
                        "updated_channels": t.checkpoint.updated_channels,
                        "pending_writes": t.pending_writes.iter().map(|w| json!([w.task_id, w.channel, oracle_json(&w.value)])).collect::<Vec<_>>(),
                    })
                })
                .collect();
            recs.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
            threads.insert(t, Value::Array(recs));
        }
        json!({"ops": self.ops, "checkpoints": threads})
    }
}

/// A `RunConfig` from a snapshot/update config value.
pub fn config_of(c: &Value) -> RunConfig {
    let mut r = RunConfig::thread(c["thread_id"].as_str().unwrap_or_default());
    r.checkpoint_ns = c["checkpoint_ns"].as_str().unwrap_or_default().to_string();
    r.checkpoint_id = c["checkpoint_id"].as_str().map(str::to_string);
    r
}

pub fn event_json(e: &StreamEvent, subgraphs: bool) -> Value {
    if subgraphs {
        json!([e.ns, e.mode.as_str(), e.data])
    } else {
        json!([e.mode.as_str(), e.data])
    }
}

fn is_barrier_event(item: &Value) -> bool {
    let arr = item.as_array().cloned().unwrap_or_default();
    let (mode, data) = if arr.len() == 3 { (&arr[1], &arr[2]) } else { (&arr[0], &arr[1]) };
    match mode.as_str() {
        Some("values") | Some("checkpoints") => true,
        Some("debug") => data["type"] == "checkpoint",
        _ => false,
    }
}

/// Within a step, completion order is not semantic: sort runs of non-barrier stream events;
/// pending writes are compared as a multiset.
fn canonicalize(doc: &mut Value) {
    if let Some(ops) = doc.get_mut("ops").and_then(Value::as_array_mut) {
        for op in ops.iter_mut() {
            if let Some(Value::Array(items)) = op.get_mut("result") {
                let is_stream = !items.is_empty()
                    && items.iter().all(|i| {
                        i.as_array().is_some_and(|a| {
                            (a.len() == 2 || a.len() == 3)
                                && a.iter().any(|x| {
                                    x.as_str().is_some_and(|m| StreamMode::parse(m).is_some())
                                })
                        })
                    });
                if is_stream {
                    let mut out = Vec::new();
                    let mut run: Vec<Value> = Vec::new();
                    for it in items.drain(..) {
                        if is_barrier_event(&it) {
                            run.sort_by_key(canonical);
                            out.append(&mut run);
                            out.push(it);
                        } else {
                            run.push(it);
                        }
                    }
                    run.sort_by_key(canonical);
                    out.append(&mut run);
                    *items = out;
                }
            }
        }
    }
    if let Some(threads) = doc.get_mut("checkpoints").and_then(Value::as_object_mut) {
        for recs in threads.values_mut() {
            for r in recs.as_array_mut().into_iter().flatten() {
                if let Some(Value::Array(w)) = r.get_mut("pending_writes") {
                    w.sort_by_key(canonical);
                }
            }
        }
    }
}

/// The first difference between two JSON values, as a path and both sides.
pub fn first_diff(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => {
                        if let Some(d) = first_diff(&p, u, v) {
                            return Some(d);
                        }
                    }
                    (u, v) => return Some(format!("{p}: ours={} expected={}", short(u), short(v))),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (u, v)) in x.iter().zip(y.iter()).enumerate() {
                if let Some(d) = first_diff(&format!("{path}[{i}]"), u, v) {
                    return Some(d);
                }
            }
            if x.len() != y.len() {
                return Some(format!(
                    "{path}: length ours={} expected={}; extra: {}",
                    x.len(),
                    y.len(),
                    if x.len() > y.len() { short(x.get(y.len())) } else { short(y.get(x.len())) }
                ));
            }
            None
        }
        _ if a == b => None,
        _ => Some(format!("{path}: ours={} expected={}", short(Some(a)), short(Some(b)))),
    }
}

fn short(v: Option<&Value>) -> String {
    let s = v.map(|v| v.to_string()).unwrap_or_else(|| "<absent>".into());
    if s.len() > 600 { format!("{}…", &s[..600]) } else { s }
}

pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compares a recorded run with its fixture; `Err` carries the first difference.
pub fn compare(name: &str, raw: Value) -> Result<(), String> {
    let expected = fixture(name);
    let mut ours = normalize(raw);
    let mut want = json!({"ops": expected["ops"], "checkpoints": expected["checkpoints"]});
    canonicalize(&mut ours);
    canonicalize(&mut want);
    if std::env::var("ORRERY_DUMP").is_ok() {
        let dir = std::env::temp_dir().join("orrery-oracle");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(
            dir.join(format!("{name}.ours.json")),
            serde_json::to_string_pretty(&ours).unwrap_or_default(),
        );
        let _ = std::fs::write(
            dir.join(format!("{name}.want.json")),
            serde_json::to_string_pretty(&want).unwrap_or_default(),
        );
    }
    match first_diff("", &ours, &want) {
        None => Ok(()),
        Some(d) => Err(d),
    }
}
