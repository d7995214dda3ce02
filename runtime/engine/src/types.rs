//! The values a graph passes around: `Send`, `Command`, `Interrupt`, and reserved names.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The virtual entry node.
pub const START: &str = "__start__";
/// The virtual exit node.
pub const END: &str = "__end__";

pub(crate) const TASKS: &str = "__pregel_tasks";
pub(crate) const INPUT: &str = "__input__";
pub(crate) const INTERRUPT: &str = "__interrupt__";
pub(crate) const RESUME: &str = "__resume__";
pub(crate) const ERROR: &str = "__error__";
pub(crate) const NO_WRITES: &str = "__no_writes__";
pub(crate) const RETURN: &str = "__return__";
pub(crate) const PUSH: &str = "__pregel_push";
pub(crate) const PULL: &str = "__pregel_pull";
pub(crate) const COPY: &str = "__copy__";
pub(crate) const SCHEDULED: &str = "__scheduled__";
pub(crate) const ERROR_SOURCE: &str = "__error_source_node__";
/// The id of the pseudo task that carries graph input written by a `Command` or a resume.
pub const NULL_TASK_ID: &str = "00000000-0000-0000-0000-000000000000";

/// Channels whose writes are bookkeeping, never state.
pub(crate) const RESERVED_WRITES: [&str; 8] =
    [NO_WRITES, PUSH, RESUME, INTERRUPT, RETURN, ERROR, ERROR_SOURCE, SCHEDULED];

/// Node names a user may not take.
pub(crate) const RESERVED_NODE_NAMES: [&str; 3] = [START, END, TASKS];

pub(crate) fn branch_channel(node: &str) -> String {
    format!("branch:to:{node}")
}

/// A message to run `node` in the next super-step with `arg` as its input (map-reduce fan-out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Send {
    /// The node to run.
    pub node: String,
    /// Its input, in place of the graph state.
    pub arg: Value,
}

impl Send {
    /// A `Send` to `node` with `arg`.
    pub fn new(node: impl Into<String>, arg: Value) -> Self {
        Send { node: node.into(), arg }
    }

    pub(crate) fn to_value(&self) -> Value {
        serde_json::json!({"__send__": {"node": self.node, "arg": self.arg}})
    }

    pub(crate) fn from_value(v: &Value) -> Option<Send> {
        let s = v.get("__send__")?;
        Some(Send { node: s.get("node")?.as_str()?.to_string(), arg: s.get("arg")?.clone() })
    }
}

/// Where a `Command` sends the graph next.
#[derive(Debug, Clone, PartialEq)]
pub enum Goto {
    /// Run this node in the next step.
    Node(String),
    /// Run a node with its own input.
    Send(Send),
}

impl From<&str> for Goto {
    fn from(s: &str) -> Self {
        Goto::Node(s.to_string())
    }
}

impl From<Send> for Goto {
    fn from(s: Send) -> Self {
        Goto::Send(s)
    }
}

/// Which graph a `Command` addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommandGraph {
    /// The graph the node belongs to.
    #[default]
    Current,
    /// The closest parent graph (a node of a subgraph steering its parent).
    Parent,
}

/// Updates state and steers the graph: returned by a node, or given as graph input to resume.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Command {
    /// State update, applied through the reducers like a node's return value.
    pub update: Option<Value>,
    /// Nodes (or `Send`s) to run next.
    pub goto: Vec<Goto>,
    /// The answer to pending `interrupt()`s: a value, or a map from interrupt id to value.
    pub resume: Option<Value>,
    /// Which graph the command addresses.
    pub graph: CommandGraph,
}

impl Command {
    /// A command that only resumes.
    pub fn resume(value: Value) -> Self {
        Command { resume: Some(value), ..Default::default() }
    }
    /// A command that only moves to `goto`.
    pub fn goto(goto: impl Into<Goto>) -> Self {
        Command { goto: vec![goto.into()], ..Default::default() }
    }
    /// Sets the update.
    pub fn with_update(mut self, update: Value) -> Self {
        self.update = Some(update);
        self
    }
    /// Adds a destination.
    pub fn then(mut self, goto: impl Into<Goto>) -> Self {
        self.goto.push(goto.into());
        self
    }
    /// Addresses the parent graph.
    pub fn to_parent(mut self) -> Self {
        self.graph = CommandGraph::Parent;
        self
    }
}

/// A pending human-in-the-loop question raised by `interrupt()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interrupt {
    /// The payload shown to the human.
    pub value: Value,
    /// 32 hex digits, derived from the task's namespace and the slot index.
    pub id: String,
}

impl Interrupt {
    pub(crate) fn to_value(&self) -> Value {
        serde_json::json!({"value": self.value, "id": self.id})
    }
    pub(crate) fn from_value(v: &Value) -> Option<Interrupt> {
        Some(Interrupt { value: v.get("value")?.clone(), id: v.get("id")?.as_str()?.to_string() })
    }
}

/// What a node returns.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeOutput {
    /// A state update: a JSON object (keys that are not state keys are ignored) or null.
    Update(Value),
    /// A `Command`.
    Command(Command),
    /// Several of the above, applied in order.
    Many(Vec<NodeOutput>),
}

impl NodeOutput {
    /// No update.
    pub fn none() -> Self {
        NodeOutput::Update(Value::Null)
    }
}

impl From<Value> for NodeOutput {
    fn from(v: Value) -> Self {
        NodeOutput::Update(v)
    }
}

impl From<Command> for NodeOutput {
    fn from(c: Command) -> Self {
        NodeOutput::Command(c)
    }
}

impl From<Map<String, Value>> for NodeOutput {
    fn from(m: Map<String, Value>) -> Self {
        NodeOutput::Update(Value::Object(m))
    }
}

/// What a run starts with.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// New input: a JSON object written through `__start__`.
    Values(Value),
    /// Continue from the addressed checkpoint (resume after an interrupt, replay, or retry).
    Resume,
    /// Resume/steer with a command.
    Command(Command),
}

impl From<Value> for Input {
    fn from(v: Value) -> Self {
        if v.is_null() { Input::Resume } else { Input::Values(v) }
    }
}

impl From<Command> for Input {
    fn from(c: Command) -> Self {
        Input::Command(c)
    }
}
