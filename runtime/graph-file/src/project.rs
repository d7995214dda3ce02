//! `langgraph.json`: a project's manifest, read as the LangGraph CLI reads it.
//!
//! Every key the CLI documents is parsed into [`Config`]; keys it does not know are kept in
//! [`Config::other`] and ignored (a newer CLI's manifest still loads). Graph paths are
//! classified: our graph files (`.yaml`, `.yml`, `.json`), built-in native graphs
//! (`native:<name>`), and Python / TypeScript graphs, which are recognised but not runnable
//! yet.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::env::{Env, Secret, parse_dotenv};
use crate::source::{Document, FieldPath, FileError, Pos, Syntax};

/// `auth`: a custom auth handler.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthConfig {
    /// `./auth.py:auth`.
    pub path: Option<String>,
    /// Skip auth for Studio requests.
    pub disable_studio_auth: Option<bool>,
    /// OpenAPI security schemes.
    pub openapi: Option<Value>,
    /// Response caching of the handler.
    pub cache: Option<Value>,
    /// Keys this runtime does not know.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// `store`: the long-term memory store.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StoreConfig {
    /// Semantic search index (`dims`, `embed`, `fields`).
    pub index: Option<Value>,
    /// TTL of items (`refresh_on_read`, `default_ttl`, `sweep_interval_minutes`).
    pub ttl: Option<Value>,
    /// Keys this runtime does not know.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// `checkpointer`: checkpoint retention and serialisation.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CheckpointerConfig {
    /// TTL of checkpoints (`strategy`, `sweep_interval_minutes`, `default_ttl`).
    pub ttl: Option<Value>,
    /// Serialiser settings.
    pub serde: Option<Value>,
    /// Keys this runtime does not know.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// `http`: the HTTP server's settings.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HttpConfig {
    /// A custom app (`./app.py:app`) mounted beside the API.
    pub app: Option<String>,
    /// CORS settings.
    pub cors: Option<Value>,
    /// Route groups turned off.
    pub disable_assistants: Option<bool>,
    /// Route groups turned off.
    pub disable_threads: Option<bool>,
    /// Route groups turned off.
    pub disable_runs: Option<bool>,
    /// Route groups turned off.
    pub disable_store: Option<bool>,
    /// Route groups turned off.
    pub disable_meta: Option<bool>,
    /// Route groups turned off.
    pub disable_mcp: Option<bool>,
    /// Route groups turned off.
    pub disable_a2a: Option<bool>,
    /// Route groups turned off.
    pub disable_ui: Option<bool>,
    /// Route groups turned off.
    pub disable_webhooks: Option<bool>,
    /// Headers copied into the run's configurable.
    pub configurable_headers: Option<Value>,
    /// Headers logged.
    pub logging_headers: Option<Value>,
    /// A prefix for every route.
    pub mount_prefix: Option<String>,
    /// Custom middleware order.
    pub middleware_order: Option<String>,
    /// Auth on custom routes.
    pub enable_custom_route_auth: Option<bool>,
    /// Keys this runtime does not know.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// `webhooks`: outgoing webhook policy.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WebhooksConfig {
    /// URL policy (`allowed_domains`, `require_https`, `disable_loopback`, ...).
    pub url: Option<Value>,
    /// Headers added to every webhook request.
    pub headers: Option<Value>,
    /// Prefix of env vars allowed in header templates.
    pub env_prefix: Option<String>,
    /// Keys this runtime does not know.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// `env`: a `.env` path, or the values themselves.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvSpec {
    /// The path of a `.env` file, relative to `langgraph.json`.
    File(String),
    /// Values by name (numbers and booleans are written as text).
    Values(IndexMap<String, String>),
}

impl<'de> Deserialize<'de> for EnvSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(d)? {
            Value::String(s) => Ok(EnvSpec::File(s)),
            Value::Object(m) => {
                let mut out = IndexMap::new();
                for (k, v) in m {
                    let s = match v {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        other => {
                            return Err(D::Error::custom(format!(
                                "env.{k}: expected a string, number or boolean, got {other}"
                            )));
                        }
                    };
                    out.insert(k, s);
                }
                Ok(EnvSpec::Values(out))
            }
            _ => Err(D::Error::custom(
                "expected the path of a .env file or an object of NAME: value",
            )),
        }
    }
}

/// One entry of `graphs`: a path, or `{path, description}`.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphEntry {
    /// `./graphs/jarvis.yaml`, `native:echo`, `./src/agent.py:graph`, ...
    pub path: String,
    /// Shown in assistant lists.
    pub description: Option<String>,
}

impl<'de> Deserialize<'de> for GraphEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(d)? {
            Value::String(path) => Ok(GraphEntry { path, description: None }),
            Value::Object(m) => {
                let path = m.get("path").and_then(Value::as_str).ok_or_else(|| {
                    D::Error::custom("a graph given as an object needs a `path` string")
                })?;
                let description = m.get("description").and_then(Value::as_str).map(str::to_string);
                Ok(GraphEntry { path: path.to_string(), description })
            }
            _ => Err(D::Error::custom(
                "expected a graph path (\"./graphs/agent.yaml\") or {\"path\": ..., \"description\": ...}",
            )),
        }
    }
}

/// The content of a `langgraph.json`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    /// Graph id → where its graph is.
    #[serde(default)]
    pub graphs: IndexMap<String, GraphEntry>,
    /// Environment for the graphs.
    pub env: Option<EnvSpec>,
    /// Packages to install (Python / JS); recorded, not installed.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// Python version of Python graphs.
    pub python_version: Option<String>,
    /// Node.js version of JS graphs.
    pub node_version: Option<String>,
    /// Custom auth.
    pub auth: Option<AuthConfig>,
    /// Long-term store settings.
    pub store: Option<StoreConfig>,
    /// Checkpointer settings.
    pub checkpointer: Option<CheckpointerConfig>,
    /// HTTP server settings.
    pub http: Option<HttpConfig>,
    /// Webhook policy.
    pub webhooks: Option<WebhooksConfig>,
    /// Extra Dockerfile lines (for `langgraph build`).
    #[serde(default)]
    pub dockerfile_lines: Vec<String>,
    /// `debian`, `wolfi`, ...
    pub image_distro: Option<String>,
    /// A pip config file for private indexes.
    pub pip_config_file: Option<String>,
    /// `uv`, `pip` or `auto`.
    pub pip_installer: Option<String>,
    /// Base image for `langgraph build`.
    pub base_image: Option<String>,
    /// Server version pin.
    pub api_version: Option<String>,
    /// Keep pip/setuptools in the image.
    pub keep_pkg_tools: Option<Value>,
    /// Generative UI components by graph.
    pub ui: Option<IndexMap<String, String>>,
    /// Generative UI settings.
    pub ui_config: Option<Value>,
    /// Keys this runtime does not know: kept, ignored.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// What a graph path points to.
#[derive(Debug, Clone, PartialEq)]
pub enum GraphSource {
    /// A graph file of ours.
    File(PathBuf),
    /// A graph built into the runtime (`native:echo`).
    Native(String),
    /// A Python or TypeScript/JavaScript graph: recognised, not runnable yet.
    NotRunnable {
        /// `Python` or `TypeScript`.
        language: &'static str,
    },
}

/// A graph of a project.
#[derive(Debug, Clone)]
pub struct ProjectGraph {
    /// The graph id.
    pub id: String,
    /// The path as written.
    pub path: String,
    /// Its description.
    pub description: Option<String>,
    /// What it points to.
    pub source: GraphSource,
    /// Where `langgraph.json` names it.
    pub pos: Pos,
}

/// A loaded project.
#[derive(Debug, Clone)]
pub struct Project {
    /// The `langgraph.json` path.
    pub config_path: PathBuf,
    /// Its folder (graph paths are relative to it).
    pub dir: PathBuf,
    /// The parsed manifest.
    pub config: Config,
    /// The graphs, in the manifest's order.
    pub graphs: Vec<ProjectGraph>,
    /// The graphs' environment.
    pub env: Env,
    /// Things worth telling at start-up (unknown keys, a missing .env, unrunnable graphs).
    pub warnings: Vec<String>,
}

/// Classifies a graph path; `None` when it is none of the known forms.
pub fn classify(path: &str, dir: &Path) -> Option<GraphSource> {
    if let Some(name) = path.strip_prefix("native:") {
        return Some(GraphSource::Native(name.trim().to_string()));
    }
    // `./src/agent.py:graph` — the file part is before the last `:`.
    let file = match path.rsplit_once(':') {
        Some((f, attr)) if !attr.contains('/') && !attr.contains('\\') => f,
        _ => path,
    };
    let lower = file.to_ascii_lowercase();
    if lower.ends_with(".py") || lower.ends_with(".ipynb") {
        return Some(GraphSource::NotRunnable { language: "Python" });
    }
    if [".ts", ".mts", ".cts", ".tsx", ".js", ".mjs", ".cjs", ".jsx"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        return Some(GraphSource::NotRunnable { language: "TypeScript" });
    }
    let plain = path.to_ascii_lowercase();
    if [".yaml", ".yml", ".json"].iter().any(|e| plain.ends_with(e)) {
        // `dir/./graphs/a.yaml` reads better as `dir/graphs/a.yaml` in messages.
        let full: PathBuf = dir
            .join(path)
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect();
        return Some(GraphSource::File(full));
    }
    None
}

/// Known top-level keys (the CLI's, and ours).
const KNOWN_KEYS: [&str; 21] = [
    "graphs",
    "env",
    "dependencies",
    "python_version",
    "node_version",
    "auth",
    "store",
    "checkpointer",
    "http",
    "webhooks",
    "dockerfile_lines",
    "image_distro",
    "pip_config_file",
    "pip_installer",
    "base_image",
    "api_version",
    "keep_pkg_tools",
    "ui",
    "ui_config",
    "$schema",
    "_INTERNAL_docker_tag",
];

impl Project {
    /// Reads `langgraph.json` at `path`, its `.env` if it names one, and classifies its graphs.
    ///
    /// # Errors
    /// An unreadable or malformed file, a bad field (with its line and column), a graph path
    /// of no known form, or a malformed `.env`.
    pub fn load(path: &Path) -> Result<Project, FileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| FileError {
            file: shown.clone(),
            pos: Pos { line: 1, column: 1 },
            field: String::new(),
            message: format!("cannot read the file: {e}"),
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Project::parse(&shown, &text, &dir)
    }

    /// Parses manifest text; `file` is how errors name it, `dir` where relative paths start.
    ///
    /// # Errors
    /// As [`Project::load`].
    pub fn parse(file: &str, text: &str, dir: &Path) -> Result<Project, FileError> {
        let doc = Document::parse(file, text, Syntax::Json)?;
        if !doc.value.is_object() {
            return Err(
                doc.error(&FieldPath::root(), "expected a JSON object ({\"graphs\": {...}})")
            );
        }
        let config: Config = doc.deserialize_at(&FieldPath::root())?;
        let mut warnings = Vec::new();
        let unknown: Vec<&str> =
            config.other.keys().map(String::as_str).filter(|k| !KNOWN_KEYS.contains(k)).collect();
        if !unknown.is_empty() {
            warnings.push(format!(
                "{file}: ignoring keys this runtime does not know: {}",
                unknown.join(", ")
            ));
        }
        if config.graphs.is_empty() {
            return Err(doc.error(
                &FieldPath::root().key("graphs"),
                "a project needs at least one graph: \"graphs\": {\"agent\": \"./graphs/agent.yaml\"}",
            ));
        }
        let mut graphs = Vec::new();
        for (id, entry) in &config.graphs {
            let at = FieldPath::root().key("graphs").key(id.clone());
            let source = classify(&entry.path, dir).ok_or_else(|| {
                doc.error(
                    &at,
                    format!(
                        "`{}` is not a graph path this runtime knows: expected a graph file (./graphs/{id}.yaml or .json), native:<name>, or a Python (./src/agent.py:graph) or TypeScript (./src/agent.ts:graph) path",
                        entry.path
                    ),
                )
            })?;
            if let GraphSource::NotRunnable { language } = &source {
                warnings.push(format!(
                    "graph `{id}` ({}) is a {language} graph: not runnable yet, so it is not served; the other graphs are",
                    entry.path
                ));
            }
            graphs.push(ProjectGraph {
                id: id.clone(),
                path: entry.path.clone(),
                description: entry.description.clone(),
                source,
                pos: doc.pos(&at),
            });
        }
        let mut env = Env::process();
        match &config.env {
            None => {}
            Some(EnvSpec::Values(values)) => {
                for (k, v) in values {
                    env.insert(k.clone(), Secret::new(v.clone()));
                }
            }
            Some(EnvSpec::File(p)) => {
                let env_path = dir.join(p);
                match std::fs::read_to_string(&env_path) {
                    Ok(t) => {
                        let pairs = parse_dotenv(&t).map_err(|(line, message)| FileError {
                            file: env_path.display().to_string(),
                            pos: Pos { line, column: 1 },
                            field: String::new(),
                            message,
                        })?;
                        for (k, v) in pairs {
                            env.insert(k, Secret::new(v));
                        }
                    }
                    Err(e) => warnings.push(format!(
                        "{file}: env file {} cannot be read ({e}); continuing without it",
                        env_path.display()
                    )),
                }
            }
        }
        Ok(Project {
            config_path: PathBuf::from(file),
            dir: dir.to_path_buf(),
            config,
            graphs,
            env,
            warnings,
        })
    }

    /// The graphs that are recognised but not runnable yet, with their language.
    pub fn not_runnable(&self) -> impl Iterator<Item = (&str, &'static str)> {
        self.graphs.iter().filter_map(|g| match g.source {
            GraphSource::NotRunnable { language } => Some((g.id.as_str(), language)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn classifies_paths() {
        let d = Path::new("/p");
        assert_eq!(
            classify("./src/agent.py:graph", d),
            Some(GraphSource::NotRunnable { language: "Python" })
        );
        assert_eq!(
            classify("./src/agent.ts:graph", d),
            Some(GraphSource::NotRunnable { language: "TypeScript" })
        );
        assert_eq!(
            classify("./a.js:g", d),
            Some(GraphSource::NotRunnable { language: "TypeScript" })
        );
        assert_eq!(
            classify("./graphs/j.yaml", d),
            Some(GraphSource::File(PathBuf::from("/p/graphs/j.yaml")))
        );
        assert_eq!(classify("native:echo", d), Some(GraphSource::Native("echo".into())));
        assert_eq!(classify("./what.txt", d), None);
    }

    #[test]
    fn type_errors_name_the_field_and_line() {
        let text = "{\n  \"graphs\": {\"a\": \"./a.yaml\"},\n  \"python_version\": 3.11\n}";
        let e = Project::parse("langgraph.json", text, Path::new(".")).unwrap_err();
        assert_eq!((e.pos.line, e.field.as_str()), (3, "python_version"), "{e}");
        assert!(e.message.contains("expected a string"), "{e}");
    }
}
