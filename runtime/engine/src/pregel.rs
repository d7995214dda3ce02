//! The super-step loop (`engine-semantics` §1.4–1.8): plan tasks from channel versions, run them
//! in parallel, apply their writes at the barrier in task-path order, save one checkpoint.
//!
//! Architecture Invariant: every effect goes through the `Checkpointer` and the stream emitter;
//! the loop itself does no IO.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use crate::{HashMap, IndexMap};
use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::{Map, Value, json};

use crate::channel::{Channel, Kind, reduce};
use crate::checkpoint::{
    Checkpoint, CheckpointRef, Checkpointer, PendingWrite, Version, new_checkpoint_id, now_iso,
};
use crate::context::{Emitter, NodeContext, RunConfig, Scratchpad, StreamMode, TaskInfo};
use crate::error::{Error, NodeError, Result};
use crate::graph::{Breakpoints, CompiledGraph, Managed, NodeKind};
use crate::types::{
    COPY, Command, CommandGraph, END, ERROR, Goto, INPUT, INTERRUPT, Input, Interrupt, NO_WRITES,
    NULL_TASK_ID, NodeOutput, PULL, PUSH, RESERVED_WRITES, RESUME, START, Send, TASKS,
    branch_channel,
};

/// A channel write.
pub(crate) type Write = (String, Value);
/// A task as `apply_writes` sees it: name, path, triggers, writes.
pub(crate) type TaskWrites<'a> = (&'a str, &'a TaskPath, &'a [String], &'a [Write]);
/// An owned [`TaskWrites`].
pub(crate) type OwnedTaskWrites = (String, TaskPath, Vec<String>, Vec<Write>);

/// Where a task sits in its step; orders the application of writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaskPath {
    Pull(String),
    Push(usize),
}

impl TaskPath {
    pub(crate) fn sort_key(&self) -> String {
        match self {
            TaskPath::Pull(n) => format!("~{PULL}, {n}"),
            TaskPath::Push(i) => format!("~{PUSH}, {i:010}, 0000000000"),
        }
    }
    pub(crate) fn to_value(&self) -> Value {
        match self {
            TaskPath::Pull(n) => json!([PULL, n]),
            TaskPath::Push(i) => json!([PUSH, i, false]),
        }
    }
}

/// A planned task.
#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) path: TaskPath,
    pub(crate) input: Value,
    pub(crate) triggers: Vec<String>,
    pub(crate) writes: Vec<(String, Value)>,
    pub(crate) finished: bool,
    pub(crate) interrupts: Vec<Interrupt>,
    pub(crate) error: Option<Value>,
    pub(crate) resume: Vec<Value>,
}

/// Channels whose writes never mark a task finished.
pub(crate) fn is_control(channel: &str) -> bool {
    matches!(channel, ERROR | INTERRUPT | RESUME | crate::types::SCHEDULED)
}

pub(crate) fn task_id(checkpoint_id: &str, parts: &[&str]) -> String {
    let mut buf: Vec<u8> = Vec::with_capacity(16 + parts.iter().map(|p| p.len()).sum::<usize>());
    match uuid::Uuid::parse_str(checkpoint_id) {
        Ok(u) => buf.extend_from_slice(u.as_bytes()),
        Err(_) => buf.extend_from_slice(checkpoint_id.as_bytes()),
    }
    for p in parts {
        buf.extend_from_slice(p.as_bytes());
    }
    // The 128-bit digest laid out as a UUID (8-4-4-4-12 hex digits).
    uuid::Uuid::from_u128(xxhash_rust::xxh3::xxh3_128(&buf)).hyphenated().to_string()
}

/// The loaded state of one graph level on one thread.
pub(crate) struct Loop {
    pub(crate) graph: Arc<CompiledGraph>,
    pub(crate) saver: Option<Arc<dyn Checkpointer>>,
    pub(crate) config: Arc<RunConfig>,
    pub(crate) thread_id: String,
    pub(crate) ns: String,
    pub(crate) parents: Map<String, Value>,
    pub(crate) checkpoint: Checkpoint,
    /// Metadata and parent of `checkpoint` when it was loaded or saved.
    pub(crate) metadata: Map<String, Value>,
    pub(crate) parent_id: Option<String>,
    /// Whether `checkpoint` exists in the saver.
    pub(crate) saved: bool,
    pub(crate) channels: IndexMap<String, Channel>,
    pub(crate) pending: Vec<PendingWrite>,
    pub(crate) step: i64,
    pub(crate) stop: i64,
    pub(crate) emitter: Emitter,
    pub(crate) parent_scratch: Option<Arc<Mutex<Scratchpad>>>,
    pub(crate) interrupt_before: Breakpoints,
    pub(crate) interrupt_after: Breakpoints,
    /// Answers for specific interrupt ids (`Command(resume={id: value})`).
    pub(crate) resume_map: HashMap<String, Value>,
    /// Channels updated by the last applied step (guides the planner).
    pub(crate) updated: Option<BTreeSet<String>>,
    /// Run keys copied into every checkpoint's metadata.
    pub(crate) run_metadata: Map<String, Value>,
    /// Where pending writes go (the current checkpoint), kept to avoid rebuilding it per write.
    pub(crate) at: CheckpointRef,
}

/// How a loop ended.
#[derive(Debug)]
pub(crate) enum Exit {
    Done,
    Interrupted(Vec<Interrupt>),
}

pub(crate) fn channels_from(graph: &CompiledGraph, cp: &Checkpoint) -> IndexMap<String, Channel> {
    graph
        .channels
        .iter()
        .map(|(name, kind)| {
            let stored = if cp.channel_versions.contains_key(name) {
                cp.channel_values.get(name)
            } else {
                None
            };
            (name.clone(), Channel::from_checkpoint(Arc::clone(kind), stored))
        })
        .collect()
}

/// The state keys' current values (the input of a PULL task, and the `values` stream chunk).
pub(crate) fn read_state(
    channels: &IndexMap<String, Channel>,
    keys: &[String],
) -> Map<String, Value> {
    let mut m = Map::new();
    for k in keys {
        if let Some(v) = channels.get(k).and_then(Channel::get) {
            m.insert(k.clone(), v.clone());
        }
    }
    m
}

/// Keys of run config and metadata copied into checkpoint metadata (§2.2).
pub(crate) fn merged_metadata(config: &RunConfig) -> Map<String, Value> {
    const EXCLUDED: [&str; 9] = [
        "thread_id",
        "checkpoint_id",
        "checkpoint_ns",
        "checkpoint_map",
        "langgraph_step",
        "langgraph_node",
        "langgraph_triggers",
        "langgraph_path",
        "langgraph_checkpoint_ns",
    ];
    let mut out = Map::new();
    for src in [&config.metadata, &config.configurable] {
        for (k, v) in src {
            let scalar = matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
            if scalar
                && !k.starts_with("__")
                && !EXCLUDED.contains(&k.as_str())
                && !out.contains_key(k)
            {
                let v = match v {
                    Value::String(s) => Value::String(s.replace('\u{0}', "")),
                    other => other.clone(),
                };
                out.insert(k.clone(), v);
            }
        }
    }
    out
}

/// Applies task writes at the barrier (§1.6). Returns the updated channels.
pub(crate) fn apply_writes(
    graph: &CompiledGraph,
    checkpoint: &mut Checkpoint,
    channels: &mut IndexMap<String, Channel>,
    tasks: &mut [TaskWrites<'_>],
) -> Result<BTreeSet<String>> {
    tasks.sort_by_key(|t| t.1.sort_key());
    let bump_step = tasks.iter().any(|t| !t.2.is_empty());
    for (name, _, triggers, _) in tasks.iter() {
        let seen = checkpoint.versions_seen.entry(name.to_string()).or_default();
        for c in triggers.iter() {
            if let Some(v) = checkpoint.channel_versions.get(c) {
                seen.insert(c.clone(), *v);
            }
        }
    }
    let next_v: Version = checkpoint.channel_versions.values().copied().max().unwrap_or(0) + 1;
    let consumed: BTreeSet<&String> = tasks.iter().flat_map(|t| t.2.iter()).collect();
    for c in consumed {
        if RESERVED_WRITES.contains(&c.as_str()) {
            continue;
        }
        if let Some(ch) = channels.get_mut(c)
            && ch.consume()
        {
            checkpoint.channel_versions.insert(c.clone(), next_v);
        }
    }
    let mut grouped: IndexMap<&str, Vec<Value>> = IndexMap::default();
    for (_, _, _, writes) in tasks.iter() {
        for (c, v) in writes.iter() {
            if RESERVED_WRITES.contains(&c.as_str()) || !channels.contains_key(c) {
                continue;
            }
            grouped.entry(c.as_str()).or_default().push(v.clone());
        }
    }
    let mut updated = BTreeSet::new();
    for (c, vals) in grouped {
        if let Some(ch) = channels.get_mut(c)
            && ch.update(c, vals)?
        {
            checkpoint.channel_versions.insert(c.to_string(), next_v);
            if ch.is_available() {
                updated.insert(c.to_string());
            }
        }
    }
    if bump_step {
        for (c, ch) in channels.iter_mut() {
            if ch.is_available() && !updated.contains(c) && ch.update(c, Vec::new())? {
                checkpoint.channel_versions.insert(c.clone(), next_v);
                if ch.is_available() {
                    updated.insert(c.clone());
                }
            }
        }
        if updated.iter().all(|c| !graph.trigger_to_nodes.contains_key(c)) {
            for (c, ch) in channels.iter_mut() {
                if ch.finish() {
                    checkpoint.channel_versions.insert(c.clone(), next_v);
                    if ch.is_available() {
                        updated.insert(c.clone());
                    }
                }
            }
        }
    }
    Ok(updated)
}

/// Applies the null task's writes (a `Command`'s goto and update given as input) without task
/// bookkeeping, as LangGraph does before planning a resumed step. Returns the updated channels.
pub(crate) fn apply_null_writes(
    graph: &CompiledGraph,
    checkpoint: &mut Checkpoint,
    channels: &mut IndexMap<String, Channel>,
    pending: &[PendingWrite],
) -> Result<BTreeSet<String>> {
    let null_writes: Vec<Write> = pending
        .iter()
        .filter(|w| w.task_id == NULL_TASK_ID)
        .map(|w| (w.channel.clone(), w.value.clone()))
        .collect();
    if null_writes.is_empty() {
        return Ok(BTreeSet::new());
    }
    let path = TaskPath::Pull(INPUT.into());
    let mut ts = vec![(INPUT, &path, &[][..], null_writes.as_slice())];
    apply_writes(graph, checkpoint, channels, &mut ts)
}

/// Plans the tasks of the step that runs from `checkpoint` (§1.3, §1.7).
pub(crate) fn prepare_tasks(
    graph: &CompiledGraph,
    checkpoint: &Checkpoint,
    channels: &IndexMap<String, Channel>,
    ns: &str,
    step: i64,
    updated: Option<&BTreeSet<String>>,
) -> Vec<Task> {
    let mut tasks = Vec::new();
    let step_s = step.to_string();
    let task_ns_of =
        |name: &str| if ns.is_empty() { name.to_string() } else { format!("{ns}|{name}") };
    if let Some(Value::Array(sends)) = channels.get(TASKS).and_then(Channel::get) {
        for (i, s) in sends.iter().enumerate() {
            let Some(send) = Send::from_value(s) else { continue };
            if !graph.nodes.contains_key(&send.node) {
                continue;
            }
            let id = task_id(
                &checkpoint.id,
                &[&task_ns_of(&send.node), &step_s, &send.node, PUSH, &i.to_string()],
            );
            tasks.push(Task::new(
                id,
                send.node.clone(),
                TaskPath::Push(i),
                send.arg,
                vec![PUSH.into()],
            ));
        }
    }
    // With the channels the last step updated, only their subscribers are candidates (sorted,
    // as LangGraph does); otherwise every node in insertion order.
    let candidates: Vec<&str> = match updated.filter(|u| !u.is_empty()) {
        Some(updated) => {
            let set: BTreeSet<&str> = updated
                .iter()
                .filter_map(|c| graph.trigger_to_nodes.get(c))
                .flatten()
                .map(String::as_str)
                .collect();
            set.into_iter().collect()
        }
        None if checkpoint.channel_versions.is_empty() => Vec::new(),
        None => graph.nodes.keys().map(String::as_str).collect(),
    };
    let empty = BTreeMap::new();
    for name in candidates {
        let Some(node) = graph.nodes.get(name) else { continue };
        let seen = checkpoint.versions_seen.get(name);
        let fired = node.triggers.iter().any(|c| {
            channels.get(c).is_some_and(Channel::is_available)
                && match seen {
                    None => true,
                    Some(_) => {
                        checkpoint.channel_versions.get(c).copied().unwrap_or(0)
                            > seen.unwrap_or(&empty).get(c).copied().unwrap_or(0)
                    }
                }
        });
        if !fired {
            continue;
        }
        let mut triggers = node.triggers.clone();
        triggers.sort();
        let mut parts: Vec<&str> = vec![name, &step_s, name, PULL];
        let tns = task_ns_of(name);
        parts[0] = &tns;
        parts.extend(triggers.iter().map(String::as_str));
        let id = task_id(&checkpoint.id, &parts);
        let input = if name == START {
            channels.get(START).and_then(Channel::get).cloned().unwrap_or(Value::Null)
        } else {
            Value::Null // filled in with the state when the task runs
        };
        tasks.push(Task::new(
            id,
            name.to_string(),
            TaskPath::Pull(name.to_string()),
            input,
            triggers,
        ));
    }
    tasks
}

impl Task {
    fn new(id: String, name: String, path: TaskPath, input: Value, triggers: Vec<String>) -> Task {
        Task {
            id,
            name,
            path,
            input,
            triggers,
            writes: Vec::new(),
            finished: false,
            interrupts: Vec::new(),
            error: None,
            resume: Vec::new(),
        }
    }

    /// Re-attaches this task's stored writes.
    pub(crate) fn attach(&mut self, pending: &[PendingWrite]) {
        for w in pending.iter().filter(|w| w.task_id == self.id) {
            match w.channel.as_str() {
                INTERRUPT => {
                    self.interrupts = w
                        .value
                        .as_array()
                        .map(|a| a.iter().filter_map(Interrupt::from_value).collect())
                        .unwrap_or_default();
                }
                RESUME => {
                    self.resume = match &w.value {
                        Value::Array(a) => a.clone(),
                        other => vec![other.clone()],
                    }
                }
                ERROR => self.error = Some(w.value.clone()),
                c if is_control(c) => {}
                _ => {
                    self.finished = true;
                    self.writes.push((w.channel.clone(), w.value.clone()));
                }
            }
        }
    }
}

/// Everything a task needs to run, detached from the loop so tasks run concurrently.
struct TaskRun {
    step: Arc<StepShared>,
    info: Arc<TaskInfo>,
    input: Value,
    scratch: Arc<Mutex<Scratchpad>>,
    is_push: bool,
}

/// What every task of one step shares.
struct StepShared {
    graph: Arc<CompiledGraph>,
    saver: Option<Arc<dyn Checkpointer>>,
    config: Arc<RunConfig>,
    thread_id: String,
    ns: String,
    parents: Map<String, Value>,
    checkpoint_id: String,
    emitter: Emitter,
    state: Map<String, Value>,
}

type TaskResult = std::result::Result<Vec<(String, Value)>, NodeError>;

impl TaskRun {
    async fn run(self) -> (TaskResult, Arc<Mutex<Scratchpad>>) {
        let scratch = Arc::clone(&self.scratch);
        let res = AssertUnwindSafe(self.run_inner()).catch_unwind().await;
        let res = match res {
            Ok(r) => r,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                Err(NodeError::Panicked(msg))
            }
        };
        (res, scratch)
    }

    async fn run_inner(self) -> TaskResult {
        let Some(node) = self.step.graph.nodes.get(&self.info.name).cloned() else {
            return Err(NodeError::failed("KeyError", format!("unknown node {}", self.info.name)));
        };
        let input = if self.info.name == START || self.is_push {
            self.input.clone()
        } else {
            let mut m = self.step.state.clone();
            for (k, kind) in &self.step.graph.managed {
                let v = match kind {
                    Managed::RemainingSteps => Value::from(self.info.remaining_steps),
                    Managed::IsLastStep => Value::Bool(self.info.remaining_steps == 1),
                };
                m.insert(k.clone(), v);
            }
            Value::Object(m)
        };
        let output = match &node.kind {
            None => NodeOutput::Update(input.clone()),
            Some(kind) => {
                let policy = node.retry.clone();
                let mut attempt: u32 = 0;
                loop {
                    attempt += 1;
                    if let Ok(mut s) = self.scratch.lock() {
                        s.counter = 0;
                    }
                    let r = match kind {
                        NodeKind::Func(f) => {
                            let ctx = NodeContext {
                                config: Arc::clone(&self.step.config),
                                task: Arc::clone(&self.info),
                                scratch: Arc::clone(&self.scratch),
                                emitter: self.step.emitter.clone(),
                            };
                            f(input.clone(), ctx).await
                        }
                        NodeKind::Subgraph(g) => {
                            Box::pin(self.run_subgraph(Arc::clone(g), input.clone())).await
                        }
                    };
                    match r {
                        Err(NodeError::Failed { kind: k, message })
                            if policy
                                .as_ref()
                                .is_some_and(|p| attempt < p.max_attempts && p.retries(&k)) =>
                        {
                            let wait =
                                policy.as_ref().map(|p| p.interval(attempt)).unwrap_or_default();
                            let _ = message;
                            tokio::time::sleep(wait).await;
                        }
                        other => break other?,
                    }
                }
            }
        };
        node_writes(&self.step.graph, &self.info.name, &output, &self.step.state, &self.step.config)
    }

    async fn run_subgraph(
        &self,
        graph: Arc<CompiledGraph>,
        input: Value,
    ) -> std::result::Result<NodeOutput, NodeError> {
        let child_ns = self.info.task_ns.clone();
        let mut parents = self.step.parents.clone();
        parents.insert(self.step.ns.clone(), Value::String(self.step.checkpoint_id.clone()));
        let mut cfg = (*self.step.config).clone();
        cfg.checkpoint_ns = child_ns.clone();
        cfg.checkpoint_id = None;
        cfg.interrupt_before = None;
        cfg.interrupt_after = None;
        let saver = graph.checkpointer.clone().or_else(|| self.step.saver.clone());
        let existing = match &saver {
            Some(s) => {
                s.get_tuple(&self.step.thread_id, &child_ns, None).await.map_err(NodeError::from)?
            }
            None => None,
        };
        let child_input = if existing.is_some() { Input::Resume } else { Input::Values(input) };
        let local = child_ns.rsplit('|').next().unwrap_or_default().to_string();
        let emitter = self.step.emitter.child(&local);
        let mut lp = Loop::enter(
            graph,
            saver,
            Arc::new(cfg),
            self.step.thread_id.clone(),
            child_ns,
            parents,
            emitter,
            Some(Arc::clone(&self.scratch)),
        )
        .await?;
        match lp.run(child_input).await {
            Ok(Exit::Done) => Ok(NodeOutput::Update(Value::Object(lp.output_values()))),
            Ok(Exit::Interrupted(ints)) => Err(NodeError::Interrupt(ints)),
            Err(Error::ParentCommand(cmd)) => {
                let mut cmd = *cmd;
                cmd.graph = CommandGraph::Current;
                Ok(NodeOutput::Command(cmd))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// What a node writes for `output`: its state keys (or a `Command`'s update and destinations),
/// then its static edges, joins and conditional edges. Routers see the committed `state` plus
/// these writes, never a sibling's.
pub(crate) fn node_writes(
    graph: &CompiledGraph,
    name: &str,
    output: &NodeOutput,
    state: &Map<String, Value>,
    config: &RunConfig,
) -> std::result::Result<Vec<(String, Value)>, NodeError> {
    let Some(node) = graph.nodes.get(name) else {
        return Err(NodeError::failed("InvalidUpdateError", format!("Node {name} does not exist")));
    };
    let mut writes = Vec::new();
    if name == START {
        let v = output_value(output);
        let Value::Object(m) = &v else {
            return Err(NodeError::Engine(Box::new(Error::invalid_update(format!(
                "Expected dict, got {v}"
            )))));
        };
        for (k, v) in m {
            if graph.input_keys.contains(k) && graph.channels.contains_key(k) {
                writes.push((k.clone(), v.clone()));
            }
        }
    } else {
        output_writes(graph, output, &mut writes)?;
    }
    for to in &node.edges {
        if to != END {
            writes.push((branch_channel(to), Value::Null));
        }
    }
    for j in &node.joins {
        writes.push((j.clone(), Value::String(name.to_string())));
    }
    if !node.branches.is_empty() {
        let view = local_view(graph, state, &writes);
        for b in &node.branches {
            for r in (b.router)(&view, config)? {
                match r {
                    Goto::Node(label) => {
                        let dest = b.resolve(&label).map_err(|e| NodeError::Engine(Box::new(e)))?;
                        if dest == END {
                            continue;
                        }
                        if dest == START || !graph.nodes.contains_key(&dest) {
                            return Err(NodeError::failed(
                                "InvalidUpdateError",
                                format!("Branch returned unknown node '{dest}'"),
                            ));
                        }
                        writes.push((branch_channel(&dest), Value::Null));
                    }
                    Goto::Send(s) => {
                        if s.node == END {
                            return Err(NodeError::failed(
                                "InvalidUpdateError",
                                "Cannot send a packet to the END node",
                            ));
                        }
                        writes.push((TASKS.into(), s.to_value()));
                    }
                }
            }
        }
    }
    Ok(writes)
}

/// The committed state plus one task's own writes (what a router sees).
fn local_view(
    graph: &CompiledGraph,
    state: &Map<String, Value>,
    writes: &[(String, Value)],
) -> Value {
    let mut m = state.clone();
    for (k, v) in writes {
        let Some(kind) = graph.channels.get(k) else { continue };
        if !graph.state_keys.contains(k) {
            continue;
        }
        let merged = match &**kind {
            Kind::Aggregate(r) => {
                let acc = m.remove(k).unwrap_or_else(|| crate::channel::initial(r));
                reduce(r, acc, v.clone()).unwrap_or_else(|_| v.clone())
            }
            _ => v.clone(),
        };
        m.insert(k.clone(), merged);
    }
    Value::Object(m)
}

fn output_value(o: &NodeOutput) -> Value {
    match o {
        NodeOutput::Update(v) => v.clone(),
        NodeOutput::Command(c) => c.update.clone().unwrap_or(Value::Null),
        NodeOutput::Many(_) => Value::Null,
    }
}

/// A node's return value as channel writes (state keys, then `Command` destinations).
fn output_writes(
    graph: &CompiledGraph,
    output: &NodeOutput,
    writes: &mut Vec<(String, Value)>,
) -> std::result::Result<(), NodeError> {
    match output {
        NodeOutput::Update(Value::Null) => Ok(()),
        NodeOutput::Update(Value::Object(m)) => {
            for (k, v) in m {
                if graph.state_keys.contains(k) {
                    writes.push((k.clone(), v.clone()));
                }
            }
            Ok(())
        }
        NodeOutput::Update(other) => Err(NodeError::Engine(Box::new(Error::invalid_update(
            format!("Expected dict, got {other}"),
        )))),
        NodeOutput::Command(cmd) => {
            if cmd.graph == CommandGraph::Parent {
                return Err(NodeError::ParentCommand(Box::new(cmd.clone())));
            }
            if let Some(u) = &cmd.update {
                output_writes(graph, &NodeOutput::Update(u.clone()), writes)?;
            }
            for g in &cmd.goto {
                match g {
                    Goto::Node(n) if n == END => {}
                    Goto::Node(n) => {
                        if !graph.nodes.contains_key(n) || n == START {
                            return Err(NodeError::failed(
                                "InvalidUpdateError",
                                format!("Command goto unknown node '{n}'"),
                            ));
                        }
                        writes.push((branch_channel(n), Value::Null));
                    }
                    Goto::Send(s) => writes.push((TASKS.into(), s.to_value())),
                }
            }
            Ok(())
        }
        NodeOutput::Many(items) => {
            for i in items {
                output_writes(graph, i, writes)?;
            }
            Ok(())
        }
    }
}

fn is_message(v: &Value) -> bool {
    v.get("content").is_some()
        && v.get("type").and_then(Value::as_str).is_some_and(|t| {
            matches!(t, "ai" | "human" | "system" | "tool" | "function" | "AIMessageChunk")
        })
}

/// Messages a node returned that were neither in its input nor streamed as tokens are emitted
/// once, whole, on the `messages` stream.
fn emit_output_messages(
    emitter: &Emitter,
    config: &RunConfig,
    info: &TaskInfo,
    push_input: &Value,
    state: &Map<String, Value>,
    writes: &[(String, Value)],
) {
    let Ok(mut seen) = emitter.seen_messages.lock() else { return };
    let mut input_ids = std::collections::HashSet::new();
    let mut collect = |v: &Value| {
        for m in v.as_array().into_iter().flatten().chain(std::iter::once(v)) {
            if is_message(m)
                && let Some(id) = m.get("id").and_then(Value::as_str)
            {
                input_ids.insert(id.to_string());
            }
        }
    };
    state.values().for_each(&mut collect);
    push_input.as_object().into_iter().flat_map(|m| m.values()).for_each(&mut collect);
    for (_, v) in writes {
        let items: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for m in items.into_iter().filter(|m| is_message(m)) {
            let id = m.get("id").and_then(Value::as_str).map(str::to_string);
            if let Some(id) = &id {
                if seen.contains(id) || input_ids.contains(id) {
                    continue;
                }
                seen.insert(id.clone());
            }
            let mut meta = crate::context::message_metadata(config, info);
            meta.insert("ls_integration".into(), Value::String("langgraph".into()));
            emitter.emit(StreamMode::Messages, json!([m, meta]));
        }
    }
}

/// Output-key writes of a task, as the `updates` stream shows them.
pub(crate) fn update_chunks(
    graph: &CompiledGraph,
    name: &str,
    writes: &[(String, Value)],
) -> Vec<Value> {
    let outs: Vec<&(String, Value)> =
        writes.iter().filter(|(c, _)| graph.output_keys.contains(c)).collect();
    if outs.is_empty() {
        return vec![json!({ name: null })];
    }
    let distinct: BTreeSet<&String> = outs.iter().map(|(c, _)| c).collect();
    if distinct.len() == outs.len() {
        let mut m = Map::new();
        for (c, v) in outs {
            m.insert(c.clone(), v.clone());
        }
        vec![json!({ name: m })]
    } else {
        outs.iter().map(|(c, v)| json!({ name: { c.as_str(): v } })).collect()
    }
}

/// `{key: value}` of a finished task's output writes (`$writes` for repeated keys).
pub(crate) fn task_result(graph: &CompiledGraph, writes: &[(String, Value)]) -> Value {
    let outs: Vec<&(String, Value)> =
        writes.iter().filter(|(c, _)| graph.output_keys.contains(c)).collect();
    let mut m = Map::new();
    for (c, v) in outs {
        m.insert(c.clone(), v.clone());
    }
    Value::Object(m)
}

impl Loop {
    /// Loads the addressed (or latest) checkpoint of `ns` on the thread.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn enter(
        graph: Arc<CompiledGraph>,
        saver: Option<Arc<dyn Checkpointer>>,
        config: Arc<RunConfig>,
        thread_id: String,
        ns: String,
        parents: Map<String, Value>,
        emitter: Emitter,
        parent_scratch: Option<Arc<Mutex<Scratchpad>>>,
    ) -> Result<Loop> {
        let saved = match &saver {
            Some(s) => s.get_tuple(&thread_id, &ns, config.checkpoint_id.as_deref()).await?,
            None => None,
        };
        if saved.is_none() && config.checkpoint_id.is_some() {
            return Err(Error::Usage(format!(
                "Checkpoint {} not found",
                config.checkpoint_id.as_deref().unwrap_or_default()
            )));
        }
        let (checkpoint, metadata, parent_id, pending, step, was_saved) = match saved {
            Some(t) => {
                let step = t.metadata.get("step").and_then(Value::as_i64).unwrap_or(-1) + 1;
                let parent = t.parent.map(|p| p.checkpoint_id);
                (t.checkpoint, t.metadata, parent, t.pending_writes, step, true)
            }
            None => (Checkpoint::empty(), Map::new(), None, Vec::new(), -1, false),
        };
        let channels = channels_from(&graph, &checkpoint);
        let updated = checkpoint
            .updated_channels
            .as_ref()
            .filter(|u| !u.is_empty())
            .map(|u| u.iter().cloned().collect::<BTreeSet<String>>());
        let stop = step + config.recursion_limit as i64 + 1;
        let run_metadata = merged_metadata(&config);
        let interrupt_before =
            config.interrupt_before.clone().unwrap_or_else(|| graph.interrupt_before.clone());
        let interrupt_after =
            config.interrupt_after.clone().unwrap_or_else(|| graph.interrupt_after.clone());
        Ok(Loop {
            graph,
            saver,
            config,
            thread_id,
            ns,
            parents,
            checkpoint,
            metadata,
            parent_id,
            saved: was_saved,
            channels,
            pending,
            step,
            stop,
            emitter,
            parent_scratch,
            interrupt_before,
            interrupt_after,
            updated,
            run_metadata,
            at: CheckpointRef::default(),
            resume_map: HashMap::default(),
        })
    }

    pub(crate) fn at(&self) -> CheckpointRef {
        CheckpointRef {
            thread_id: self.thread_id.clone(),
            checkpoint_ns: self.ns.clone(),
            checkpoint_id: self.checkpoint.id.clone(),
        }
    }

    pub(crate) fn output_values(&self) -> Map<String, Value> {
        read_state(&self.channels, &self.graph.output_keys)
    }

    async fn put_writes(
        &mut self,
        task_id: &str,
        path: &str,
        writes: Vec<(String, Value)>,
    ) -> Result<()> {
        if let Some(s) = &self.saver {
            if self.at.checkpoint_id != self.checkpoint.id {
                self.at = self.at();
            }
            s.put_writes(&self.at, task_id, path, &writes).await?;
        }
        for (channel, value) in writes {
            let special = crate::checkpoint::special_write_index(&channel).is_some();
            if special {
                self.pending.retain(|w| !(w.task_id == task_id && w.channel == channel));
            }
            self.pending.push(PendingWrite { task_id: task_id.to_string(), channel, value });
        }
        Ok(())
    }

    /// Saves the current channels as a new checkpoint.
    pub(crate) async fn put_checkpoint(
        &mut self,
        source: &str,
        updated: Option<Vec<String>>,
    ) -> Result<()> {
        let mut cp = Checkpoint {
            v: 4,
            id: new_checkpoint_id(self.step),
            ts: now_iso(),
            channel_values: Map::new(),
            channel_versions: std::mem::take(&mut self.checkpoint.channel_versions),
            versions_seen: std::mem::take(&mut self.checkpoint.versions_seen),
            updated_channels: updated,
        };
        for (name, ch) in &self.channels {
            if cp.channel_versions.contains_key(name)
                && let Some(v) = ch.checkpoint()
            {
                cp.channel_values.insert(name.clone(), v);
            }
        }
        let mut metadata = Map::new();
        metadata.insert("source".into(), Value::String(source.into()));
        metadata.insert("step".into(), Value::from(self.step));
        metadata.insert("parents".into(), Value::Object(self.parents.clone()));
        for (k, v) in self.run_metadata.iter() {
            if !metadata.contains_key(k) {
                metadata.insert(k.clone(), v.clone());
            }
        }
        let parent = if self.saved { Some(self.checkpoint.id.clone()) } else { None };
        if let Some(s) = &self.saver {
            s.put(&self.thread_id, &self.ns, parent.as_deref(), &cp, &metadata).await?;
        }
        self.checkpoint = cp;
        self.metadata = metadata;
        self.parent_id = parent;
        self.saved = true;
        self.pending.clear();
        self.step += 1;
        Ok(())
    }

    fn emit_values(&self) {
        self.emitter.emit_with(StreamMode::Values, || Value::Object(self.output_values()));
    }

    /// The tasks of the step that runs from the current checkpoint.
    fn plan(&self) -> Vec<Task> {
        prepare_tasks(
            &self.graph,
            &self.checkpoint,
            &self.channels,
            &self.ns,
            self.step,
            self.updated.as_ref(),
        )
    }

    /// Runs the loop from `input` to the end, an interrupt or an error.
    pub(crate) async fn run(&mut self, input: Input) -> Result<Exit> {
        self.first(input).await?;
        loop {
            if self.step > self.stop {
                return Err(Error::Recursion(self.config.recursion_limit));
            }
            let mut tasks = self.plan();
            self.emit_checkpoint(&tasks);
            if tasks.is_empty() {
                return Ok(Exit::Done);
            }
            for t in tasks.iter_mut() {
                t.attach(&self.pending);
            }
            if !self.interrupt_before.is_empty()
                && self.should_interrupt(&self.interrupt_before, &tasks)
            {
                self.settle_interrupted(&tasks)?;
                self.emitter.emit(StreamMode::Updates, json!({ INTERRUPT: [] }));
                return Ok(Exit::Interrupted(Vec::new()));
            }
            for t in tasks.iter().filter(|t| t.finished && self.emitter.wants(StreamMode::Updates))
            {
                for mut chunk in update_chunks(&self.graph, &t.name, &t.writes) {
                    if t.name == START {
                        continue;
                    }
                    if let Some(m) = chunk.as_object_mut() {
                        m.insert("__metadata__".into(), json!({"cached": true}));
                    }
                    self.emitter.emit(StreamMode::Updates, chunk);
                }
            }
            let interrupts = self.run_tasks(&mut tasks).await?;
            if !interrupts.is_empty() {
                self.settle_interrupted(&tasks)?;
                return Ok(Exit::Interrupted(interrupts));
            }
            self.after_tick(&tasks).await?;
            if !self.interrupt_after.is_empty()
                && self.should_interrupt(&self.interrupt_after, &tasks)
            {
                self.emitter.emit(StreamMode::Updates, json!({ INTERRUPT: [] }));
                let next = self.plan();
                self.emit_checkpoint(&next);
                return Ok(Exit::Interrupted(Vec::new()));
            }
        }
    }

    /// On an interrupt, the finished tasks' writes are applied in memory (not saved) so the
    /// run's output includes them.
    fn settle_interrupted(&mut self, tasks: &[Task]) -> Result<()> {
        if self.ns.is_empty() && tasks.iter().any(|t| !t.writes.is_empty()) {
            let mut ts: Vec<TaskWrites<'_>> = tasks
                .iter()
                .map(|t| (t.name.as_str(), &t.path, t.triggers.as_slice(), t.writes.as_slice()))
                .collect();
            let updated =
                apply_writes(&self.graph, &mut self.checkpoint, &mut self.channels, &mut ts)?;
            if updated.iter().any(|c| self.graph.output_keys.contains(c)) {
                self.emit_values();
            }
        }
        Ok(())
    }

    fn should_interrupt(&self, bp: &Breakpoints, tasks: &[Task]) -> bool {
        let seen = self.checkpoint.versions_seen.get(INTERRUPT);
        let any_new = self
            .checkpoint
            .channel_versions
            .iter()
            .any(|(c, v)| *v > seen.and_then(|s| s.get(c)).copied().unwrap_or(0));
        let hit = any_new && tasks.iter().any(|t| bp.matches(&t.name));
        if hit {
            // NOTE: LangGraph records what it saw so that resuming passes this breakpoint.
            let _ = &self.checkpoint;
        }
        hit
    }

    async fn first(&mut self, input: Input) -> Result<()> {
        let is_replay = self.config.checkpoint_id.is_some() && !matches!(input, Input::Values(_));
        match input {
            Input::Values(v) => {
                if !v.is_object() {
                    return Err(Error::invalid_update(format!("Expected dict, got {v}")));
                }
                let discard = self.plan();
                let input_writes = vec![(START.to_string(), v)];
                let input_path = TaskPath::Pull(INPUT.into());
                let mut ts: Vec<TaskWrites<'_>> = discard
                    .iter()
                    .map(|t| (t.name.as_str(), &t.path, t.triggers.as_slice(), &[][..]))
                    .collect();
                ts.push((INPUT, &input_path, &[], &input_writes));
                let updated =
                    apply_writes(&self.graph, &mut self.checkpoint, &mut self.channels, &mut ts)?;
                self.updated = Some(updated.clone());
                self.put_checkpoint("input", Some(updated.into_iter().collect())).await
            }
            Input::Resume | Input::Command(_) if !self.saved => {
                Err(Error::EmptyInput(START.into()))
            }
            other => {
                let resuming_with_answer =
                    matches!(&other, Input::Command(c) if c.resume.is_some());
                let time_travel = is_replay && !resuming_with_answer;
                if time_travel {
                    // Stale answers belong to the old branch: interrupts fire again.
                    self.pending.retain(|w| w.channel != RESUME);
                }
                if let Input::Command(cmd) = other {
                    self.apply_command(cmd).await?;
                }
                let updated = apply_null_writes(
                    &self.graph,
                    &mut self.checkpoint,
                    &mut self.channels,
                    &self.pending,
                )?;
                // The planner must see what the command wrote (a goto triggers its node).
                if let Some(u) = self.updated.as_mut() {
                    u.extend(updated);
                }
                let all: BTreeMap<String, Version> = self.checkpoint.channel_versions.clone();
                self.checkpoint.versions_seen.insert(INTERRUPT.into(), all);
                if time_travel {
                    self.fork_for_replay().await?;
                }
                self.emit_values();
                Ok(())
            }
        }
    }

    /// Replay (§4.1): a fork checkpoint at the addressed one, unless that is already a fork or
    /// an update; the old branch's writes are not reused.
    async fn fork_for_replay(&mut self) -> Result<()> {
        let source = self.metadata.get("source").and_then(Value::as_str).unwrap_or_default();
        if source == "update" || source == "fork" {
            return Ok(());
        }
        self.pending.retain(|w| w.channel != INTERRUPT);
        let keep = std::mem::take(&mut self.pending);
        self.put_checkpoint("fork", None).await?;
        self.updated = None;
        // Null-task writes (a Command's goto/update) still apply to the new branch.
        self.pending = keep.into_iter().filter(|w| w.task_id == NULL_TASK_ID).collect();
        Ok(())
    }

    async fn apply_command(&mut self, cmd: Command) -> Result<()> {
        if cmd.graph == CommandGraph::Parent {
            return Err(Error::invalid_update("There is no parent graph"));
        }
        if cmd.update.is_none() && cmd.goto.is_empty() && cmd.resume.is_none() {
            return Err(Error::EmptyInput("Received empty Command input".into()));
        }
        let mut writes: Vec<(String, Value)> = Vec::new();
        for g in &cmd.goto {
            match g {
                Goto::Node(n) => writes.push((branch_channel(n), Value::String(START.into()))),
                Goto::Send(s) => writes.push((TASKS.into(), s.to_value())),
            }
        }
        if let Some(u) = &cmd.update {
            match u {
                Value::Object(m) => {
                    for (k, v) in m {
                        writes.push((k.clone(), v.clone()));
                    }
                }
                Value::Array(pairs) => {
                    for p in pairs {
                        if let Some([k, v]) = p.as_array().map(Vec::as_slice)
                            && let Some(k) = k.as_str()
                        {
                            writes.push((k.to_string(), v.clone()));
                        }
                    }
                }
                other => return Err(Error::invalid_update(format!("Expected dict, got {other}"))),
            }
        }
        if let Some(r) = &cmd.resume {
            let is_map = r.as_object().is_some_and(|m| {
                !m.is_empty()
                    && m.keys().all(|k| k.len() == 32 && k.chars().all(|c| c.is_ascii_hexdigit()))
            });
            if is_map {
                if let Some(m) = r.as_object() {
                    for (k, v) in m {
                        self.resume_map.insert(k.clone(), v.clone());
                    }
                }
            } else {
                let pending_interrupts: BTreeSet<&str> = self
                    .pending
                    .iter()
                    .filter(|w| w.channel == INTERRUPT)
                    .filter(|w| {
                        !self
                            .pending
                            .iter()
                            .any(|o| o.task_id == w.task_id && !is_control(&o.channel))
                    })
                    .map(|w| w.task_id.as_str())
                    .collect();
                if pending_interrupts.len() > 1 {
                    return Err(Error::Usage(
                        "When there are multiple pending interrupts, you must specify the interrupt id when resuming. Docs: https://docs.langchain.com/oss/python/langgraph/interrupts#handling-multiple-interrupts.".into(),
                    ));
                }
                writes.push((RESUME.into(), r.clone()));
            }
        }
        if !writes.is_empty() {
            self.put_writes(NULL_TASK_ID, "", writes).await?;
        }
        Ok(())
    }

    fn emit_checkpoint(&self, tasks: &[Task]) {
        let wants_cp = self.emitter.wants(StreamMode::Checkpoints);
        let wants_debug = self.emitter.wants(StreamMode::Debug);
        if !wants_cp && !wants_debug {
            return;
        }
        let mut attached: Vec<Task> = tasks.to_vec();
        for t in attached.iter_mut() {
            if !t.finished && t.writes.is_empty() {
                t.attach(&self.pending);
            }
        }
        let payload = crate::state::checkpoint_payload(self, &attached);
        if wants_cp {
            self.emitter.emit(StreamMode::Checkpoints, payload.clone());
        }
        if wants_debug {
            let step = self.metadata.get("step").cloned().unwrap_or(Value::Null);
            self.emitter.emit(
                StreamMode::Debug,
                json!({"step": step, "timestamp": self.checkpoint.ts, "type": "checkpoint", "payload": payload}),
            );
        }
    }

    fn task_info(&self, t: &Task) -> TaskInfo {
        let task_ns = if self.ns.is_empty() {
            format!("{}:{}", t.name, t.id)
        } else {
            format!("{}|{}:{}", self.ns, t.name, t.id)
        };
        TaskInfo {
            id: t.id.clone(),
            name: t.name.clone(),
            step: self.step,
            path: t.path.to_value(),
            triggers: t.triggers.clone(),
            task_ns,
            checkpoint_ns: self.ns.clone(),
            remaining_steps: self.stop - self.step,
        }
    }

    /// Runs the unfinished tasks; persists each task's writes as it finishes.
    async fn run_tasks(&mut self, tasks: &mut [Task]) -> Result<Vec<Interrupt>> {
        let shared = Arc::new(StepShared {
            graph: Arc::clone(&self.graph),
            saver: self.saver.clone(),
            config: Arc::clone(&self.config),
            thread_id: self.thread_id.clone(),
            ns: self.ns.clone(),
            parents: self.parents.clone(),
            checkpoint_id: self.checkpoint.id.clone(),
            emitter: self.emitter.clone(),
            state: read_state(&self.channels, &self.graph.state_keys),
        });
        let state = &shared.state;
        let null_resume = self
            .pending
            .iter()
            .find(|w| w.task_id == NULL_TASK_ID && w.channel == RESUME)
            .map(|w| w.value.clone());
        let mut runs: Vec<(usize, TaskRun)> = Vec::new();
        for (i, t) in tasks.iter().enumerate() {
            if t.finished {
                continue;
            }
            let info = self.task_info(t);
            let mut resume = t.resume.clone();
            for int in &t.interrupts {
                if let Some(v) = self.resume_map.get(&int.id) {
                    resume.push(v.clone());
                }
            }
            let resume_changed = resume.len() != t.resume.len();
            let scratch = Arc::new(Mutex::new(Scratchpad {
                task_ns: info.task_ns.clone(),
                counter: 0,
                resume,
                resume_changed,
                null_resume: null_resume.clone(),
                parent: self.parent_scratch.clone(),
            }));
            if self.wants_task_events() {
                let input = if t.name == START || matches!(t.path, TaskPath::Push(_)) {
                    t.input.clone()
                } else {
                    Value::Object(state.clone())
                };
                let payload =
                    json!({"id": t.id, "name": t.name, "input": input, "triggers": t.triggers});
                self.emit_task_event("task", payload);
            }
            let run = TaskRun {
                step: Arc::clone(&shared),
                info: Arc::new(info),
                input: t.input.clone(),
                scratch,
                is_push: matches!(t.path, TaskPath::Push(_)),
            };
            runs.push((i, run));
        }
        // One task (the common case in chains and loops) runs inline; several run concurrently.
        let mut single = None;
        let mut running = FuturesUnordered::new();
        if runs.len() == 1
            && let Some((i, run)) = runs.pop()
        {
            single = Some((i, run.run().await));
        }
        for (i, run) in runs {
            running.push(async move { (i, run.run().await) });
        }
        let mut interrupts = Vec::new();
        let mut failure: Option<(usize, NodeError)> = None;
        let mut parent_cmd: Option<Box<Command>> = None;
        loop {
            let next = match single.take() {
                Some(done) => Some(done),
                None => running.next().await,
            };
            let Some((i, (res, scratch))) = next else { break };
            let (resume_list, changed) = match scratch.lock() {
                Ok(s) => (s.resume.clone(), s.resume_changed),
                Err(_) => (Vec::new(), false),
            };
            let task_id = tasks[i].id.clone();
            let path = tasks[i].path.sort_key();
            if changed && !resume_list.is_empty() {
                self.put_writes(&task_id, &path, vec![(RESUME.into(), Value::from(resume_list))])
                    .await?;
            }
            match res {
                Ok(writes) => {
                    let stored = if writes.is_empty() {
                        vec![(NO_WRITES.to_string(), Value::Null)]
                    } else {
                        writes.clone()
                    };
                    self.put_writes(&task_id, &path, stored).await?;
                    let t = &mut tasks[i];
                    t.writes = writes;
                    t.finished = true;
                    if t.name != START && self.emitter.wants(StreamMode::Messages) {
                        let info = self.task_info(t);
                        emit_output_messages(
                            &self.emitter,
                            &self.config,
                            &info,
                            &t.input,
                            state,
                            &t.writes,
                        );
                    }
                    let t = &mut tasks[i];
                    if t.name != START && self.emitter.wants(StreamMode::Updates) {
                        for chunk in update_chunks(&self.graph, &t.name, &t.writes) {
                            self.emitter.emit(StreamMode::Updates, chunk);
                        }
                    }
                    if self.wants_task_events() {
                        let result = json!({
                            "id": t.id, "name": t.name, "error": null,
                            "result": task_result(&self.graph, &t.writes), "interrupts": []
                        });
                        self.emit_task_event("task_result", result);
                    }
                }
                Err(NodeError::Interrupt(ints)) => {
                    let vals: Vec<Value> = ints.iter().map(Interrupt::to_value).collect();
                    self.put_writes(
                        &task_id,
                        &path,
                        vec![(INTERRUPT.into(), Value::from(vals.clone()))],
                    )
                    .await?;
                    self.emitter.emit(StreamMode::Updates, json!({ INTERRUPT: vals.clone() }));
                    self.emitter.emit_with(StreamMode::Values, || {
                        let mut v = self.output_values();
                        v.insert(INTERRUPT.into(), Value::from(vals.clone()));
                        Value::Object(v)
                    });
                    let t = &mut tasks[i];
                    t.interrupts = ints.clone();
                    let with_schema: Vec<Value> = ints
                        .iter()
                        .map(|i| json!({"value": i.value, "id": i.id, "response_schema": null}))
                        .collect();
                    let result = json!({
                        "id": t.id, "name": t.name, "error": null, "result": {}, "interrupts": with_schema
                    });
                    self.emit_task_event("task_result", result);
                    interrupts.extend(ints);
                }
                Err(NodeError::ParentCommand(cmd)) => {
                    let t = &mut tasks[i];
                    t.finished = true;
                    parent_cmd = Some(cmd);
                }
                Err(e) => {
                    failure = Some((i, e));
                    // Siblings that are already done still count; the rest are cancelled.
                    while let Some(Some((j, (res, _)))) = running.next().now_or_never() {
                        if let Ok(writes) = res {
                            let tid = tasks[j].id.clone();
                            let p = tasks[j].path.sort_key();
                            let stored = if writes.is_empty() {
                                vec![(NO_WRITES.to_string(), Value::Null)]
                            } else {
                                writes.clone()
                            };
                            self.put_writes(&tid, &p, stored).await?;
                            tasks[j].writes = writes;
                            tasks[j].finished = true;
                        }
                    }
                    break;
                }
            }
        }
        drop(running);
        if let Some((i, e)) = failure {
            let t = &tasks[i];
            let repr = e.repr();
            self.put_writes(
                &t.id.clone(),
                &t.path.sort_key(),
                vec![(ERROR.into(), Value::String(repr.clone()))],
            )
            .await?;
            let result = json!({"id": t.id, "name": t.name, "error": e.to_json(), "result": {}, "interrupts": []});
            self.emit_task_event("task_result", result);
            return Err(match e {
                NodeError::Engine(inner) => *inner,
                other => Error::Node(other),
            });
        }
        if let Some(cmd) = parent_cmd {
            // Nothing of the jump is saved in the child; the parent's task applies it.
            return Err(Error::ParentCommand(cmd));
        }
        Ok(interrupts)
    }

    fn wants_task_events(&self) -> bool {
        self.emitter.wants(StreamMode::Tasks) || self.emitter.wants(StreamMode::Debug)
    }

    fn emit_task_event(&self, kind: &str, payload: Value) {
        // The hidden `__start__` task never shows in task streams.
        if payload["name"] == START {
            return;
        }
        self.emitter.emit_with(StreamMode::Tasks, || payload.clone());
        self.emitter.emit_with(
            StreamMode::Debug,
            || json!({"step": self.step, "timestamp": now_iso(), "type": kind, "payload": payload}),
        );
    }

    async fn after_tick(&mut self, tasks: &[Task]) -> Result<()> {
        let mut ts: Vec<TaskWrites<'_>> = tasks
            .iter()
            .map(|t| (t.name.as_str(), &t.path, t.triggers.as_slice(), t.writes.as_slice()))
            .collect();
        let updated = apply_writes(&self.graph, &mut self.checkpoint, &mut self.channels, &mut ts)?;
        let touched_output = tasks
            .iter()
            .flat_map(|t| t.writes.iter())
            .any(|(c, _)| self.graph.output_keys.contains(c));
        if touched_output {
            self.emit_values();
        }
        self.updated = Some(updated.clone());
        self.put_checkpoint("loop", Some(updated.into_iter().collect())).await
    }
}

/// Runs a graph to its end. Used by [`CompiledGraph::invoke`] and friends.
pub(crate) async fn execute(
    graph: Arc<CompiledGraph>,
    input: Input,
    config: RunConfig,
    tx: Option<tokio::sync::mpsc::UnboundedSender<crate::context::StreamEvent>>,
) -> Result<RunOutcome> {
    let saver = graph.checkpointer.clone();
    if saver.is_some() && config.thread_id.is_none() {
        return Err(Error::Usage(
            "Checkpointer requires one or more of the following 'configurable' keys: thread_id, checkpoint_ns, checkpoint_id".into(),
        ));
    }
    let thread_id = config.thread_id.clone().unwrap_or_default();
    let ns = config.checkpoint_ns.clone();
    let emitter = Emitter::new(tx, &config);
    let mut lp =
        Loop::enter(graph, saver, Arc::new(config), thread_id, ns, Map::new(), emitter, None)
            .await?;
    let exit = lp.run(input).await?;
    let mut values = lp.output_values();
    let interrupts = match exit {
        Exit::Done => Vec::new(),
        Exit::Interrupted(i) => i,
    };
    if !interrupts.is_empty() {
        values.insert(
            INTERRUPT.into(),
            Value::from(interrupts.iter().map(Interrupt::to_value).collect::<Vec<_>>()),
        );
    }
    Ok(RunOutcome { values: Value::Object(values), interrupts, checkpoint: lp.at() })
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Final values of the output keys (with `__interrupt__` when the run paused).
    pub values: Value,
    /// Interrupts raised by the last step.
    pub interrupts: Vec<Interrupt>,
    /// The last checkpoint.
    pub checkpoint: CheckpointRef,
}

#[allow(dead_code)]
const _COPY: &str = COPY;
