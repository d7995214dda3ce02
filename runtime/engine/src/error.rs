//! Errors of graph building and of runs.

use crate::types::{Command, Interrupt};

/// Result with the engine's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

const TROUBLESHOOTING: &str =
    "For troubleshooting, visit: https://docs.langchain.com/oss/python/langgraph/errors/";

/// Why a graph could not be built or a run failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The graph definition is invalid (unknown node, no entry point, reserved name...).
    #[error("{0}")]
    InvalidGraph(String),
    /// A write could not be applied (two values for a last-value channel, bad update...).
    #[error("{message}")]
    InvalidUpdate {
        /// What went wrong.
        message: String,
    },
    /// A run was started with no input on a thread that has nothing to resume.
    #[error("Received no input for {0}")]
    EmptyInput(String),
    /// The recursion limit stopped the run.
    #[error(
        "Recursion limit of {0} reached without hitting a stop condition. You can increase the limit by setting the `recursion_limit` config key.\n{TROUBLESHOOTING}GRAPH_RECURSION_LIMIT"
    )]
    Recursion(usize),
    /// A node failed (after its retries).
    #[error("{0}")]
    Node(NodeError),
    /// The caller asked for something inconsistent (ambiguous resume, unknown node...).
    #[error("{0}")]
    Usage(String),
    /// No checkpointer was configured where one is needed.
    #[error("No checkpointer set")]
    NoCheckpointer,
    /// The checkpointer failed.
    #[error("checkpointer: {0}")]
    Checkpointer(String),
    /// A subgraph raised a command for its parent (handled by the parent's task).
    #[error("parent command")]
    ParentCommand(Box<Command>),
    /// A run stopped at an interrupt (returned by the internal loop only).
    #[error("graph interrupted")]
    Interrupted(Vec<Interrupt>),
}

impl Error {
    pub(crate) fn concurrent_update(key: &str) -> Error {
        Error::InvalidUpdate {
            message: format!(
                "At key '{key}': Can receive only one value per step. Use an Annotated key to handle multiple values.\n{TROUBLESHOOTING}INVALID_CONCURRENT_GRAPH_UPDATE"
            ),
        }
    }

    pub(crate) fn invalid_update(message: impl Into<String>) -> Error {
        Error::InvalidUpdate { message: message.into() }
    }

    /// The Python exception class name LangGraph uses for this error.
    pub fn kind(&self) -> &str {
        match self {
            Error::InvalidGraph(_) => "ValueError",
            Error::InvalidUpdate { .. } => "InvalidUpdateError",
            Error::EmptyInput(_) => "EmptyInputError",
            Error::Recursion(_) => "GraphRecursionError",
            Error::Node(e) => e.kind(),
            Error::Usage(_) => "RuntimeError",
            Error::NoCheckpointer => "ValueError",
            Error::Checkpointer(_) => "CheckpointerError",
            Error::ParentCommand(_) => "ParentCommand",
            Error::Interrupted(_) => "GraphInterrupt",
        }
    }
}

/// How a node's body stops early.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NodeError {
    /// `interrupt()` with no answer yet: the run pauses for a human.
    #[error("interrupt")]
    Interrupt(Vec<Interrupt>),
    /// The node failed. `kind` is the error class (e.g. `ValueError`, `ConnectionError`),
    /// which decides whether a retry policy retries it.
    #[error("{message}")]
    Failed {
        /// Error class name.
        kind: String,
        /// Human-readable message.
        message: String,
    },
    /// The node panicked; the run fails, the process does not.
    #[error("node panicked: {0}")]
    Panicked(String),
    /// A `Command` for the parent graph (from inside a subgraph).
    #[error("parent command")]
    ParentCommand(Box<Command>),
    /// An engine error surfaced inside a node (e.g. a subgraph's failure).
    #[error("{0}")]
    Engine(Box<Error>),
}

impl NodeError {
    /// A failure of class `kind` with `message`.
    pub fn failed(kind: impl Into<String>, message: impl Into<String>) -> Self {
        NodeError::Failed { kind: kind.into(), message: message.into() }
    }

    /// The error class name.
    pub fn kind(&self) -> &str {
        match self {
            NodeError::Interrupt(_) => "GraphInterrupt",
            NodeError::Failed { kind, .. } => kind,
            NodeError::Panicked(_) => "PanicError",
            NodeError::ParentCommand(_) => "ParentCommand",
            NodeError::Engine(e) => e.kind(),
        }
    }

    /// The Python-style `repr` LangGraph stores in an `__error__` write, e.g. `KeyError('boom')`.
    pub fn repr(&self) -> String {
        let msg = self.to_string();
        format!("{}({})", self.kind(), py_str_repr(&msg))
    }

    /// The error as LangGraph's task streams show it: `{"error": class, "message": str(e)}`
    /// (Python's `str` of a `KeyError` quotes its key).
    pub fn to_json(&self) -> serde_json::Value {
        let msg = self.to_string();
        let msg = if self.kind() == "KeyError" { py_str_repr(&msg) } else { msg };
        serde_json::json!({"error": self.kind(), "message": msg})
    }
}

impl From<Error> for NodeError {
    fn from(e: Error) -> Self {
        match e {
            Error::ParentCommand(c) => NodeError::ParentCommand(c),
            Error::Interrupted(i) => NodeError::Interrupt(i),
            Error::Node(n) => n,
            other => NodeError::Engine(Box::new(other)),
        }
    }
}

/// Python's `repr()` of a string: single quotes unless the text contains one.
pub(crate) fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c)
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}
