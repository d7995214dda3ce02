//! Request bodies and options. Every optional field is left out of the JSON when `None`, so
//! the server applies its own default. Each type has public fields, `Default` (or `new` with
//! the required fields) and a chainable setter per optional field:
//!
//! ```
//! use orrery_client::{RunCreate, StreamMode};
//! use serde_json::json;
//! let run = RunCreate::new("agent")
//!     .input(json!({"messages": [{"role": "user", "content": "hi"}]}))
//!     .stream_mode([StreamMode::Values, StreamMode::Updates]);
//! assert_eq!(serde_json::to_value(&run).unwrap()["stream_mode"], json!(["values", "updates"]));
//! ```

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// Generates `pub fn field(self, v) -> Self` setters for `Option` fields.
macro_rules! setters {
    ($ty:ident { $($field:ident : $t:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                #[must_use]
                pub fn $field(mut self, v: impl Into<$t>) -> Self {
                    self.$field = Some(v.into());
                    self
                }
            )*
        }
    };
}

/// What a stream publishes (`stream_mode`, `api-contract.md` §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamMode {
    /// Full state after each step (event `values`).
    Values,
    /// Each node's output (event `updates`).
    Updates,
    /// Legacy message streaming (`messages/partial`, `messages/complete`, ...).
    Messages,
    /// Token chunks as `[message, metadata]` (event name `messages`).
    MessagesTuple,
    /// Checkpoints and tasks (event `debug`).
    Debug,
    /// LangChain `astream_events` v2 (event `events`).
    Events,
    /// What nodes write with `get_stream_writer()` (event `custom`).
    Custom,
    /// Task starts and results (event `tasks`).
    Tasks,
    /// Checkpoints (event `checkpoints`).
    Checkpoints,
}

impl StreamMode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamMode::Values => "values",
            StreamMode::Updates => "updates",
            StreamMode::Messages => "messages",
            StreamMode::MessagesTuple => "messages-tuple",
            StreamMode::Debug => "debug",
            StreamMode::Events => "events",
            StreamMode::Custom => "custom",
            StreamMode::Tasks => "tasks",
            StreamMode::Checkpoints => "checkpoints",
        }
    }
}

/// What to do when a run is created on a thread that already has one in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MultitaskStrategy {
    /// 409 for the new run.
    Reject,
    /// The new run waits (the server's default).
    Enqueue,
    /// Cancel the old run, keeping its progress.
    Interrupt,
    /// Cancel and delete the old run.
    Rollback,
}

/// `if_exists` of assistant and thread creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IfExists {
    /// 409 (the default).
    Raise,
    /// Return the existing one.
    DoNothing,
}

/// `if_not_exists` of stateful runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IfNotExists {
    /// Create the thread.
    Create,
    /// 404 (the default).
    Reject,
}

/// `on_completion` of stateless runs, `on_run_completed` of stateless crons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnCompletion {
    /// Delete the temporary thread (the default).
    Delete,
    /// Keep it.
    Keep,
}

/// `on_disconnect` of stream and wait calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDisconnect {
    /// Cancel the run when the client goes away.
    Cancel,
    /// Let it finish (the default).
    Continue,
}

/// Checkpoint persistence of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Before each next step.
    Sync,
    /// While the next step runs (the default).
    Async,
    /// Only at the end.
    Exit,
}

/// How a run is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CancelAction {
    /// Stop it, keep its progress (the default).
    #[default]
    Interrupt,
    /// Stop it and delete it with its checkpoints.
    Rollback,
}

impl CancelAction {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelAction::Interrupt => "interrupt",
            CancelAction::Rollback => "rollback",
        }
    }
}

/// Sort direction of searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// Nodes for `interrupt_before` / `interrupt_after`: all of them (`"*"`) or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nodes {
    /// `"*"`.
    All,
    /// These nodes.
    List(Vec<String>),
}

impl Serialize for Nodes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Nodes::All => s.serialize_str("*"),
            Nodes::List(l) => l.serialize(s),
        }
    }
}

impl<const N: usize> From<[&str; N]> for Nodes {
    fn from(v: [&str; N]) -> Nodes {
        Nodes::List(v.iter().map(|s| s.to_string()).collect())
    }
}

impl From<Vec<String>> for Nodes {
    fn from(v: Vec<String>) -> Nodes {
        Nodes::List(v)
    }
}

/// A langgraph `Command`: resume an `interrupt()`, update the state, jump to nodes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Command {
    /// State update: an object, or a list of `[key, value]` pairs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update: Option<Value>,
    /// The value `interrupt()` returns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume: Option<Value>,
    /// A node name, a `Send` `{"node", "input"}`, or a list of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goto: Option<Value>,
}
setters!(Command { update: Value, resume: Value, goto: Value });

/// `POST /assistants`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssistantCreate {
    /// The graph (required).
    pub graph_id: String,
    /// Choose the UUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assistant_id: Option<String>,
    /// `{tags?, recursion_limit?, configurable?}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// Runtime context (exclusive with `config.configurable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// Metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// What to do if `assistant_id` exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub if_exists: Option<IfExists>,
    /// Display name (server default `Untitled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl AssistantCreate {
    /// An assistant of `graph_id`.
    pub fn new(graph_id: impl Into<String>) -> AssistantCreate {
        AssistantCreate {
            graph_id: graph_id.into(),
            assistant_id: None,
            config: None,
            context: None,
            metadata: None,
            if_exists: None,
            name: None,
            description: None,
        }
    }
}
setters!(AssistantCreate {
    assistant_id: String,
    config: Value,
    context: Value,
    metadata: Value,
    if_exists: IfExists,
    name: String,
    description: String,
});

/// `PATCH /assistants/{id}`: a new version. `metadata` is merged, the others replace.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AssistantPatch {
    /// New graph.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph_id: Option<String>,
    /// New config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// New context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// Metadata merged into the old.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}
setters!(AssistantPatch {
    graph_id: String,
    config: Value,
    context: Value,
    metadata: Value,
    name: String,
    description: String,
});

/// `POST /assistants/search` (and, with the filter fields only, `/assistants/count`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AssistantSearch {
    /// Metadata containment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Graph filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph_id: Option<String>,
    /// Case-insensitive name substring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Page size (server default 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Page start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// `assistant_id`, `created_at`, `updated_at`, `name` or `graph_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<String>,
    /// Sort direction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_order: Option<SortOrder>,
    /// Only these fields (use the `_raw` search then: the objects are partial).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub select: Option<Vec<String>>,
}
setters!(AssistantSearch {
    metadata: Value, graph_id: String, name: String, limit: u64, offset: u64, sort_by: String,
    sort_order: SortOrder, select: Vec<String>,
});

/// `POST /assistants/{id}/versions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VersionSearch {
    /// Metadata containment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Page size (server default 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Page start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}
setters!(VersionSearch { metadata: Value, limit: u64, offset: u64 });

/// `xray` of `GET /assistants/{id}/graph`: subgraph expansion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Xray {
    /// No expansion (the parameter is not sent).
    #[default]
    Off,
    /// Expand every subgraph.
    On,
    /// Expand this many levels (at least 1).
    Depth(u32),
}

/// `POST /threads`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ThreadCreate {
    /// Choose the UUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// Metadata (`graph_id` here lets state updates work before the first run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// What to do if `thread_id` exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub if_exists: Option<IfExists>,
    /// `{strategy: "delete"|"keep_latest", ttl: minutes}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Value>,
    /// Pre-populate: `[{updates: [{values, command?, as_node}]}]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supersteps: Option<Value>,
}
setters!(ThreadCreate {
    thread_id: String,
    metadata: Value,
    if_exists: IfExists,
    ttl: Value,
    supersteps: Value,
});

/// `PATCH /threads/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ThreadPatch {
    /// Merged into the thread's metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// New TTL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Value>,
}
setters!(ThreadPatch { metadata: Value, ttl: Value });

/// `POST /threads/search` (and, with the filter fields only, `/threads/count`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ThreadSearch {
    /// Only these ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<String>>,
    /// Metadata containment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Values containment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Value>,
    /// `idle`, `busy`, `interrupted` or `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<orrery_api::ThreadStatus>,
    /// Page size (server default 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Page start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// `thread_id`, `status`, `created_at`, `updated_at` or `state_updated_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<String>,
    /// Sort direction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_order: Option<SortOrder>,
    /// Only these fields (use the `_raw` search then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub select: Option<Vec<String>>,
    /// `{alias: "metadata.user"}`: adds an `extracted` object (use the `_raw` search).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extract: Option<Value>,
}
setters!(ThreadSearch {
    ids: Vec<String>, metadata: Value, values: Value, status: orrery_api::ThreadStatus,
    limit: u64, offset: u64, sort_by: String, sort_order: SortOrder, select: Vec<String>,
    extract: Value,
});

/// `POST /threads/{id}/state`: write a checkpoint as if `as_node` had produced `values`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StateUpdate {
    /// The update (object, list, or null).
    pub values: Value,
    /// The node that "wrote" it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_node: Option<String>,
    /// Fork from this checkpoint (`{checkpoint_id, ...}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Value>,
    /// Fork from this checkpoint id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_id: Option<String>,
}

impl StateUpdate {
    /// An update with these values.
    pub fn new(values: Value) -> StateUpdate {
        StateUpdate { values, ..StateUpdate::default() }
    }
}
setters!(StateUpdate { as_node: String, checkpoint: Value, checkpoint_id: String });

/// The answer to a state update: where the new checkpoint is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateUpdated {
    /// The new checkpoint.
    pub checkpoint: orrery_api::CheckpointConfig,
    /// Deprecated copy of `checkpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configurable: Option<Value>,
    /// Deprecated copy of `checkpoint.checkpoint_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_id: Option<String>,
}

/// `POST /threads/{id}/history`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HistorySearch {
    /// How many (server default **1**).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Older than this; see [`HistorySearch::before_checkpoint`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// Filter on checkpoint metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Subgraph selection, e.g. `{"checkpoint_ns": ""}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Value>,
}
setters!(HistorySearch { limit: u64, before: Value, metadata: Value, checkpoint: Value });

impl HistorySearch {
    /// Entries older than `checkpoint_id`, in the only `before` shape the server accepts
    /// (`{"configurable": {"checkpoint_id": ...}}`).
    #[must_use]
    pub fn before_checkpoint(self, checkpoint_id: &str) -> Self {
        self.before(serde_json::json!({"configurable": {"checkpoint_id": checkpoint_id}}))
    }
}

/// A run to create: `POST /threads/{id}/runs[/stream|/wait]`, `POST /runs[/stream|/wait]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunCreate {
    /// An assistant UUID or a graph name (required).
    pub assistant_id: String,
    /// Graph input; `null` continues from the current checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// Resume / update / goto (replaces `input`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    /// Merged over the assistant's config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// Runtime context (exclusive with `config.configurable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// Run metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Start from this checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_id: Option<String>,
    /// Start from this checkpoint (as returned by a state update).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Value>,
    /// What to publish (server default `["values"]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_mode: Option<Vec<StreamMode>>,
    /// Also publish subgraph events (`<mode>|<ns>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_subgraphs: Option<bool>,
    /// Keep events for replay with `Last-Event-ID` and send `id:` lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_resumable: Option<bool>,
    /// Static breakpoints before nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupt_before: Option<Nodes>,
    /// Static breakpoints after nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupt_after: Option<Nodes>,
    /// Double-texting strategy (server default `enqueue`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multitask_strategy: Option<MultitaskStrategy>,
    /// Stateful runs: create a missing thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub if_not_exists: Option<IfNotExists>,
    /// Stateless runs: keep the temporary thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_completion: Option<OnCompletion>,
    /// Stream and wait calls: cancel the run if the client goes away.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_disconnect: Option<OnDisconnect>,
    /// Delay the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_seconds: Option<f64>,
    /// URL POSTed when the run ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// LangSmith feedback keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback_keys: Option<Vec<String>>,
    /// Checkpoint persistence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durability: Option<Durability>,
}

impl RunCreate {
    /// A run of `assistant_id` (a UUID or a graph name).
    pub fn new(assistant_id: impl Into<String>) -> RunCreate {
        RunCreate {
            assistant_id: assistant_id.into(),
            input: None,
            command: None,
            config: None,
            context: None,
            metadata: None,
            checkpoint_id: None,
            checkpoint: None,
            stream_mode: None,
            stream_subgraphs: None,
            stream_resumable: None,
            interrupt_before: None,
            interrupt_after: None,
            multitask_strategy: None,
            if_not_exists: None,
            on_completion: None,
            on_disconnect: None,
            after_seconds: None,
            webhook: None,
            feedback_keys: None,
            durability: None,
        }
    }
}
setters!(RunCreate {
    input: Value, command: Command, config: Value, context: Value, metadata: Value,
    checkpoint_id: String, checkpoint: Value, stream_mode: Vec<StreamMode>,
    stream_subgraphs: bool, stream_resumable: bool, interrupt_before: Nodes,
    interrupt_after: Nodes, multitask_strategy: MultitaskStrategy, if_not_exists: IfNotExists,
    on_completion: OnCompletion, on_disconnect: OnDisconnect, after_seconds: f64,
    webhook: String, feedback_keys: Vec<String>, durability: Durability,
});

/// `GET /threads/{id}/runs` query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunList {
    /// Page size (server default 10).
    pub limit: Option<u64>,
    /// Page start.
    pub offset: Option<u64>,
    /// Only runs with this status.
    pub status: Option<orrery_api::RunStatus>,
}
setters!(RunList { limit: u64, offset: u64, status: orrery_api::RunStatus });

/// `POST /runs/cancel`: either a thread's runs by id, or every run with a status.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunsCancel {
    /// The thread of `run_ids`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// These runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_ids: Option<Vec<String>>,
    /// `pending`, `running` or `all` (every thread).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}
setters!(RunsCancel { thread_id: String, run_ids: Vec<String>, status: String });

/// Options of `GET /threads/{tid}/runs/{rid}/stream`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JoinStream {
    /// Only these modes (langgraph dev honours only the last one; see `api-contract.md` S6).
    pub stream_mode: Vec<StreamMode>,
    /// Cancel the run when this stream is dropped.
    pub cancel_on_disconnect: bool,
    /// Replay events after this id (`-` = all stored events; resumable runs only).
    pub last_event_id: Option<String>,
}

impl JoinStream {
    /// Resume after `id`.
    #[must_use]
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// Only these modes.
    #[must_use]
    pub fn stream_mode(mut self, modes: impl Into<Vec<StreamMode>>) -> Self {
        self.stream_mode = modes.into();
        self
    }
}

/// How a reconnecting stream retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// Consecutive failed attempts before giving up (a received event resets the count).
    pub max_retries: u32,
    /// Delay before the first retry; doubled each time, at most 5 s.
    pub initial_backoff: std::time::Duration,
}

impl Default for Reconnect {
    fn default() -> Reconnect {
        Reconnect { max_retries: 5, initial_backoff: std::time::Duration::from_millis(200) }
    }
}

/// Thread stream modes of `GET /threads/{id}/stream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadStreamMode {
    /// Every run event plus `run_done` markers (the default).
    RunModes,
    /// Only run starts and `run_done`.
    Lifecycle,
    /// State updates.
    StateUpdate,
}

impl ThreadStreamMode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadStreamMode::RunModes => "run_modes",
            ThreadStreamMode::Lifecycle => "lifecycle",
            ThreadStreamMode::StateUpdate => "state_update",
        }
    }
}

/// `POST /runs/crons` and `POST /threads/{id}/runs/crons`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CronCreate {
    /// An assistant UUID or a graph name (required).
    pub assistant_id: String,
    /// Five-field cron schedule (required).
    pub schedule: String,
    /// IANA time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Stop firing after this ISO-8601 time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Input of each run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// Metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Run config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// Run context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// Webhook of each run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// Static breakpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupt_before: Option<Nodes>,
    /// Static breakpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupt_after: Option<Nodes>,
    /// Stateless crons: keep each run's thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_run_completed: Option<OnCompletion>,
    /// Whether it fires (server default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Thread crons: double-texting strategy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multitask_strategy: Option<MultitaskStrategy>,
    /// Checkpoint persistence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durability: Option<Durability>,
}

impl CronCreate {
    /// A cron running `assistant_id` on `schedule`.
    pub fn new(assistant_id: impl Into<String>, schedule: impl Into<String>) -> CronCreate {
        CronCreate {
            assistant_id: assistant_id.into(),
            schedule: schedule.into(),
            timezone: None,
            end_time: None,
            input: None,
            metadata: None,
            config: None,
            context: None,
            webhook: None,
            interrupt_before: None,
            interrupt_after: None,
            on_run_completed: None,
            enabled: None,
            multitask_strategy: None,
            durability: None,
        }
    }
}
setters!(CronCreate {
    timezone: String,
    end_time: String,
    input: Value,
    metadata: Value,
    config: Value,
    context: Value,
    webhook: String,
    interrupt_before: Nodes,
    interrupt_after: Nodes,
    on_run_completed: OnCompletion,
    enabled: bool,
    multitask_strategy: MultitaskStrategy,
    durability: Durability,
});

/// `PATCH /runs/crons/{id}` (at least one field: an empty patch is 400).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CronPatch {
    /// New schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// New end time; `Some(Value::Null)` clears it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Value>,
    /// New input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// New metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// New config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// New context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// New webhook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// Enable or disable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// New time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// New `on_run_completed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_run_completed: Option<OnCompletion>,
}
setters!(CronPatch {
    schedule: String,
    end_time: Value,
    input: Value,
    metadata: Value,
    config: Value,
    context: Value,
    webhook: String,
    enabled: bool,
    timezone: String,
    on_run_completed: OnCompletion,
});

/// `POST /runs/crons/search` (and, with the filter fields only, `/runs/crons/count`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CronSearch {
    /// Assistant filter (UUID).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assistant_id: Option<String>,
    /// Thread filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// Enabled filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Metadata containment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Page size (server default 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Page start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Sort field (server default `created_at`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<String>,
    /// Sort direction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_order: Option<SortOrder>,
    /// Only these fields (use the `_raw` search then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub select: Option<Vec<String>>,
}
setters!(CronSearch {
    assistant_id: String, thread_id: String, enabled: bool, metadata: Value, limit: u64,
    offset: u64, sort_by: String, sort_order: SortOrder, select: Vec<String>,
});

/// `PUT /store/items`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PutItem {
    /// Namespace path; labels must be non-empty and contain no `.`.
    pub namespace: Vec<String>,
    /// Key.
    pub key: String,
    /// A JSON object.
    pub value: Value,
    /// `false`, or the paths to index for semantic search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<Value>,
    /// Time to live in minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<f64>,
}

impl PutItem {
    /// `value` (an object) under `namespace` / `key`.
    pub fn new<S: AsRef<str>>(namespace: &[S], key: impl Into<String>, value: Value) -> PutItem {
        PutItem {
            namespace: namespace.iter().map(|s| s.as_ref().to_string()).collect(),
            key: key.into(),
            value,
            index: None,
            ttl: None,
        }
    }
}
setters!(PutItem { index: Value, ttl: f64 });

/// `POST /store/items/search`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ItemSearch {
    /// Namespace prefix (`[]` = everything).
    pub namespace_prefix: Vec<String>,
    /// Exact match on value fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<Value>,
    /// Page size (server default 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Page start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Semantic query (ignored without an index).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Refresh the TTL of the items returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_ttl: Option<bool>,
}

impl ItemSearch {
    /// Items under `prefix`.
    pub fn new<S: AsRef<str>>(prefix: &[S]) -> ItemSearch {
        ItemSearch {
            namespace_prefix: prefix.iter().map(|s| s.as_ref().to_string()).collect(),
            ..ItemSearch::default()
        }
    }
}
setters!(ItemSearch { filter: Value, limit: u64, offset: u64, query: String, refresh_ttl: bool });

/// `POST /store/namespaces`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NamespaceSearch {
    /// Namespaces starting with this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<Vec<String>>,
    /// Namespaces ending with this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<Vec<String>>,
    /// Truncate namespaces to this depth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u64>,
    /// Page size (server default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Page start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}
setters!(NamespaceSearch {
    prefix: Vec<String>, suffix: Vec<String>, max_depth: u64, limit: u64, offset: u64,
});

/// One page of a search, with the pagination headers (`X-Pagination-Next` is the offset of
/// the next page; `X-Pagination-Total` is only a real total on the last page, S8).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// `X-Pagination-Total`.
    pub total: Option<u64>,
    /// `X-Pagination-Next`: there is a next page, starting here.
    pub next: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn none_fields_are_left_out() {
        let v = serde_json::to_value(RunCreate::new("echo")).unwrap_or_default();
        assert_eq!(v, json!({"assistant_id": "echo"}));
        let v = serde_json::to_value(
            RunCreate::new("agent")
                .command(Command::default().resume(json!({"approved": true})))
                .interrupt_before(Nodes::All)
                .interrupt_after(["a", "b"])
                .multitask_strategy(MultitaskStrategy::Reject)
                .stream_mode([StreamMode::MessagesTuple, StreamMode::Custom])
                .on_disconnect(OnDisconnect::Cancel)
                .durability(Durability::Exit),
        )
        .unwrap_or_default();
        assert_eq!(
            v,
            json!({"assistant_id": "agent", "command": {"resume": {"approved": true}},
                   "stream_mode": ["messages-tuple", "custom"], "interrupt_before": "*",
                   "interrupt_after": ["a", "b"], "multitask_strategy": "reject",
                   "on_disconnect": "cancel", "durability": "exit"})
        );
    }

    #[test]
    fn enums_use_wire_names() {
        assert_eq!(
            serde_json::to_value(IfExists::DoNothing).unwrap_or_default(),
            json!("do_nothing")
        );
        assert_eq!(
            serde_json::to_value(ThreadSearch::default().status(orrery_api::ThreadStatus::Busy))
                .unwrap_or_default(),
            json!({"status": "busy"})
        );
        assert_eq!(
            serde_json::to_value(HistorySearch::default().limit(3u64).before_checkpoint("c1"))
                .unwrap_or_default(),
            json!({"limit": 3, "before": {"configurable": {"checkpoint_id": "c1"}}})
        );
        for m in [StreamMode::Values, StreamMode::MessagesTuple, StreamMode::Checkpoints] {
            assert_eq!(serde_json::to_value(m).unwrap_or_default(), json!(m.as_str()));
        }
    }
}
