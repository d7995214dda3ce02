//! `orrery-engine`: LangGraph's execution model over JSON state.
//!
//! A [`StateGraph`] is lowered to a Pregel program of channels and nodes; runs advance in
//! super-steps (plan tasks from channel versions, run them in parallel, apply their writes at
//! the barrier in task-path order, save one checkpoint). Interrupts, `Command`, `Send`,
//! subgraphs, replay, forks and `update_state` follow LangGraph 1.2 (see ARCHITECTURE.md).
//!
//! Architecture Invariant: the engine does no IO of its own; persistence goes through the
//! [`Checkpointer`] trait and streaming through a channel the caller owns.

mod channel;
mod checkpoint;
mod context;
mod drawing;
mod error;
mod graph;
mod memory;
pub mod messages;
mod pregel;
mod retry;
mod state;
mod types;

use std::sync::Arc;

/// The engine's hash maps: foldhash instead of SipHash (keys are channel and node names the
/// graph's author chose, hashed on every step; they are not attacker-controlled table sizes).
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// Insertion-ordered maps, with the same hasher.
pub(crate) type IndexMap<K, V> = indexmap::IndexMap<K, V, foldhash::fast::RandomState>;

pub use channel::{Reducer, ReducerFn};
pub use checkpoint::{
    Checkpoint, CheckpointRef, CheckpointTuple, Checkpointer, ListOptions, PendingWrite, Version,
    format_version, metadata_matches, new_checkpoint_id, now_iso, special_write_index,
};
pub use context::{NodeContext, RunConfig, StreamEvent, StreamMode, TaskInfo};
pub use error::{Error, NodeError, Result};
pub use graph::{
    Breakpoints, CompileOptions, CompiledGraph, Managed, NodeFn, NodeOptions, RouterFn, StateGraph,
};
pub use memory::InMemorySaver;
pub use pregel::RunOutcome;
pub use retry::RetryPolicy;
pub use state::{SnapshotTask, StateSnapshot};
pub use types::{
    Command, CommandGraph, END, Goto, Input, Interrupt, NULL_TASK_ID, NodeOutput, START, Send,
};

impl CompiledGraph {
    /// Runs the graph to its end (or an interrupt) and returns the final values.
    ///
    /// # Errors
    /// A node's failure, a recursion-limit stop, bad input, or a checkpointer failure.
    pub async fn invoke(&self, input: impl Into<Input>, config: RunConfig) -> Result<RunOutcome> {
        let mut config = config;
        config.stream_modes.clear();
        pregel::execute(Arc::new(self.clone()), input.into(), config, None).await
    }

    /// Runs the graph, sending stream events for `config.stream_modes` to `tx` as they happen.
    ///
    /// # Errors
    /// As [`CompiledGraph::invoke`]; events sent before the error stay sent.
    pub async fn stream_to(
        &self,
        input: impl Into<Input>,
        config: RunConfig,
        tx: tokio::sync::mpsc::UnboundedSender<StreamEvent>,
    ) -> Result<RunOutcome> {
        pregel::execute(Arc::new(self.clone()), input.into(), config, Some(tx)).await
    }

    /// Runs the graph and collects every stream event (with the run's result).
    pub async fn stream(
        &self,
        input: impl Into<Input>,
        config: RunConfig,
    ) -> (Vec<StreamEvent>, Result<RunOutcome>) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let res = self.stream_to(input, config, tx).await;
        let mut events = Vec::new();
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        (events, res)
    }
}
