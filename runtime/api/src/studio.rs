//! What the Studio's thread view derives from the API, kept here (serde only) so it is
//! unit-tested natively and run by the UI in wasm:
//!
//! - [`LiveRun`]: a streamed run folded event by event (`metadata`, `debug`, `updates`,
//!   `messages` tuples, `values`, `error`): the nodes lit in order, the running ones, each node's
//!   last update, the messages as their tokens arrive, the interrupts it stopped at;
//! - [`diff`]: what changed between two states (a checkpoint against its parent);
//! - [`lanes`]: the checkpoint timeline as branches (forks beside the current line).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::StreamPart;

/// Where a streamed run is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RunPhase {
    /// Asked for; the server has not answered yet.
    #[default]
    Starting,
    /// Events are arriving.
    Streaming,
    /// The stream ended normally.
    Done,
    /// The run stopped at an `interrupt()` or a breakpoint; it waits for a resume.
    Interrupted,
    /// The run failed (the error is in [`LiveRun::error`]).
    Failed,
    /// The user cancelled it.
    Cancelled,
}

impl RunPhase {
    /// The word shown (and the CSS class).
    pub fn as_str(&self) -> &'static str {
        match self {
            RunPhase::Starting => "starting",
            RunPhase::Streaming => "streaming",
            RunPhase::Done => "done",
            RunPhase::Interrupted => "interrupted",
            RunPhase::Failed => "failed",
            RunPhase::Cancelled => "cancelled",
        }
    }

    /// Whether the run may still send events.
    pub fn in_flight(&self) -> bool {
        matches!(self, RunPhase::Starting | RunPhase::Streaming)
    }
}

/// How many events a run's log keeps (a longer run keeps its first ones and counts the rest in
/// [`LiveRun::events`]).
pub const LOG_LIMIT: usize = 5000;

/// One event of a run's log.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    /// Milliseconds since the run was asked for (0 when the caller keeps no clock).
    pub at_ms: f64,
    /// The event name (`updates`, `messages`, `debug`, `values|child:1`...).
    pub event: String,
    /// Its payload.
    pub data: Value,
}

/// A run's event log: its events as they arrived, the first [`LOG_LIMIT`] of them. Kept apart
/// from [`LiveRun`] (which views clone as it changes) so a long run's log is not copied with
/// every event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventLog {
    /// The events kept, in order.
    pub events: Vec<LoggedEvent>,
    /// How many arrived after the log was full.
    pub dropped: usize,
}

impl EventLog {
    /// Records an event that arrived `at_ms` milliseconds after the run was asked for.
    pub fn push(&mut self, part: &StreamPart, at_ms: f64) {
        if self.events.len() < LOG_LIMIT {
            self.events.push(LoggedEvent {
                at_ms,
                event: part.event.clone(),
                data: part.data.clone(),
            });
        } else {
            self.dropped += 1;
        }
    }
}

/// A run as its stream told it so far.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveRun {
    /// From the `metadata` event.
    pub run_id: Option<String>,
    /// Where it is.
    pub phase: RunPhase,
    /// Every node start in order (a node that runs twice appears twice).
    pub lit: Vec<String>,
    /// The nodes running now.
    pub active: Vec<String>,
    /// Each node's last update (`updates` events), by node name.
    pub updates: BTreeMap<String, Value>,
    /// The messages the run produced, in order, assembled from token chunks.
    pub messages: Vec<Value>,
    /// The interrupts it stopped at (`{value, id}` objects).
    pub interrupts: Vec<Value>,
    /// The last `values` event.
    pub values: Option<Value>,
    /// What failed, in the server's words.
    pub error: Option<String>,
    /// How many events arrived.
    pub events: usize,
    /// The user asked to cancel it; the stream's end then means it was cancelled.
    pub cancelling: bool,
    /// It stopped at a breakpoint (`interrupt_before` / `interrupt_after`, step mode): an
    /// `__interrupt__` update with no interrupt in it.
    pub paused: bool,
    /// Task starts came from `debug` events, so `updates` do not light nodes again.
    saw_tasks: bool,
    /// Accumulated `args` text of tool call chunks, by message id and chunk index.
    partial_args: HashMap<(String, u64), String>,
}

impl LiveRun {
    /// A run that was just asked for.
    pub fn new() -> LiveRun {
        LiveRun::default()
    }

    /// Folds one stream event in.
    pub fn apply(&mut self, part: &StreamPart) {
        self.events += 1;
        if self.phase == RunPhase::Starting {
            self.phase = RunPhase::Streaming;
        }
        // Subgraph events (`updates|ns`) are not this graph's nodes.
        let (event, ns) = match part.event.split_once('|') {
            Some((e, ns)) => (e, Some(ns)),
            None => (part.event.as_str(), None),
        };
        match event {
            "metadata" => {
                if let Some(id) = part.data.get("run_id").and_then(Value::as_str) {
                    self.run_id = Some(id.to_string());
                }
            }
            "debug" if ns.is_none() => self.debug(&part.data),
            "updates" if ns.is_none() => self.update(&part.data),
            "messages" => self.message(&part.data),
            "values" if ns.is_none() => {
                if let Some(ints) = part.data.get("__interrupt__").and_then(Value::as_array) {
                    self.interrupts = ints.clone();
                }
                self.values = Some(part.data.clone());
            }
            "error" => {
                let text = |k: &str| part.data.get(k).and_then(Value::as_str).map(str::to_string);
                let message = match (text("error"), text("message")) {
                    (Some(e), Some(m)) if !m.is_empty() => format!("{e}: {m}"),
                    (_, Some(m)) if !m.is_empty() => m,
                    (Some(e), _) => e,
                    _ => part.data.to_string(),
                };
                self.error = Some(message);
                // A cancelled run may end with an error event; it stays cancelled.
                if self.phase != RunPhase::Cancelled && !self.cancelling {
                    self.phase = RunPhase::Failed;
                }
                self.active.clear();
            }
            _ => {}
        }
    }

    /// The stream ended (the server closed it).
    pub fn finish(&mut self) {
        self.active.clear();
        if self.phase.in_flight() {
            self.phase = if self.cancelling {
                RunPhase::Cancelled
            } else if self.interrupts.is_empty() && !self.paused {
                RunPhase::Done
            } else {
                RunPhase::Interrupted
            };
        }
    }

    /// The stream could not start or broke.
    pub fn fail(&mut self, error: String) {
        self.active.clear();
        self.error = Some(error);
        self.phase = RunPhase::Failed;
    }

    /// The user asked to cancel the run: it counts as cancelled from now on, whether its
    /// stream ends before or after the server confirms.
    pub fn cancel(&mut self) {
        if self.phase.in_flight() {
            self.cancelling = true;
        }
    }

    /// The server confirmed the cancellation.
    pub fn cancelled(&mut self) {
        self.active.clear();
        if self.phase.in_flight() {
            self.phase = RunPhase::Cancelled;
        }
    }

    fn light(&mut self, node: &str) {
        self.lit.push(node.to_string());
        if !self.active.iter().any(|n| n == node) {
            self.active.push(node.to_string());
        }
    }

    fn debug(&mut self, data: &Value) {
        let kind = data.get("type").and_then(Value::as_str).unwrap_or("");
        let payload = data.get("payload").unwrap_or(&Value::Null);
        let Some(name) = payload.get("name").and_then(Value::as_str) else { return };
        match kind {
            "task" => {
                self.saw_tasks = true;
                self.light(name);
            }
            "task_result" => {
                self.active.retain(|n| n != name);
                let ints = payload.get("interrupts").and_then(Value::as_array);
                if let Some(ints) = ints.filter(|l| !l.is_empty()) {
                    self.interrupts = ints.clone();
                }
            }
            _ => {}
        }
    }

    fn update(&mut self, data: &Value) {
        let Some(map) = data.as_object() else { return };
        for (node, update) in map {
            if node == "__interrupt__" {
                match update.as_array() {
                    Some(ints) if !ints.is_empty() => self.interrupts = ints.clone(),
                    // A breakpoint stops the run without an interrupt value.
                    _ => self.paused = true,
                }
                self.active.clear();
                continue;
            }
            if !self.saw_tasks {
                // Without task events, an update is the only sign a node ran.
                self.lit.push(node.clone());
                self.active.clear();
            }
            self.updates.insert(node.clone(), update.clone());
        }
    }

    /// A `messages` (messages-tuple) event: `[message or chunk, metadata]`.
    fn message(&mut self, data: &Value) {
        let Some(msg) = data.get(0).filter(|m| m.is_object()) else { return };
        let id = msg.get("id").and_then(Value::as_str).map(str::to_string);
        let kind = msg.get("type").and_then(Value::as_str).unwrap_or("");
        let at = id.as_ref().and_then(|id| {
            self.messages.iter().position(|m| m.get("id").and_then(Value::as_str) == Some(id))
        });
        if !kind.ends_with("Chunk") {
            match at {
                Some(i) => self.messages[i] = msg.clone(),
                None => self.messages.push(msg.clone()),
            }
            return;
        }
        let i = match at {
            Some(i) => i,
            None => {
                let mut fresh = Map::new();
                fresh.insert("type".into(), Value::String("ai".into()));
                fresh.insert("content".into(), Value::String(String::new()));
                fresh.insert("tool_calls".into(), Value::Array(Vec::new()));
                if let Some(id) = &id {
                    fresh.insert("id".into(), Value::String(id.clone()));
                }
                for k in ["name", "response_metadata"] {
                    if let Some(v) = msg.get(k) {
                        fresh.insert(k.into(), v.clone());
                    }
                }
                self.messages.push(Value::Object(fresh));
                self.messages.len() - 1
            }
        };
        let key = id.unwrap_or_default();
        let text = text_of(msg.get("content"));
        let Some(target) = self.messages[i].as_object_mut() else { return };
        if !text.is_empty() {
            let before = target.get("content").and_then(Value::as_str).unwrap_or("").to_string();
            target.insert("content".into(), Value::String(before + &text));
        }
        let calls = target.entry("tool_calls").or_insert_with(|| Value::Array(Vec::new()));
        let Some(calls) = calls.as_array_mut() else { return };
        // Whole tool calls when the chunk has them; else the chunks' pieces.
        let whole = msg.get("tool_calls").and_then(Value::as_array).filter(|l| !l.is_empty());
        if let Some(whole) = whole {
            for c in whole {
                let cid = c.get("id").and_then(Value::as_str);
                match calls
                    .iter_mut()
                    .find(|x| cid.is_some() && x.get("id").and_then(Value::as_str) == cid)
                {
                    Some(slot) => *slot = c.clone(),
                    None => calls.push(c.clone()),
                }
            }
            return;
        }
        for c in msg.get("tool_call_chunks").and_then(Value::as_array).into_iter().flatten() {
            let index = c.get("index").and_then(Value::as_u64).unwrap_or(0);
            let piece = c.get("args").and_then(Value::as_str).unwrap_or("");
            let args = self.partial_args.entry((key.clone(), index)).or_default();
            args.push_str(piece);
            let parsed = serde_json::from_str::<Value>(args).unwrap_or(Value::String(args.clone()));
            // Indices are small; a silly one is clamped rather than allocated.
            let slot = usize::try_from(index).unwrap_or(usize::MAX).min(63);
            while calls.len() <= slot {
                calls.push(Value::Null);
            }
            let call = &mut calls[slot];
            if !call.is_object() {
                *call = Value::Object(Map::new());
            }
            if let Some(o) = call.as_object_mut() {
                for k in ["name", "id"] {
                    if let Some(v) = c.get(k).filter(|v| !v.is_null()) {
                        o.insert(k.into(), v.clone());
                    }
                }
                o.insert("args".into(), parsed);
            }
        }
        calls.retain(|c| !c.is_null());
    }

    /// The newest update of `node`.
    pub fn last_update(&self, node: &str) -> Option<&Value> {
        self.updates.get(node)
    }

    /// `lit` as one comma-separated line (what the UI puts in a data attribute).
    pub fn lit_line(&self) -> String {
        self.lit.join(",")
    }
}

/// The text of a message's content: a string, or its text blocks.
fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| match b {
                Value::String(s) => Some(s.as_str()),
                other => other.get("text").and_then(Value::as_str),
            })
            .collect(),
        _ => String::new(),
    }
}

/// One difference between two JSON values.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Where: `messages[3].content`, `approval.approved`; empty for the root.
    pub path: String,
    /// The value before (`None`: added).
    pub old: Option<Value>,
    /// The value after (`None`: removed).
    pub new: Option<Value>,
}

impl Change {
    /// `added`, `removed` or `changed`.
    pub fn kind(&self) -> &'static str {
        match (&self.old, &self.new) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "changed",
        }
    }
}

/// What changed from `old` to `new`: objects key by key, arrays item by item (a longer array's
/// extra items are added), anything else as a whole.
pub fn diff(old: &Value, new: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    diff_into(String::new(), old, new, &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn diff_into(path: String, old: &Value, new: &Value, out: &mut Vec<Change>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    Some(vb) => diff_into(join(&path, k), va, vb, out),
                    None => {
                        out.push(Change { path: join(&path, k), old: Some(va.clone()), new: None })
                    }
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    out.push(Change { path: join(&path, k), old: None, new: Some(vb.clone()) });
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                let p = format!("{path}[{i}]");
                match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => diff_into(p, x, y, out),
                    (Some(x), None) => {
                        out.push(Change { path: p, old: Some(x.clone()), new: None })
                    }
                    (None, Some(y)) => {
                        out.push(Change { path: p, old: None, new: Some(y.clone()) })
                    }
                    (None, None) => {}
                }
            }
        }
        _ => out.push(Change { path, old: Some(old.clone()), new: Some(new.clone()) }),
    }
}

/// A checkpoint's place in the timeline drawn as branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lane {
    /// 0 for the line that leads to the current checkpoint, 1, 2... for other branches.
    pub lane: usize,
    /// The first (oldest) checkpoint of a side branch: it forks off its parent.
    pub fork: bool,
}

/// Branches of a checkpoint list (newest first, `(id, parent id)`): the line from `head` (the
/// thread's current checkpoint; the newest when `None` or unknown) back to the root is lane 0;
/// every other checkpoint gets the lane of its branch, a branch being the checkpoints between
/// a tip and the first ancestor already placed. Lanes are numbered newest branch first.
pub fn lanes(list: &[(String, Option<String>)], head: Option<&str>) -> Vec<Lane> {
    let index: HashMap<&str, usize> =
        list.iter().enumerate().map(|(i, (id, _))| (id.as_str(), i)).collect();
    let mut out: Vec<Option<Lane>> = vec![None; list.len()];
    let start = head.and_then(|h| index.get(h).copied()).unwrap_or(0);
    let mut next_lane = 0;
    let mut tips = Vec::with_capacity(list.len());
    if !list.is_empty() {
        tips.push(start);
    }
    tips.extend(0..list.len());
    let mut seen = HashSet::new();
    for tip in tips {
        if out[tip].is_some() {
            continue;
        }
        let lane = next_lane;
        next_lane += 1;
        let mut at = Some(tip);
        let mut last = tip;
        while let Some(i) = at {
            if out[i].is_some() || !seen.insert(i) {
                break;
            }
            out[i] = Some(Lane { lane, fork: false });
            last = i;
            at = list[i].1.as_deref().and_then(|p| index.get(p).copied());
        }
        // A side branch's oldest checkpoint forks off an already placed parent.
        let forks = lane > 0
            && list[last]
                .1
                .as_deref()
                .and_then(|p| index.get(p))
                .is_some_and(|&p| out[p].is_some());
        if forks && let Some(l) = out[last].as_mut() {
            l.fork = true;
        }
    }
    out.into_iter().map(Option::unwrap_or_default).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn part(event: &str, data: Value) -> StreamPart {
        StreamPart { event: event.into(), data, id: None }
    }

    fn task(kind: &str, name: &str) -> StreamPart {
        part("debug", json!({"type": kind, "step": 1, "payload": {"name": name, "interrupts": []}}))
    }

    #[test]
    fn nodes_light_in_order_from_task_events() {
        let mut run = LiveRun::new();
        run.apply(&part("metadata", json!({"run_id": "r1", "attempt": 1})));
        assert_eq!(run.run_id.as_deref(), Some("r1"));
        run.apply(&task("task", "agent"));
        assert_eq!(run.active, ["agent"]);
        run.apply(&part("updates", json!({"agent": {"messages": [1]}})));
        run.apply(&task("task_result", "agent"));
        run.apply(&task("task", "tools"));
        run.apply(&task("task_result", "tools"));
        run.apply(&task("task", "agent"));
        // Updates do not light nodes twice once task events are seen.
        run.apply(&part("updates", json!({"agent": {"messages": [2]}})));
        assert_eq!(run.lit_line(), "agent,tools,agent");
        assert_eq!(run.active, ["agent"]);
        assert_eq!(run.last_update("agent"), Some(&json!({"messages": [2]})));
        run.finish();
        assert_eq!(run.phase, RunPhase::Done);
        assert!(run.active.is_empty());
    }

    #[test]
    fn updates_light_nodes_without_debug_and_interrupts_stop_the_run() {
        let mut run = LiveRun::new();
        run.apply(&part("updates", json!({"agent": {"x": 1}})));
        run.apply(&part("updates|sub:1", json!({"inner": {"x": 2}})));
        run.apply(&part(
            "updates",
            json!({"__interrupt__": [{"value": {"q": "ok?"}, "id": "i1"}]}),
        ));
        assert_eq!(run.lit, ["agent"]);
        assert_eq!(run.interrupts.len(), 1);
        run.finish();
        assert_eq!(run.phase, RunPhase::Interrupted);
    }

    #[test]
    fn a_breakpoint_pauses_the_run_and_every_event_is_logged() {
        let mut run = LiveRun::new();
        let mut log = EventLog::default();
        let events = [
            (1.5, part("metadata", json!({"run_id": "r1"}))),
            (3.0, part("updates", json!({"step_1": {"steps": ["step_1"]}}))),
            (4.0, part("updates", json!({"__interrupt__": []}))),
        ];
        for (at, p) in &events {
            run.apply(p);
            log.push(p, *at);
        }
        assert!(run.paused);
        assert!(run.interrupts.is_empty());
        run.finish();
        assert_eq!(run.phase, RunPhase::Interrupted, "a breakpoint waits for Continue");
        let got: Vec<(f64, &str)> =
            log.events.iter().map(|e| (e.at_ms, e.event.as_str())).collect();
        assert_eq!(got, [(1.5, "metadata"), (3.0, "updates"), (4.0, "updates")]);
        assert_eq!(log.events[2].data, json!({"__interrupt__": []}));

        // A run with no breakpoint ends done, and a long one logs its first events only.
        let mut run = LiveRun::new();
        let mut log = EventLog::default();
        for i in 0..LOG_LIMIT + 10 {
            let p = part("custom", json!(i));
            run.apply(&p);
            log.push(&p, 0.0);
        }
        run.finish();
        assert_eq!(run.phase, RunPhase::Done);
        assert_eq!((log.events.len(), log.dropped), (LOG_LIMIT, 10));
        assert_eq!(run.events, LOG_LIMIT + 10);
    }

    #[test]
    fn tokens_and_tool_calls_assemble_into_messages() {
        let mut run = LiveRun::new();
        let meta = json!({"langgraph_node": "agent"});
        let chunk = |content: &str, calls: Value, tcc: Value| {
            part(
                "messages",
                json!([{"type": "AIMessageChunk", "id": "m1", "content": content,
                        "tool_calls": calls, "tool_call_chunks": tcc}, meta]),
            )
        };
        run.apply(&chunk("Sorry ", json!([]), json!([])));
        run.apply(&chunk("about that.", json!([]), json!([])));
        assert_eq!(run.messages[0]["content"], "Sorry about that.");
        run.apply(&chunk(
            "",
            json!([]),
            json!([{"name": "lookup", "args": "{\"email\":", "id": "c1", "index": 0}]),
        ));
        run.apply(&chunk("", json!([]), json!([{"args": "\"a@b\"}", "index": 0}])));
        assert_eq!(
            run.messages[0]["tool_calls"],
            json!([{"name": "lookup", "id": "c1", "args": {"email": "a@b"}}])
        );
        // A whole tool call replaces the pieces.
        run.apply(&chunk(
            "",
            json!([{"name": "lookup", "id": "c1", "args": {"email": "x"}}]),
            json!([]),
        ));
        assert_eq!(run.messages[0]["tool_calls"][0]["args"]["email"], "x");
        // A complete message (a tool result) is added as it is.
        run.apply(&part(
            "messages",
            json!([{"type": "tool", "id": "t1", "content": "found", "tool_call_id": "c1"}, meta]),
        ));
        assert_eq!(run.messages.len(), 2);
        assert_eq!(run.messages[1]["type"], "tool");
    }

    #[test]
    fn errors_fail_the_run() {
        let mut run = LiveRun::new();
        run.apply(&task("task", "agent"));
        run.apply(&part("error", json!({"error": "ValueError", "message": "boom"})));
        assert_eq!(run.phase, RunPhase::Failed);
        assert_eq!(run.error.as_deref(), Some("ValueError: boom"));
        run.finish();
        assert_eq!(run.phase, RunPhase::Failed);
        // Cancelled: the stream may end (even with an error) before the server confirms.
        let mut cancelled = LiveRun::new();
        cancelled.apply(&task("task", "agent"));
        cancelled.cancel();
        assert_eq!(cancelled.phase, RunPhase::Streaming);
        cancelled.apply(&part("error", json!({"error": "CancelledError", "message": ""})));
        cancelled.finish();
        assert_eq!(cancelled.phase, RunPhase::Cancelled);
        let mut confirmed = LiveRun::new();
        confirmed.apply(&task("task", "agent"));
        confirmed.cancel();
        confirmed.cancelled();
        confirmed.finish();
        assert_eq!(confirmed.phase, RunPhase::Cancelled);
    }

    #[test]
    fn diff_lists_added_removed_and_changed_paths() {
        let old =
            json!({"messages": [{"content": "hi"}], "approval": {"approved": false}, "gone": 1});
        let new = json!({"messages": [{"content": "hi"}, {"content": "yo"}], "approval": {"approved": true}, "n": 2});
        let d = diff(&old, &new);
        let summary: Vec<(String, &str)> = d.iter().map(|c| (c.path.clone(), c.kind())).collect();
        assert_eq!(
            summary,
            [
                ("messages[1]".to_string(), "added"),
                ("approval.approved".to_string(), "changed"),
                ("gone".to_string(), "removed"),
                ("n".to_string(), "added"),
            ]
        );
        assert!(diff(&old, &old).is_empty());
        assert_eq!(diff(&json!(1), &json!("1"))[0].path, "");
    }

    fn entry(id: &str, parent: Option<&str>) -> (String, Option<String>) {
        (id.to_string(), parent.map(str::to_string))
    }

    #[test]
    fn lanes_put_forks_beside_the_current_line() {
        // a <- b <- c <- d (current), and a fork e off b, newest first: e, d, c, b, a.
        let list = [
            entry("e", Some("b")),
            entry("d", Some("c")),
            entry("c", Some("b")),
            entry("b", Some("a")),
            entry("a", None),
        ];
        let l = lanes(&list, Some("d"));
        let got: Vec<(usize, bool)> = l.iter().map(|l| (l.lane, l.fork)).collect();
        assert_eq!(got, [(1, true), (0, false), (0, false), (0, false), (0, false)]);
        // With the fork current, the old line is the side branch.
        let l = lanes(&list, Some("e"));
        let got: Vec<(usize, bool)> = l.iter().map(|l| (l.lane, l.fork)).collect();
        assert_eq!(got, [(0, false), (1, false), (1, true), (0, false), (0, false)]);
        // A straight line is one lane; an unknown parent (cut history) is no fork.
        let straight = [entry("b", Some("a")), entry("a", Some("zz"))];
        assert!(lanes(&straight, None).iter().all(|l| *l == Lane { lane: 0, fork: false }));
        assert!(lanes(&[], None).is_empty());
    }
}
