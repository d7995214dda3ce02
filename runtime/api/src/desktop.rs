//! What the desktop shell (`src-tauri`) and its UI (`ui`) exchange through Tauri commands.
//!
//! Architecture Invariant: no API key ever appears in these types. Keys go from a form into the
//! shell once ([`ConnectionInput::api_key`]) and from then on live in the OS keychain only; the
//! UI learns whether a connection has one ([`ConnectionView::has_key`]), never its value.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The id of the embedded local runtime's connection.
pub const LOCAL_CONNECTION: &str = "local";

/// How a connection's server is doing, as last checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    /// Not checked yet.
    #[default]
    Unknown,
    /// The local runtime is starting.
    Starting,
    /// `/ok` answered.
    Up,
    /// The last check failed; it is retried with backoff.
    Down,
}

/// The last health check of a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Health {
    /// Up, down, ...
    pub state: HealthState,
    /// What went wrong, in words a user can act on.
    pub error: Option<String>,
    /// Round trip of `/ok`, milliseconds.
    pub latency_ms: Option<u64>,
    /// Server version from `/info` (`version`, or `langgraph_api_version` when that is all there is).
    pub version: Option<String>,
    /// The whole `/info` body: capabilities and flags.
    pub info: Option<Value>,
    /// When it was checked (RFC 3339).
    pub checked_at: Option<String>,
    /// Failed checks in a row (the retry delay grows with it).
    pub failures: u32,
}

/// A connection as the UI sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionView {
    /// Stable id; [`LOCAL_CONNECTION`] for the embedded runtime.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Base URL, e.g. `https://my-deployment.example.com`.
    pub url: String,
    /// A CSS colour to tell connections apart.
    pub color: String,
    /// Whether this is the embedded runtime.
    pub local: bool,
    /// Whether an API key is stored in the keychain for it.
    pub has_key: bool,
    /// Last health check.
    pub health: Health,
}

/// What the connection form sends to create (no `id`) or edit a remote connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ConnectionInput {
    /// The connection to edit; a new one when absent.
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// `None` keeps the stored key, `Some("")` removes it, anything else replaces it.
    pub api_key: Option<String>,
    /// A CSS colour.
    pub color: String,
}

/// The state of the embedded runtime the app starts as a sidecar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SidecarState {
    /// Not started yet.
    #[default]
    Stopped,
    /// Started, `/ok` not answered yet.
    Starting,
    /// Serving.
    Running,
    /// Exited; it is restarted after a delay.
    Restarting,
    /// Cannot start (binary missing, ...): see the log.
    Failed,
}

/// The embedded runtime as the UI sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LocalRuntimeView {
    /// Starting, running, ...
    pub state: SidecarState,
    /// Where it serves, once known.
    pub url: Option<String>,
    /// Its SQLite data directory (in the OS app-data folder).
    pub data_dir: String,
    /// The project folder with a `langgraph.json` it serves, if one was chosen.
    pub project: Option<String>,
    /// How many times it was restarted after exiting.
    pub restarts: u32,
    /// The last lines of its log.
    pub log: Vec<String>,
}

/// The event name of the shell's last message on a run's channel, after every server event.
pub const STREAM_END: &str = "orrery/stream_end";

/// A run the UI asks the shell to start and stream (`POST /threads/{id}/runs/stream` with the
/// stream modes `values`, `updates`, `messages-tuple` and `debug`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunRequest {
    /// The assistant (UUID or graph name).
    pub assistant_id: String,
    /// Graph input; `None` (null) continues from the checkpoint.
    pub input: Option<Value>,
    /// Resume a pending `interrupt()` with this value (`command: {resume}`), instead of input.
    pub resume: Option<Value>,
    /// Run config (`{configurable: {...}, tags, recursion_limit}`).
    pub config: Option<Value>,
    /// Start from this checkpoint (re-run from there).
    pub checkpoint_id: Option<String>,
    /// Double-texting strategy when the thread is busy: `reject`, `enqueue`, `interrupt` or
    /// `rollback` (the server's default, `enqueue`, when `None`).
    pub multitask_strategy: Option<String>,
    /// Breakpoints: pause before these nodes (`["*"]`: before every node, step mode).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interrupt_before: Vec<String>,
    /// Breakpoints: pause after these nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interrupt_after: Vec<String>,
}

/// An assistant as the Studio's editor writes it (`POST /assistants` to create one,
/// `PATCH /assistants/{id}` to save a new version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AssistantDraft {
    /// The graph it runs.
    pub graph_id: String,
    /// Display name.
    pub name: String,
    /// Description (empty: none).
    pub description: String,
    /// `{configurable: {...}, tags?, recursion_limit?}`.
    pub config: Value,
    /// Runtime context (`None`: leave it as it is).
    pub context: Option<Value>,
    /// Metadata.
    pub metadata: Value,
}

/// A state edit at a checkpoint (`POST /threads/{id}/state`), which forks the thread there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StateEdit {
    /// The update, applied through the graph's reducers.
    pub values: Value,
    /// The checkpoint to fork from; the latest when `None`.
    pub checkpoint_id: Option<String>,
    /// The node the update is written as (needed when the checkpoint's writer is ambiguous).
    pub as_node: Option<String>,
}
