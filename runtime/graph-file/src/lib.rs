//! `orrery-graph-file`: graph projects.
//!
//! - [`project`]: `langgraph.json` read as the LangGraph CLI reads it (every documented key,
//!   unknown keys kept and ignored, `env` from an object or a `.env` file, graph paths
//!   classified: our graph files, `native:<name>`, and Python/TypeScript graphs recognised but
//!   not runnable yet).
//! - [`spec`] and [`compile`]: declarative graph files (YAML or JSON) — state channels with
//!   reducers, nodes of built-in kinds (`chat_model`, `tools`, `interrupt`, `set`), edges and
//!   conditional edges with built-in conditions, configurable fields — compiled into an
//!   [`orrery_engine::StateGraph`]. The JSON Schema of the format is generated from [`spec`].
//! - [`source`]: every error names the file, line, column and field, and what was expected.
//!
//! - [`providers`]: real chat models (OpenAI-compatible chat completions, Anthropic Messages),
//!   streamed token by token.
//!
//! Architecture Invariant: only model providers (and HTTP tools) talk to the network, and only
//! while a node runs; loading a project never does. Secrets from the project's env are only
//! ever handed to providers and tools, never written to state, never printed, and redacted
//! from provider error messages (see [`env::Secret`]).

pub mod compile;
pub mod env;
mod nodes;
pub mod project;
pub mod providers;
pub mod source;
pub mod spec;
pub mod template;
mod tool_kinds;
pub mod tools;

pub use compile::{AssistantPreset, LoadedGraph, compile_text, compile_text_at, load_graph_file};
pub use env::{Env, Secret};
pub use project::{Config, GraphSource, Project, ProjectGraph};
pub use source::{FileError, Pos, Syntax};
pub use spec::json_schema;

/// The bundled Jarvis example (`assets/examples/jarvis/jarvis.yaml`), compiled into the binary
/// so the runtime serves it from anywhere.
pub const JARVIS_YAML: &str = include_str!("../../../assets/examples/jarvis/jarvis.yaml");

/// How errors name the bundled Jarvis file.
pub const JARVIS_FILE: &str = "assets/examples/jarvis/jarvis.yaml";
