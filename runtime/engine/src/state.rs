//! Reading and editing a thread's state: `get_state`, `get_state_history`, `update_state`
//! (`engine-semantics` §2.5, §2.6, §4.3).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::checkpoint::{
    Checkpoint, CheckpointRef, CheckpointTuple, Checkpointer, ListOptions, new_checkpoint_id,
    now_iso,
};
use crate::context::RunConfig;
use crate::error::{Error, Result};
use crate::graph::CompiledGraph;
use crate::pregel::{
    Loop, OwnedTaskWrites, Task, TaskPath, TaskWrites, Write, apply_null_writes, apply_writes,
    channels_from, is_control, node_writes, prepare_tasks, read_state, task_result,
};
use crate::types::{
    COPY, END, ERROR, INPUT, INTERRUPT, Interrupt, NodeOutput, PUSH, RETURN, START,
};

/// A task of a snapshot (LangGraph's `PregelTask`).
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotTask {
    /// Task id.
    pub id: String,
    /// Node name.
    pub name: String,
    /// Task path.
    pub path: Value,
    /// The error it failed with (repr string).
    pub error: Option<Value>,
    /// Interrupts it raised.
    pub interrupts: Vec<Interrupt>,
    /// For subgraph nodes: `{thread_id, checkpoint_ns}` of the child, or its snapshot.
    pub state: Option<Value>,
    /// Its output writes, once finished.
    pub result: Option<Value>,
}

/// A thread's state at a checkpoint (LangGraph's `StateSnapshot`).
#[derive(Debug, Clone, PartialEq)]
pub struct StateSnapshot {
    /// Output keys' values.
    pub values: Value,
    /// Nodes that run next.
    pub next: Vec<String>,
    /// `{thread_id, checkpoint_ns, checkpoint_id, checkpoint_map?}`.
    pub config: Value,
    /// Checkpoint metadata.
    pub metadata: Option<Value>,
    /// Checkpoint time.
    pub created_at: Option<String>,
    /// The parent checkpoint's config.
    pub parent_config: Option<Value>,
    /// Tasks planned at this checkpoint.
    pub tasks: Vec<SnapshotTask>,
    /// Interrupts of those tasks.
    pub interrupts: Vec<Interrupt>,
}

impl StateSnapshot {
    /// The JSON form (`created_at` included).
    pub fn to_value(&self) -> Value {
        json!({
            "values": self.values,
            "next": self.next,
            "config": self.config,
            "metadata": self.metadata,
            "created_at": self.created_at,
            "parent_config": self.parent_config,
            "tasks": self.tasks.iter().map(|t| json!({
                "id": t.id, "name": t.name, "path": t.path, "error": t.error,
                "interrupts": t.interrupts.iter().map(Interrupt::to_value).collect::<Vec<_>>(),
                "state": t.state, "result": t.result,
            })).collect::<Vec<_>>(),
            "interrupts": self.interrupts.iter().map(Interrupt::to_value).collect::<Vec<_>>(),
        })
    }
}

/// `{thread_id, checkpoint_ns, checkpoint_id}` plus `checkpoint_map` below the root.
pub(crate) fn config_value(at: &CheckpointRef, metadata: &Map<String, Value>) -> Value {
    let mut m = Map::new();
    m.insert("thread_id".into(), Value::String(at.thread_id.clone()));
    m.insert("checkpoint_ns".into(), Value::String(at.checkpoint_ns.clone()));
    m.insert("checkpoint_id".into(), Value::String(at.checkpoint_id.clone()));
    if let Some(Value::Object(parents)) = metadata.get("parents")
        && !parents.is_empty()
    {
        let mut map = parents.clone();
        map.insert(at.checkpoint_ns.clone(), Value::String(at.checkpoint_id.clone()));
        m.insert("checkpoint_map".into(), Value::Object(map));
    }
    Value::Object(m)
}

fn task_ns(ns: &str, name: &str, id: &str) -> String {
    if ns.is_empty() { format!("{name}:{id}") } else { format!("{ns}|{name}:{id}") }
}

/// The payload of a `checkpoints` stream event for the loop's current checkpoint.
pub(crate) fn checkpoint_payload(lp: &Loop, tasks: &[Task]) -> Value {
    let at = lp.at();
    let parent = lp.parent_id.as_ref().map(|p| {
        config_value(&CheckpointRef { checkpoint_id: p.clone(), ..at.clone() }, &lp.metadata)
    });
    let subgraphs: Vec<String> = lp.graph.subgraphs().into_iter().map(|(n, _)| n).collect();
    let task_values: Vec<Value> = tasks
        .iter()
        .map(|t| {
            let state = if subgraphs.contains(&t.name) {
                json!({"configurable": {"thread_id": lp.thread_id, "checkpoint_ns": task_ns(&lp.ns, &t.name, &t.id)}})
            } else {
                Value::Null
            };
            if let Some(err) = &t.error {
                json!({"id": t.id, "name": t.name, "error": err, "state": state})
            } else {
                let mut m = json!({
                    "id": t.id, "name": t.name,
                    "interrupts": t.interrupts.iter().map(|i| json!({"value": i.value, "id": i.id, "response_schema": null})).collect::<Vec<_>>(),
                    "state": state,
                });
                if t.finished {
                    m["result"] = task_result(&lp.graph, &t.writes);
                }
                m
            }
        })
        .collect();
    json!({
        "config": {"configurable": config_value(&at, &lp.metadata)},
        "parent_config": parent.map(|p| json!({"configurable": p})),
        "values": Value::Object(lp.output_values()),
        "metadata": lp.metadata,
        "next": tasks.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        "tasks": task_values,
    })
}

impl CompiledGraph {
    fn saver(&self) -> Result<&Arc<dyn Checkpointer>> {
        self.checkpointer.as_ref().ok_or(Error::NoCheckpointer)
    }

    /// The thread's state at the addressed (or latest) checkpoint. Live state (no
    /// `checkpoint_id`) includes the writes of tasks that already finished in the pending step.
    ///
    /// # Errors
    /// Without a checkpointer or a thread id, or when the checkpointer fails.
    pub async fn get_state(&self, config: &RunConfig, subgraphs: bool) -> Result<StateSnapshot> {
        let saver = self.saver()?;
        let thread =
            config.thread_id.clone().ok_or(Error::Usage("thread_id is required".into()))?;
        if !config.checkpoint_ns.is_empty()
            && let Some(g) = self.subgraph_for_ns(&config.checkpoint_ns)
        {
            let g = g.as_ref().clone().with_checkpointer(Some(Arc::clone(saver)));
            return Box::pin(g.get_state_in(config, &thread, subgraphs)).await;
        }
        self.get_state_in(config, &thread, subgraphs).await
    }

    async fn get_state_in(
        &self,
        config: &RunConfig,
        thread: &str,
        subgraphs: bool,
    ) -> Result<StateSnapshot> {
        let saver = self.saver()?;
        let saved =
            saver.get_tuple(thread, &config.checkpoint_ns, config.checkpoint_id.as_deref()).await?;
        let live = config.checkpoint_id.is_none();
        self.snapshot(saved, config, live, subgraphs).await
    }

    /// The subgraph addressed by a namespace like `sub:<task id>|inner:<task id>`.
    fn subgraph_for_ns(&self, ns: &str) -> Option<Arc<CompiledGraph>> {
        let mut graph: Option<Arc<CompiledGraph>> = None;
        for part in ns.split('|') {
            let name = part.split(':').next().unwrap_or_default();
            let current = match &graph {
                Some(g) => g.subgraphs(),
                None => self.subgraphs(),
            };
            graph = Some(current.into_iter().find(|(n, _)| n == name)?.1);
        }
        graph
    }

    async fn snapshot(
        &self,
        saved: Option<CheckpointTuple>,
        config: &RunConfig,
        live: bool,
        subgraphs: bool,
    ) -> Result<StateSnapshot> {
        let Some(saved) = saved else {
            let mut cfg = Map::new();
            cfg.insert("thread_id".into(), json!(config.thread_id));
            if !config.checkpoint_ns.is_empty() {
                cfg.insert("checkpoint_ns".into(), json!(config.checkpoint_ns));
            }
            return Ok(StateSnapshot {
                values: json!({}),
                next: vec![],
                config: Value::Object(cfg),
                metadata: None,
                created_at: None,
                parent_config: None,
                tasks: vec![],
                interrupts: vec![],
            });
        };
        let mut checkpoint = saved.checkpoint.clone();
        let mut channels = channels_from(self, &checkpoint);
        let step = saved.metadata.get("step").and_then(Value::as_i64).unwrap_or(-1) + 1;
        let ns = saved.config.checkpoint_ns.clone();
        let mut tasks = prepare_tasks(self, &checkpoint, &channels, &ns, step, None);
        apply_null_writes(self, &mut checkpoint, &mut channels, &saved.pending_writes)?;
        // Writes count as "has run" unless they are errors or interrupts (LangGraph counts a
        // stored resume answer too).
        let mut has_writes: Vec<bool> = vec![false; tasks.len()];
        for (i, t) in tasks.iter().enumerate() {
            has_writes[i] =
                saved.pending_writes.iter().any(|w| w.task_id == t.id && !is_control(&w.channel));
        }
        if live {
            let mut with_writes: Vec<OwnedTaskWrites> = Vec::new();
            for t in &tasks {
                let ws: Vec<(String, Value)> = saved
                    .pending_writes
                    .iter()
                    .filter(|w| w.task_id == t.id && !is_control(&w.channel))
                    .map(|w| (w.channel.clone(), w.value.clone()))
                    .collect();
                if !ws.is_empty() {
                    with_writes.push((t.name.clone(), t.path.clone(), t.triggers.clone(), ws));
                }
            }
            if !with_writes.is_empty() {
                let mut ts: Vec<TaskWrites<'_>> = with_writes
                    .iter()
                    .map(|(n, p, tr, w)| (n.as_str(), p, tr.as_slice(), w.as_slice()))
                    .collect();
                apply_writes(self, &mut checkpoint, &mut channels, &mut ts)?;
            }
        }
        let subgraph_names: BTreeMap<String, Arc<CompiledGraph>> =
            self.subgraphs().into_iter().collect();
        let mut out_tasks = Vec::new();
        for (i, t) in tasks.iter_mut().enumerate() {
            t.attach(&saved.pending_writes);
            let ret =
                saved.pending_writes.iter().find(|w| w.task_id == t.id && w.channel == RETURN);
            let state = match subgraph_names.get(&t.name) {
                Some(g) => {
                    let child_ns = task_ns(&ns, &t.name, &t.id);
                    if subgraphs {
                        let g = g.as_ref().clone().with_checkpointer(self.checkpointer.clone());
                        let mut cfg = config.clone();
                        cfg.checkpoint_ns = child_ns;
                        cfg.checkpoint_id = None;
                        let snap =
                            Box::pin(g.get_state_in(&cfg, &saved.config.thread_id, true)).await?;
                        Some(snap.to_value())
                    } else {
                        Some(
                            json!({"thread_id": saved.config.thread_id, "checkpoint_ns": child_ns}),
                        )
                    }
                }
                None => None,
            };
            let all_writes: Vec<(String, Value)> = saved
                .pending_writes
                .iter()
                .filter(|w| {
                    w.task_id == t.id
                        && w.channel != ERROR
                        && w.channel != INTERRUPT
                        && w.channel != RETURN
                })
                .map(|w| (w.channel.clone(), w.value.clone()))
                .collect();
            let result = if !has_writes[i] {
                None
            } else if let Some(r) = ret {
                Some(r.value.clone())
            } else {
                Some(task_result(self, &all_writes))
            };
            out_tasks.push(SnapshotTask {
                id: t.id.clone(),
                name: t.name.clone(),
                path: t.path.to_value(),
                error: t.error.clone(),
                // Live state shows only unanswered interrupts; history shows all of them.
                interrupts: if live && has_writes[i] { Vec::new() } else { t.interrupts.clone() },
                state,
                result,
            });
        }
        // Only live state folds finished tasks in; history lists every planned task.
        let next: Vec<String> = tasks
            .iter()
            .enumerate()
            .filter(|(i, _)| !(live && has_writes[*i]))
            .map(|(_, t)| t.name.clone())
            .collect();
        let interrupts = out_tasks.iter().flat_map(|t| t.interrupts.clone()).collect();
        Ok(StateSnapshot {
            values: Value::Object(read_state(&channels, &self.output_keys)),
            next,
            config: config_value(&saved.config, &saved.metadata),
            metadata: Some(Value::Object(saved.metadata.clone())),
            created_at: Some(saved.checkpoint.ts.clone()),
            parent_config: saved.parent.as_ref().map(|p| config_value(p, &saved.metadata)),
            tasks: out_tasks,
            interrupts,
        })
    }

    /// Checkpoints of the thread, newest first across branches, as snapshots.
    ///
    /// # Errors
    /// Without a checkpointer or a thread id, or when the checkpointer fails.
    pub async fn get_state_history(
        &self,
        config: &RunConfig,
        filter: Option<Map<String, Value>>,
        before: Option<String>,
        limit: Option<usize>,
    ) -> Result<Vec<StateSnapshot>> {
        let saver = self.saver()?;
        let thread =
            config.thread_id.clone().ok_or(Error::Usage("thread_id is required".into()))?;
        let graph = if config.checkpoint_ns.is_empty() {
            None
        } else {
            self.subgraph_for_ns(&config.checkpoint_ns)
                .map(|g| g.as_ref().clone().with_checkpointer(Some(Arc::clone(saver))))
        };
        let graph = graph.as_ref().unwrap_or(self);
        let options = ListOptions {
            checkpoint_ns: Some(config.checkpoint_ns.clone()),
            checkpoint_id: config.checkpoint_id.clone(),
            filter,
            before,
            limit,
        };
        let tuples = saver.list(&thread, &options).await?;
        let mut out = Vec::with_capacity(tuples.len());
        for t in tuples {
            out.push(graph.snapshot(Some(t), config, false, false).await?);
        }
        Ok(out)
    }

    /// Applies `values` as if node `as_node` had written them, making a new checkpoint
    /// (`source: update`) after the addressed one. Returns the new checkpoint's config.
    ///
    /// # Errors
    /// [`Error::InvalidUpdate`] for an unknown or ambiguous node, as LangGraph does.
    pub async fn update_state(
        &self,
        config: &RunConfig,
        values: Option<Value>,
        as_node: Option<&str>,
    ) -> Result<Value> {
        self.bulk_update_state(config, vec![vec![(values, as_node.map(str::to_string))]]).await
    }

    /// Several supersteps of updates, one checkpoint each.
    ///
    /// # Errors
    /// As [`CompiledGraph::update_state`].
    pub async fn bulk_update_state(
        &self,
        config: &RunConfig,
        supersteps: Vec<Vec<(Option<Value>, Option<String>)>>,
    ) -> Result<Value> {
        let saver = Arc::clone(self.saver()?);
        if supersteps.is_empty() {
            return Err(Error::Usage("No supersteps provided".into()));
        }
        if supersteps.iter().any(Vec::is_empty) {
            return Err(Error::Usage("No updates provided".into()));
        }
        let thread =
            config.thread_id.clone().ok_or(Error::Usage("thread_id is required".into()))?;
        let mut current = config.clone();
        let mut last = Value::Null;
        for updates in supersteps {
            let at = self.update_superstep(&saver, &thread, &current, updates).await?;
            current.checkpoint_id = Some(at.1.checkpoint_id.clone());
            current.checkpoint_ns = at.1.checkpoint_ns.clone();
            last = at.0;
        }
        Ok(last)
    }

    async fn update_superstep(
        &self,
        saver: &Arc<dyn Checkpointer>,
        thread: &str,
        config: &RunConfig,
        updates: Vec<(Option<Value>, Option<String>)>,
    ) -> Result<(Value, CheckpointRef)> {
        let ns = config.checkpoint_ns.clone();
        let saved = saver.get_tuple(thread, &ns, config.checkpoint_id.as_deref()).await?;
        let mut checkpoint =
            saved.as_ref().map(|s| s.checkpoint.clone()).unwrap_or_else(Checkpoint::empty);
        let step = saved
            .as_ref()
            .and_then(|s| s.metadata.get("step"))
            .and_then(Value::as_i64)
            .unwrap_or(-1);
        let parents = saved
            .as_ref()
            .and_then(|s| s.metadata.get("parents").cloned())
            .unwrap_or_else(|| json!({}));
        let saved_at = saved.as_ref().map(|s| s.config.clone());
        let mut channels = channels_from(self, &checkpoint);
        let (values, as_node) = updates[0].clone();

        let put = |cp: Checkpoint, source: &str, step: i64, parent: Option<String>| {
            let saver = Arc::clone(saver);
            let mut metadata = Map::new();
            metadata.insert("source".into(), json!(source));
            metadata.insert("step".into(), json!(step));
            metadata.insert("parents".into(), parents.clone());
            let at = CheckpointRef {
                thread_id: thread.to_string(),
                checkpoint_ns: ns.clone(),
                checkpoint_id: cp.id.clone(),
            };
            async move {
                saver
                    .put(&at.thread_id, &at.checkpoint_ns, parent.as_deref(), &cp, &metadata)
                    .await?;
                Ok::<_, Error>((config_value(&at, &metadata), at))
            }
        };
        let snapshot_of = |cp: &Checkpoint,
                           channels: &crate::IndexMap<String, crate::channel::Channel>,
                           step: i64,
                           updated: Option<Vec<String>>| {
            let mut next = cp.clone();
            next.id = new_checkpoint_id(step);
            next.ts = now_iso();
            next.updated_channels = updated;
            next.channel_values = Map::new();
            for (name, ch) in channels {
                if next.channel_versions.contains_key(name)
                    && let Some(v) = ch.checkpoint()
                {
                    next.channel_values.insert(name.clone(), v);
                }
            }
            next
        };

        if values.is_none() && as_node.as_deref() == Some(END) {
            if updates.len() > 1 {
                return Err(Error::invalid_update(
                    "Cannot apply multiple updates when clearing state",
                ));
            }
            if let Some(saved) = &saved {
                let mut tasks = prepare_tasks(self, &checkpoint, &channels, &ns, step + 1, None);
                apply_null_writes(self, &mut checkpoint, &mut channels, &saved.pending_writes)?;
                for t in tasks.iter_mut() {
                    t.writes = saved
                        .pending_writes
                        .iter()
                        .filter(|w| {
                            w.task_id == t.id && w.channel != ERROR && w.channel != INTERRUPT
                        })
                        .map(|w| (w.channel.clone(), w.value.clone()))
                        .collect();
                }
                let mut ts: Vec<TaskWrites<'_>> = tasks
                    .iter()
                    .map(|t| (t.name.as_str(), &t.path, t.triggers.as_slice(), t.writes.as_slice()))
                    .collect();
                apply_writes(self, &mut checkpoint, &mut channels, &mut ts)?;
            }
            let cp = snapshot_of(&checkpoint, &channels, step, None);
            let (v, at) = put(cp, "update", step + 1, saved_at.map(|s| s.checkpoint_id)).await?;
            return Ok((v, at));
        }
        if as_node.as_deref() == Some(INPUT) {
            if updates.len() > 1 {
                return Err(Error::invalid_update(
                    "Cannot apply multiple updates when updating as input",
                ));
            }
            let Some(v) = values.filter(Value::is_object) else {
                return Err(Error::invalid_update("Received no input writes for __start__"));
            };
            let writes = vec![(START.to_string(), v)];
            let path = TaskPath::Pull(INPUT.into());
            let mut ts = vec![(INPUT, &path, &[][..], writes.as_slice())];
            apply_writes(self, &mut checkpoint, &mut channels, &mut ts)?;
            let next_step = if saved.is_some() { step + 1 } else { -1 };
            let cp = snapshot_of(&checkpoint, &channels, next_step, None);
            let input_task = uuid::Uuid::new_v5(
                &uuid::Uuid::parse_str(&checkpoint.id).unwrap_or_default(),
                INPUT.as_bytes(),
            )
            .to_string();
            let (v, at) =
                put(cp, "input", next_step, saved_at.as_ref().map(|s| s.checkpoint_id.clone()))
                    .await?;
            // The input is recorded against the checkpoint it was applied to.
            if let Some(prev) = &saved_at {
                saver.put_writes(prev, &input_task, "", &writes).await?;
            }
            return Ok((v, at));
        }
        if as_node.as_deref() == Some(COPY) {
            if updates.len() > 1 {
                return Err(Error::invalid_update("Cannot copy checkpoint with multiple updates"));
            }
            let Some(saved) = &saved else {
                return Err(Error::invalid_update("Cannot copy a non-existent checkpoint"));
            };
            let mut cp = saved.checkpoint.clone();
            cp.id = new_checkpoint_id(step);
            cp.ts = now_iso();
            cp.updated_channels = None;
            let parent = saved.parent.as_ref().map(|p| p.checkpoint_id.clone());
            let (v, at) = put(cp, "fork", step + 1, parent).await?;
            return Ok((v, at));
        }

        // Regular updates: run the writers of `as_node` on the values.
        let mut node_to_task_ids: BTreeMap<String, std::collections::VecDeque<String>> =
            BTreeMap::new();
        if saved.is_some() {
            for t in prepare_tasks(self, &checkpoint, &channels, &ns, step + 1, None) {
                node_to_task_ids.entry(t.name.clone()).or_default().push_back(t.id.clone());
            }
        }
        let mut valid: Vec<(String, Option<Value>)> = Vec::new();
        if updates.len() == 1 {
            let (values, as_node) = updates[0].clone();
            let user_nodes: Vec<&String> = self.nodes.keys().collect();
            let as_node = match as_node {
                Some(n) => Some(n),
                None if user_nodes.len() == 1 => Some(user_nodes[0].clone()),
                None if !checkpoint
                    .versions_seen
                    .values()
                    .any(|vv| vv.values().any(|v| *v > 0)) =>
                {
                    Some(START.to_string())
                }
                None => {
                    let mut last: Vec<(u64, &String)> = checkpoint
                        .versions_seen
                        .iter()
                        .filter(|(n, _)| self.nodes.contains_key(*n))
                        .flat_map(|(n, seen)| seen.values().map(move |v| (*v, n)))
                        .collect();
                    last.sort();
                    match last.len() {
                        0 => None,
                        1 => Some(last[0].1.clone()),
                        n if last[n - 1].0 != last[n - 2].0 => Some(last[n - 1].1.clone()),
                        _ => None,
                    }
                }
            };
            let Some(as_node) = as_node else {
                return Err(Error::invalid_update("Ambiguous update, specify as_node"));
            };
            if !self.nodes.contains_key(&as_node) {
                return Err(Error::invalid_update(format!("Node {as_node} does not exist")));
            }
            valid.push((as_node, values));
        } else {
            for (values, as_node) in updates {
                let Some(as_node) = as_node else {
                    return Err(Error::invalid_update(
                        "as_node is required when applying multiple updates",
                    ));
                };
                if !self.nodes.contains_key(&as_node) {
                    return Err(Error::invalid_update(format!("Node {as_node} does not exist")));
                }
                valid.push((as_node, values));
            }
        }
        let state = read_state(&channels, &self.state_keys);
        let mut run: Vec<(String, String, Vec<Write>)> = Vec::new();
        for (as_node, values) in valid {
            let output = NodeOutput::Update(values.unwrap_or(Value::Null));
            let writes =
                node_writes(self, &as_node, &output, &state, config).map_err(|e| match e {
                    crate::error::NodeError::Engine(inner) => *inner,
                    other => Error::Node(other),
                })?;
            let task_id = node_to_task_ids
                .get_mut(&as_node)
                .and_then(|q| q.pop_front())
                .unwrap_or_else(|| {
                    uuid::Uuid::new_v5(
                        &uuid::Uuid::parse_str(&checkpoint.id).unwrap_or_default(),
                        INTERRUPT.as_bytes(),
                    )
                    .to_string()
                });
            run.push((as_node, task_id, writes));
        }
        // The writes are also kept on the checkpoint they build on when it is the thread's head,
        // so its history shows the updated task as done.
        let is_head = match &saved_at {
            Some(at) => saver
                .get_tuple(thread, &ns, None)
                .await?
                .is_some_and(|h| h.checkpoint.id == at.checkpoint_id),
            None => false,
        };
        if let Some(at) = saved_at.as_ref().filter(|_| is_head) {
            for (name, task_id, writes) in &run {
                let channel_writes: Vec<(String, Value)> =
                    writes.iter().filter(|w| w.0 != PUSH).cloned().collect();
                if !channel_writes.is_empty() {
                    saver
                        .put_writes(
                            at,
                            task_id,
                            &TaskPath::Pull(name.clone()).sort_key(),
                            &channel_writes,
                        )
                        .await?;
                }
            }
        }
        let interrupt_trigger = vec![INTERRUPT.to_string()];
        let paths: Vec<TaskPath> = run.iter().map(|_| TaskPath::Pull(String::new())).collect();
        let mut ts: Vec<TaskWrites<'_>> = run
            .iter()
            .zip(paths.iter())
            .map(|((n, _, w), p)| (n.as_str(), p, interrupt_trigger.as_slice(), w.as_slice()))
            .collect();
        apply_writes(self, &mut checkpoint, &mut channels, &mut ts)?;
        let cp = snapshot_of(&checkpoint, &channels, step + 1, None);
        put(cp, "update", step + 1, saved_at.map(|s| s.checkpoint_id)).await
    }
}
