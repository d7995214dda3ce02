//! What a node sees while it runs: its config, `interrupt()`, and stream writers.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::error::NodeError;
use crate::graph::Breakpoints;
use crate::types::Interrupt;

/// Stream modes (LangGraph's `stream_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamMode {
    /// Full state after each step.
    Values,
    /// Each node's update as it finishes.
    Updates,
    /// Chat model tokens and whole messages, with metadata.
    Messages,
    /// Whatever nodes write with [`NodeContext::write_custom`].
    Custom,
    /// Task start and finish.
    Tasks,
    /// A snapshot of each checkpoint.
    Checkpoints,
    /// Checkpoints and tasks wrapped with step and time.
    Debug,
}

impl StreamMode {
    /// LangGraph's name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamMode::Values => "values",
            StreamMode::Updates => "updates",
            StreamMode::Messages => "messages",
            StreamMode::Custom => "custom",
            StreamMode::Tasks => "tasks",
            StreamMode::Checkpoints => "checkpoints",
            StreamMode::Debug => "debug",
        }
    }

    /// Parses LangGraph's name of a mode.
    pub fn parse(s: &str) -> Option<StreamMode> {
        Some(match s {
            "values" => StreamMode::Values,
            "updates" => StreamMode::Updates,
            "messages" => StreamMode::Messages,
            "custom" => StreamMode::Custom,
            "tasks" => StreamMode::Tasks,
            "checkpoints" => StreamMode::Checkpoints,
            "debug" => StreamMode::Debug,
            _ => return None,
        })
    }
}

/// One streamed chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    /// Subgraph namespace path (`[]` at the root, `["sub:<task id>"]` below).
    pub ns: Vec<String>,
    /// The mode.
    pub mode: StreamMode,
    /// The chunk.
    pub data: Value,
}

/// The options of one run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The thread (required with a checkpointer).
    pub thread_id: Option<String>,
    /// Namespace (`""` = root graph).
    pub checkpoint_ns: String,
    /// Run from this checkpoint (replay / fork) instead of the latest.
    pub checkpoint_id: Option<String>,
    /// Max super-steps.
    pub recursion_limit: usize,
    /// User configuration, visible to nodes; scalar keys are copied into checkpoint metadata.
    pub configurable: Map<String, Value>,
    /// Run metadata; scalar keys are copied into checkpoint metadata.
    pub metadata: Map<String, Value>,
    /// Overrides the compiled `interrupt_before`.
    pub interrupt_before: Option<Breakpoints>,
    /// Overrides the compiled `interrupt_after`.
    pub interrupt_after: Option<Breakpoints>,
    /// Modes to stream.
    pub stream_modes: Vec<StreamMode>,
    /// Stream subgraph events too.
    pub subgraphs: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            thread_id: None,
            checkpoint_ns: String::new(),
            checkpoint_id: None,
            recursion_limit: 25,
            configurable: Map::new(),
            metadata: Map::new(),
            interrupt_before: None,
            interrupt_after: None,
            stream_modes: Vec::new(),
            subgraphs: false,
        }
    }
}

impl RunConfig {
    /// A config for `thread_id`.
    pub fn thread(thread_id: impl Into<String>) -> Self {
        RunConfig { thread_id: Some(thread_id.into()), ..Default::default() }
    }
    /// Sets the checkpoint to start from.
    pub fn at(mut self, checkpoint_id: impl Into<String>) -> Self {
        self.checkpoint_id = Some(checkpoint_id.into());
        self
    }
    /// Sets the recursion limit.
    pub fn limit(mut self, recursion_limit: usize) -> Self {
        self.recursion_limit = recursion_limit;
        self
    }
    /// Sets the stream modes.
    pub fn modes(mut self, modes: &[StreamMode]) -> Self {
        self.stream_modes = modes.to_vec();
        self
    }
}

/// Sends stream events for one graph level.
#[derive(Clone, Default)]
pub(crate) struct Emitter {
    pub(crate) tx: Option<UnboundedSender<StreamEvent>>,
    /// Ids of messages already streamed in this run (LangGraph streams each message once).
    pub(crate) seen_messages: Arc<Mutex<HashSet<String>>>,
    pub(crate) modes: Arc<HashSet<StreamMode>>,
    pub(crate) ns: Vec<String>,
    pub(crate) subgraphs: bool,
}

impl Emitter {
    pub(crate) fn new(tx: Option<UnboundedSender<StreamEvent>>, config: &RunConfig) -> Emitter {
        Emitter {
            tx,
            seen_messages: Arc::default(),
            modes: Arc::new(config.stream_modes.iter().copied().collect()),
            ns: Vec::new(),
            subgraphs: config.subgraphs,
        }
    }

    pub(crate) fn child(&self, ns: &str) -> Emitter {
        let mut e = self.clone();
        e.ns.push(ns.to_string());
        e
    }

    pub(crate) fn wants(&self, mode: StreamMode) -> bool {
        self.tx.is_some() && self.modes.contains(&mode) && (self.ns.is_empty() || self.subgraphs)
    }

    pub(crate) fn emit(&self, mode: StreamMode, data: Value) {
        if self.wants(mode)
            && let Some(tx) = &self.tx
        {
            // A closed receiver means nobody listens any more; the run goes on.
            let _ = tx.send(StreamEvent { ns: self.ns.clone(), mode, data });
        }
    }

    pub(crate) fn emit_with(&self, mode: StreamMode, data: impl FnOnce() -> Value) {
        if self.wants(mode) {
            self.emit(mode, data());
        }
    }
}

/// Interrupt bookkeeping of one task.
#[derive(Debug, Default)]
pub(crate) struct Scratchpad {
    pub(crate) task_ns: String,
    pub(crate) counter: usize,
    pub(crate) resume: Vec<Value>,
    pub(crate) resume_changed: bool,
    pub(crate) null_resume: Option<Value>,
    pub(crate) parent: Option<Arc<Mutex<Scratchpad>>>,
}

impl Scratchpad {
    fn take_null_resume(&mut self) -> Option<Value> {
        if let Some(v) = self.null_resume.take() {
            return Some(v);
        }
        let parent = self.parent.clone()?;
        let mut p = parent.lock().ok()?;
        p.take_null_resume()
    }
}

/// Facts about the running task.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    /// Task id.
    pub id: String,
    /// Node name.
    pub name: String,
    /// Step the task runs in.
    pub step: i64,
    /// `["__pregel_pull", name]` or `["__pregel_push", i, false]`.
    pub path: Value,
    /// Trigger channels.
    pub triggers: Vec<String>,
    /// The task's own namespace (`name:id`, prefixed with the parent's).
    pub task_ns: String,
    /// The namespace of the graph running the task.
    pub checkpoint_ns: String,
    /// Managed value: steps left before the recursion limit.
    pub remaining_steps: i64,
}

/// Handed to every node call.
#[derive(Clone)]
pub struct NodeContext {
    pub(crate) config: Arc<RunConfig>,
    pub(crate) task: Arc<TaskInfo>,
    pub(crate) scratch: Arc<Mutex<Scratchpad>>,
    pub(crate) emitter: Emitter,
}

impl NodeContext {
    /// The run's config.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// A key of `configurable`.
    pub fn configurable(&self, key: &str) -> Option<&Value> {
        self.config.configurable.get(key)
    }

    /// The task.
    pub fn task(&self) -> &TaskInfo {
        &self.task
    }

    /// Pauses the run for a human: returns the answer when the run is resumed with one, otherwise
    /// an error the node must return (`let v = ctx.interrupt(payload)?;`). The node runs again
    /// from the start on resume, so work before the call repeats.
    ///
    /// # Errors
    /// [`NodeError::Interrupt`] when no answer is available yet.
    pub fn interrupt(&self, value: Value) -> Result<Value, NodeError> {
        let mut s = self
            .scratch
            .lock()
            .map_err(|_| NodeError::failed("RuntimeError", "interrupt state poisoned"))?;
        let idx = s.counter;
        s.counter += 1;
        if let Some(v) = s.resume.get(idx) {
            return Ok(v.clone());
        }
        if let Some(v) = s.take_null_resume() {
            s.resume.push(v.clone());
            s.resume_changed = true;
            return Ok(v);
        }
        let id = interrupt_id(&s.task_ns, idx);
        Err(NodeError::Interrupt(vec![Interrupt { value, id }]))
    }

    /// Emits a `custom` stream chunk.
    pub fn write_custom(&self, value: Value) {
        self.emitter.emit(StreamMode::Custom, value);
    }

    /// Emits a chat-model chunk on the `messages` stream (a token of a streamed answer).
    pub fn emit_message_chunk(&self, chunk: Value, extra_metadata: &Map<String, Value>) {
        if let (Some(id), Ok(mut seen)) =
            (chunk.get("id").and_then(Value::as_str), self.emitter.seen_messages.lock())
        {
            seen.insert(id.to_string());
        }
        self.emitter.emit_with(StreamMode::Messages, || {
            let mut meta = self.message_metadata();
            for (k, v) in extra_metadata {
                meta.insert(k.clone(), v.clone());
            }
            json!([chunk, meta])
        });
    }

    /// The metadata LangGraph attaches to `messages` chunks of this task.
    pub fn message_metadata(&self) -> Map<String, Value> {
        message_metadata(&self.config, &self.task)
    }
}

pub(crate) fn message_metadata(config: &RunConfig, task: &TaskInfo) -> Map<String, Value> {
    let mut meta = Map::new();
    for (k, v) in &config.metadata {
        meta.insert(k.clone(), v.clone());
    }
    if let Some(t) = &config.thread_id {
        meta.insert("thread_id".into(), Value::String(t.clone()));
    }
    meta.insert("langgraph_step".into(), Value::from(task.step));
    meta.insert("langgraph_node".into(), Value::String(task.name.clone()));
    meta.insert("langgraph_triggers".into(), Value::from(task.triggers.clone()));
    meta.insert("langgraph_path".into(), task.path.clone());
    meta.insert("langgraph_checkpoint_ns".into(), Value::String(task.task_ns.clone()));
    // Below the root, `checkpoint_ns` names the outermost subgraph task.
    if !task.checkpoint_ns.is_empty() {
        let outer = task.checkpoint_ns.split('|').next().unwrap_or_default();
        meta.insert("checkpoint_ns".into(), Value::String(outer.to_string()));
    }
    meta
}

/// The id of interrupt slot `idx` of the task with namespace `task_ns`.
pub(crate) fn interrupt_id(task_ns: &str, idx: usize) -> String {
    let key = if idx == 0 { task_ns.to_string() } else { format!("{task_ns}|{idx}") };
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupt_ids_are_xxh3_of_the_task_namespace() {
        let a = interrupt_id("ask:64489815-0000-0000-0000-000000000000", 0);
        let b = interrupt_id("ask:64489815-0000-0000-0000-000000000000", 1);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_eq!(a, interrupt_id("ask:64489815-0000-0000-0000-000000000000", 0));
    }
}
