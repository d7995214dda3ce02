//! Wire types of the LangGraph Server API (`api-contract.md` §4), shared by the runtime, the Rust
//! client and the UI.
//!
//! Architecture Invariant: this crate depends on serde only and builds for wasm32.
//! Field order follows the order the real server emits.

pub mod desktop;
pub mod forms;
pub mod graph_layout;
pub mod studio;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A JSON object.
pub type Object = Map<String, Value>;

/// The body of every API error: `{"detail": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub detail: String,
}

/// An assistant: a graph with a configuration, versioned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assistant {
    /// UUID.
    pub assistant_id: String,
    /// The graph it runs.
    pub graph_id: String,
    /// `{tags?, recursion_limit?, configurable?}`.
    pub config: Object,
    /// Runtime context (mirrors `config.configurable`).
    pub context: Object,
    /// Free-form metadata (`created_by: system` for system assistants).
    pub metadata: Object,
    /// Display name.
    pub name: String,
    /// ISO-8601 creation time.
    pub created_at: String,
    /// ISO-8601 update time.
    pub updated_at: String,
    /// Version number, from 1.
    pub version: i64,
    /// Description.
    pub description: Option<String>,
}

/// Thread status as the server derives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThreadStatus {
    /// Nothing running, nothing pending.
    Idle,
    /// A run is pending or running.
    Busy,
    /// The latest checkpoint has nodes to run next.
    Interrupted,
    /// The last run failed.
    Error,
}

impl ThreadStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadStatus::Idle => "idle",
            ThreadStatus::Busy => "busy",
            ThreadStatus::Interrupted => "interrupted",
            ThreadStatus::Error => "error",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<ThreadStatus> {
        Some(match s {
            "idle" => ThreadStatus::Idle,
            "busy" => ThreadStatus::Busy,
            "interrupted" => ThreadStatus::Interrupted,
            "error" => ThreadStatus::Error,
            _ => return None,
        })
    }
}

/// A thread: a conversation with its checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thread {
    /// UUID.
    pub thread_id: String,
    /// ISO-8601 creation time.
    pub created_at: String,
    /// ISO-8601 update time.
    pub updated_at: String,
    /// When the state last changed.
    pub state_updated_at: String,
    /// Metadata (`graph_id` and `assistant_id` are added by the first run).
    pub metadata: Object,
    /// Derived status.
    pub status: ThreadStatus,
    /// Thread config (`{}` until the first run).
    pub config: Object,
    /// Latest values, `null` before the first run.
    #[serde(default)]
    pub values: Option<Value>,
    /// The last run's error, after a run.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<Value>,
    /// Pending interrupts by task id, after a run.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub interrupts: Option<Value>,
}

/// Run status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Waiting for a worker.
    Pending,
    /// Executing.
    Running,
    /// Finished (an `interrupt()` also ends a run with success).
    Success,
    /// Failed.
    Error,
    /// Took too long.
    Timeout,
    /// Cancelled.
    Interrupted,
}

impl RunStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Error => "error",
            RunStatus::Timeout => "timeout",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "pending" => RunStatus::Pending,
            "running" => RunStatus::Running,
            "success" => RunStatus::Success,
            "error" => RunStatus::Error,
            "timeout" => RunStatus::Timeout,
            "interrupted" => RunStatus::Interrupted,
            _ => return None,
        })
    }

    /// Whether the run is still in flight.
    pub fn in_flight(self) -> bool {
        matches!(self, RunStatus::Pending | RunStatus::Running)
    }
}

/// A run of an assistant on a thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// UUID (v7, time ordered).
    pub run_id: String,
    /// Its thread.
    pub thread_id: String,
    /// Its assistant.
    pub assistant_id: String,
    /// Metadata.
    pub metadata: Object,
    /// Status.
    pub status: RunStatus,
    /// What it was asked to do (`input`, `command`, `config`, `stream_mode`...).
    pub kwargs: Object,
    /// Double-texting strategy.
    pub multitask_strategy: String,
    /// ISO-8601 creation time.
    pub created_at: String,
    /// ISO-8601 update time.
    pub updated_at: String,
    /// Always null here (LangSmith).
    pub langsmith_session_name: Option<String>,
}

/// Where a checkpoint lives, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointConfig {
    /// The checkpoint id.
    pub checkpoint_id: String,
    /// The thread.
    pub thread_id: String,
    /// `""` at the root (langgraph dev leaves it out of the `checkpoint` of
    /// `GET /threads/{id}/state/{checkpoint_id}`).
    #[serde(default)]
    pub checkpoint_ns: String,
    /// Ancestors' checkpoint ids by namespace (subgraph checkpoints only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub checkpoint_map: Option<Object>,
}

/// A pending human-in-the-loop question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interrupt {
    /// 32 hex digits.
    pub id: String,
    /// The payload.
    pub value: Value,
}

/// A task of a thread state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadTask {
    /// Task id.
    pub id: String,
    /// Node name.
    pub name: String,
    /// Task path.
    pub path: Value,
    /// Error text, if it failed.
    pub error: Option<String>,
    /// Interrupts it raised.
    pub interrupts: Vec<Interrupt>,
    /// Subgraph checkpoint pointer.
    pub checkpoint: Option<CheckpointConfig>,
    /// Subgraph state (with `subgraphs=true`).
    pub state: Option<Box<ThreadState>>,
    /// Its writes, once finished.
    pub result: Option<Value>,
}

/// A thread's state at a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadState {
    /// State values.
    pub values: Value,
    /// Nodes to run next.
    pub next: Vec<String>,
    /// Planned tasks.
    pub tasks: Vec<ThreadTask>,
    /// Checkpoint metadata.
    pub metadata: Option<Object>,
    /// Checkpoint time.
    pub created_at: Option<String>,
    /// This checkpoint.
    pub checkpoint: Option<CheckpointConfig>,
    /// Its parent.
    pub parent_checkpoint: Option<CheckpointConfig>,
    /// Pending interrupts.
    pub interrupts: Vec<Interrupt>,
    /// Deprecated copy of `checkpoint.checkpoint_id`.
    pub checkpoint_id: Option<String>,
    /// Deprecated copy of `parent_checkpoint.checkpoint_id`.
    pub parent_checkpoint_id: Option<String>,
}

impl ThreadState {
    /// The state of a thread with no checkpoint.
    pub fn empty() -> ThreadState {
        ThreadState {
            values: Value::Object(Map::new()),
            next: vec![],
            tasks: vec![],
            metadata: None,
            created_at: None,
            checkpoint: None,
            parent_checkpoint: None,
            interrupts: vec![],
            checkpoint_id: None,
            parent_checkpoint_id: None,
        }
    }
}

/// The stream modes a run can publish (`stream_mode`).
pub const STREAM_MODES: [&str; 9] = [
    "values",
    "updates",
    "messages",
    "messages-tuple",
    "debug",
    "events",
    "custom",
    "tasks",
    "checkpoints",
];

/// One event of a run or thread stream (`text/event-stream`, `api-contract.md` §5): the SSE
/// `event` name (`metadata`, `values`, `updates`, `messages`, `custom`, `error`, `values|<ns>`,
/// ...), its `data` parsed as JSON, and the `id` line of that event when the server sent one
/// (resumable runs and thread streams only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamPart {
    /// The event name.
    pub event: String,
    /// The payload.
    pub data: Value,
    /// The event id (`<ms>-<seq>`), for `Last-Event-ID` on reconnection.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
}

/// One version of an assistant (`POST /assistants/{id}/versions`): an [`Assistant`] without
/// `updated_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantVersion {
    /// UUID.
    pub assistant_id: String,
    /// Version number, from 1.
    pub version: i64,
    /// The graph it runs.
    pub graph_id: String,
    /// `{tags?, recursion_limit?, configurable?}`.
    #[serde(default)]
    pub config: Object,
    /// Runtime context.
    #[serde(default)]
    pub context: Object,
    /// Metadata of that version.
    #[serde(default)]
    pub metadata: Object,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// ISO-8601 creation time of the version.
    pub created_at: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// A scheduled run (`/runs/crons`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cron {
    /// UUID.
    pub cron_id: String,
    /// The assistant it runs (resolved to a UUID).
    pub assistant_id: String,
    /// The thread it runs on; `null` for a stateless cron (a new thread per firing).
    pub thread_id: Option<String>,
    /// Owner (`""` without auth).
    #[serde(default)]
    pub user_id: Option<String>,
    /// No firing after this time.
    pub end_time: Option<String>,
    /// Five-field cron schedule.
    pub schedule: String,
    /// IANA time zone of the schedule.
    #[serde(default)]
    pub timezone: Option<String>,
    /// The run it creates (the create body minus top-level fields).
    pub payload: Object,
    /// Next firing (second precision).
    pub next_run_date: Option<String>,
    /// Metadata.
    #[serde(default)]
    pub metadata: Object,
    /// `delete` or `keep` (stateless crons), `null` for thread crons.
    #[serde(default)]
    pub on_run_completed: Option<String>,
    /// Whether it fires.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// ISO-8601 creation time.
    pub created_at: String,
    /// ISO-8601 update time.
    pub updated_at: String,
}

fn yes() -> bool {
    true
}

/// An item of the key-value store (`/store/items`); search results carry a `score`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Namespace path, e.g. `["users", "u1"]`.
    pub namespace: Vec<String>,
    /// Key within the namespace.
    pub key: String,
    /// The stored JSON object.
    pub value: Object,
    /// ISO-8601 creation time.
    pub created_at: String,
    /// ISO-8601 update time.
    pub updated_at: String,
    /// Relevance of a semantic search hit (`null` without an index); absent on plain gets.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub score: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_state_serialises_like_the_server() {
        let s = serde_json::to_string(&ThreadState::empty()).unwrap_or_default();
        assert_eq!(
            s,
            r#"{"values":{},"next":[],"tasks":[],"metadata":null,"created_at":null,"checkpoint":null,"parent_checkpoint":null,"interrupts":[],"checkpoint_id":null,"parent_checkpoint_id":null}"#
        );
    }

    #[test]
    fn statuses_round_trip() {
        for s in ["pending", "running", "success", "error", "timeout", "interrupted"] {
            assert_eq!(RunStatus::parse(s).map(RunStatus::as_str), Some(s));
        }
        for s in ["idle", "busy", "interrupted", "error"] {
            assert_eq!(ThreadStatus::parse(s).map(ThreadStatus::as_str), Some(s));
        }
        assert!(RunStatus::Pending.in_flight() && !RunStatus::Success.in_flight());
    }
}
